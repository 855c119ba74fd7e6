"""Construction-time checks of hyperparameters.

Hyperparameters stay traceable: a value that is a JAX tracer (under `jit`,
`vmap`, or `optax.inject_hyperparams` inside a jitted update) is not checked,
because its value is unknown. Concrete values (Python numbers, NumPy and
concrete JAX arrays) are checked when the transform is built, so a bad value
fails early with a message naming the parameter, not deep inside a trace.
Schedules (callables) are checked by the caller, not here.
"""

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np


def _concrete(value: Any) -> np.ndarray | None:
  """The value as a float64 NumPy array, or None if it is traced."""
  if isinstance(value, jax.core.Tracer):
    return None
  if isinstance(value, (str, bytes)):  # NumPy would parse "0.9" silently.
    raise TypeError(f"expected a number or an array of numbers, got {value!r}")
  try:
    return np.asarray(value, dtype=np.float64)
  except (TypeError, ValueError) as error:
    raise TypeError(
      f"expected a number or an array of numbers, got {value!r}"
    ) from error


def check_range(
  owner: str,
  name: str,
  value: Any,
  *,
  low: float = -np.inf,
  high: float = np.inf,
  low_inclusive: bool = True,
  high_inclusive: bool = True,
) -> None:
  """Raises ValueError unless every element of a concrete `value` is in range."""
  try:
    array = _concrete(value)
  except TypeError as error:
    raise TypeError(f"{owner}: `{name}` {error}") from None
  if array is None:
    return
  above = array >= low if low_inclusive else array > low
  below = array <= high if high_inclusive else array < high
  if not (np.all(np.isfinite(array)) and np.all(above) and np.all(below)):
    interval = (
      ("[" if low_inclusive else "(")
      + f"{low:g}, {high:g}"
      + ("]" if high_inclusive else ")")
    )
    raise ValueError(
      f"{owner}: `{name}` must be a finite number in {interval}, got {value!r}."
    )


def check_decay(owner: str, name: str, value: Any) -> None:
  """A decay rate of an exponential moving average lies in [0, 1)."""
  check_range(owner, name, value, low=0.0, high=1.0, high_inclusive=False)


def check_nonnegative(owner: str, name: str, value: Any) -> None:
  check_range(owner, name, value, low=0.0)


def check_positive(owner: str, name: str, value: Any) -> None:
  check_range(owner, name, value, low=0.0, low_inclusive=False)


def check_learning_rate(owner: str, value: Any) -> None:
  """A learning rate is a finite number or a schedule `count -> value`."""
  if not callable(value):
    check_range(owner, "learning_rate", value)


def check_fractions(
  owner: str, name: str, value: Sequence[float]
) -> tuple[float, ...]:
  """A non-empty sequence of finite numbers >= 0, returned as a tuple."""
  if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
    raise TypeError(
      f"{owner}: `{name}` must be a non-empty sequence of numbers >= 0, "
      f"such as (1.0,) or (0.25, 0.5, 0.75, 1.0); got {value!r}."
    )
  fractions = tuple(float(c) for c in value)
  if not fractions or not all(np.isfinite(c) and c >= 0 for c in fractions):
    raise ValueError(
      f"{owner}: `{name}` must be a non-empty sequence of finite numbers "
      f">= 0, got {value!r}."
    )
  return fractions


def check_calibration(
  owner: str, name: str, value: Any, choices: Sequence[str]
) -> None:
  """A string among `choices`, a callable, or a pair of callables."""
  if callable(value) or (
    isinstance(value, tuple) and len(value) == 2 and all(map(callable, value))
  ):
    return
  if not isinstance(value, str) or value not in choices:
    allowed = ", ".join(repr(c) for c in choices)
    extra = ", a callable or a pair of callables"
    raise ValueError(
      f"{owner}: `{name}` must be one of {allowed}{extra}; got {value!r}."
    )
