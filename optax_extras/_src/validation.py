"""Checks of hyperparameters, and of the trees a transform is given.

Hyperparameters stay traceable: a value that is a JAX tracer (under `jit`,
`vmap`, or `optax.inject_hyperparams` inside a jitted update) is not checked,
because its value is unknown. Concrete values (Python numbers, NumPy and
concrete JAX arrays) are checked when the transform is built, so a bad value
fails early with a message naming the parameter, not deep inside a trace.
Schedules (callables) are checked by the caller, not here. What needs the
parameters (their dtypes, the shapes that array hyperparameters must fit) is
checked when `init` and `update` see them (`with_param_checks`).

A hyperparameter that chooses the form of a rule (a boolean such as
`nesterov`) is static: it must be concrete, and a traced one is refused
(`check_static_flag`), since no single traced program holds both forms. A
numeric hyperparameter at which a rule changes form (momentum 0: no buffer)
is computed per element instead (`jnp.where`), so that a traced value gives
what the same concrete value gives; the sweep engine builds the optimizer
with each grid value concretely before tracing it, so the checks here see
every value once.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


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


def any_element(value: Any, predicate: Callable[[np.ndarray], Any]) -> bool:
  """Whether `predicate` holds for an element of a concrete `value`.

  False for a traced value (it is checked where it is concrete) and for a
  schedule.
  """
  if callable(value):
    return False
  array = _concrete(value)
  return array is not None and bool(np.any(predicate(array)))


def check_static_flag(owner: str, name: str, value: Any) -> bool:
  """`value` as a Python bool; TypeError unless it is one concrete scalar.

  A flag chooses the rule's form (which state it keeps, which formula it
  runs), so it cannot be traced: it cannot be a sweep's grid axis, a
  vmapped or jitted argument, or a hyperparameter injected by
  `optax.inject_hyperparams` (name it in `static_args` there).
  """
  if isinstance(value, jax.core.Tracer):
    raise TypeError(
      f"{owner}: `{name}` is static (it chooses the form of the rule), so "
      "it cannot be a traced value: not a sweep's grid axis, nor a vmapped "
      "or jitted argument (under optax.inject_hyperparams, name it in "
      f"static_args). Sweep each value separately, e.g. with "
      f"functools.partial(..., {name}=True); got {value!r}."
    )
  kind = np.asarray(value).dtype.kind if not isinstance(value, str) else "U"
  if kind not in "biu" or np.ndim(value) != 0:
    raise TypeError(
      f"{owner}: `{name}` must be a single bool, got {value!r}; it is "
      "static, so sweep each value separately."
    )
  return bool(value)


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
  """A non-empty sequence of finite numbers >= 0, returned as a tuple.

  Static: each number chooses a gradient evaluation (0: none), so a traced
  one is refused with a TypeError.
  """
  if isinstance(value, Sequence) and any(
    isinstance(c, jax.core.Tracer) for c in value
  ):
    raise TypeError(
      f"{owner}: `{name}` is static (each value chooses a gradient "
      "evaluation), so it cannot hold traced values: not a sweep's grid "
      "axis, nor a vmapped or jitted argument. Sweep each choice "
      f"separately; got {value!r}."
    )
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


def check_params(owner: str, params: Any) -> None:
  """Raises TypeError unless every parameter leaf has a floating dtype.

  Integer or boolean parameters would get updates rounded to zero.
  """
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    dtype = jnp.result_type(leaf)
    if not jnp.issubdtype(dtype, jnp.inexact):
      raise TypeError(
        f"{owner}: `params` must have floating-point leaves, but "
        f"params{jax.tree_util.keystr(path)} has dtype {dtype}; its updates "
        "would round to zero. Cast it to a float dtype, or mask it out with "
        "optax.masked."
      )


def check_shapes_against(owner: str, tree: Any, **hyperparameters: Any) -> None:
  """Raises ValueError if an array hyperparameter would broadcast a leaf.

  A hyperparameter may be a scalar, or an array whose shape broadcasts to
  every leaf of `tree` without changing it. Schedules are not checked.
  """
  for name, value in hyperparameters.items():
    if callable(value):
      continue
    shape = jnp.shape(value)
    if not shape:
      continue
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
      leaf_shape = jnp.shape(leaf)
      try:
        broadcast = jnp.broadcast_shapes(shape, leaf_shape)
      except ValueError:
        broadcast = None
      if broadcast != leaf_shape:
        raise ValueError(
          f"{owner}: `{name}` has shape {shape}, which does not broadcast "
          f"to the shape {leaf_shape} of the parameter at "
          f"{jax.tree_util.keystr(path) or 'the root'} without changing it. "
          "Give one value per transform, and vmap over several."
        )


def check_like(owner: str, what: str, tree: Any, like: Any) -> None:
  """Raises ValueError unless `tree` has the structure, shapes, dtypes of `like`."""
  if jax.tree.structure(tree) != jax.tree.structure(like):
    raise ValueError(
      f"{owner}: {what} must return a tree of the parameters' tree "
      f"structure, {jax.tree.structure(like)}; it returned "
      f"{jax.tree.structure(tree)}."
    )
  for (path, leaf), expected in zip(
    jax.tree_util.tree_leaves_with_path(tree), jax.tree.leaves(like)
  ):
    got = (jnp.shape(leaf), jnp.result_type(leaf))
    want = (jnp.shape(expected), jnp.result_type(expected))
    if got != want:
      raise ValueError(
        f"{owner}: {what} must return leaves with the shapes and dtypes of "
        f"the parameters (as jax.grad does); at "
        f"{jax.tree_util.keystr(path) or 'the root'} it returned shape "
        f"{got[0]} and dtype {got[1]}, where the parameter has shape "
        f"{want[0]} and dtype {want[1]}."
      )


def with_param_checks(
  owner: str, transform: optax.GradientTransformation, **hyperparameters: Any
) -> optax.GradientTransformationExtraArgs:
  """`transform`, whose `init` and `update` first check the trees they get.

  `init` refuses non-float parameters (`check_params`); both refuse array
  `hyperparameters` that would broadcast the parameters or the updates
  (`check_shapes_against`). The checks read shapes and dtypes only, so they
  cost nothing at run time and work on traced values.
  """
  transform = optax.with_extra_args_support(transform)

  def init_fn(params: optax.Params) -> optax.OptState:
    check_params(owner, params)
    check_shapes_against(owner, params, **hyperparameters)
    return transform.init(params)

  def update_fn(updates, state, params=None, **extra_args):
    check_shapes_against(owner, updates, **hyperparameters)
    return transform.update(updates, state, params, **extra_args)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
