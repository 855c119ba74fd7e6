"""1-D gradient signals: the seed's six, interpolation, and a transform's response."""

from optax_extras._src.signals import (
  SIGNAL_NAMES,
  interpolate,
  response,
  seed_signals,
)

__all__ = ("SIGNAL_NAMES", "interpolate", "response", "seed_signals")
