"""1-D gradient signals, and the updates a transform makes in response.

Feeding a synthetic gradient sequence straight into an update rule, with no
loss function, shows how the rule reacts to spikes, square waves, noise and
saturation. `seed_signals` makes six such signals (`SIGNAL_NAMES`) with a
fixed random seed, `interpolate` reads a signal between its samples, and
`response` feeds a signal through any optax transform.

  >>> import optax
  >>> from optax_extras import signals
  >>> spikes = signals.seed_signals()["spikes"]
  >>> updates = signals.response(optax.trace(decay=0.5), spikes)
  >>> [round(float(u), 3) for u in updates[:3]]
  [1.0, 0.5, 0.25]
"""

from optax_extras._src.signals import (
  SIGNAL_NAMES,
  interpolate,
  response,
  seed_signals,
)

__all__ = ("SIGNAL_NAMES", "interpolate", "response", "seed_signals")
