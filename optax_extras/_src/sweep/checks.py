"""Checks of `sweep`'s arguments, before anything is compiled."""

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax


def check_int(name: str, value: Any, *, low: int) -> int:
  """An int (Python or NumPy) in [low, 2**31 - 1] (steps count in int32)."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(
    value, (int, np.integer)
  ):
    raise TypeError(f"sweep: `{name}` must be an int, got {value!r}.")
  if not low <= value < 2**31:
    raise ValueError(
      f"sweep: `{name}` must be >= {low} and < 2**31, got {value}."
    )
  return int(value)


def check_tol(tol: Any) -> float | None:
  if tol is None:
    return None
  if isinstance(tol, bool) or not isinstance(
    tol, (int, float, np.integer, np.floating)
  ):
    raise TypeError(f"sweep: `tol` must be a number or None, got {tol!r}.")
  if math.isnan(tol):
    raise ValueError("sweep: `tol` must not be NaN.")
  return float(tol)


def check_grid(
  grid: Mapping[str, Any] | None, dtype: np.dtype
) -> dict[str, np.ndarray]:
  """name -> 1-D array of numbers that the computation can hold: floats in
  `dtype` (the starts' dtype), finite, none rounded to 0 or to infinity;
  integers within JAX's integer dtype (int32 unless x64 is on)."""
  if grid is None:
    return {}
  if not isinstance(grid, Mapping):
    raise TypeError(
      f"sweep: `grid` must be a dict name -> 1-D array, got {type(grid).__name__}."
    )
  checked = {}
  for name, values in grid.items():
    if not isinstance(name, str) or not name.isidentifier():
      raise TypeError(
        f"sweep: `grid` keys must be keyword names, got {name!r}."
      )
    values = np.asarray(values)
    where = f"sweep: grid[{name!r}]"
    if values.dtype.kind == "b":
      raise TypeError(
        f"{where} holds booleans: a grid value reaches `make_optimizer` "
        "traced, so it cannot choose a Python branch; sweep each choice "
        "separately (e.g. functools.partial)."
      )
    if values.dtype.kind not in "iuf":
      raise TypeError(f"{where} must hold numbers, got dtype {values.dtype}.")
    if values.ndim != 1 or values.size == 0:
      raise ValueError(
        f"{where} must be a non-empty 1-D array, got shape {values.shape}."
      )
    if values.dtype.kind == "f":
      with np.errstate(over="ignore"):
        cast = values.astype(dtype)
      bad = (
        ~np.isfinite(values) | np.isinf(cast) | ((cast == 0) & (values != 0))
      )
      reason = (
        "must be finite, and nonzero values must stay finite and nonzero "
        f"in {dtype.name}, the dtype of `starts`"
      )
    else:
      kind = jax.dtypes.canonicalize_dtype(values.dtype)
      info = np.iinfo(kind)
      bad = (values < info.min) | (values > info.max)
      cast = values.astype(kind)
      reason = f"must fit in {kind.name}, JAX's integer dtype here"
    if bad.any():
      raise ValueError(
        f"{where} {reason}; got {values[bad][0]} at index "
        f"{np.flatnonzero(bad)[0]}."
      )
    checked[name] = cast
  return checked


def check_starts(starts: Any) -> np.ndarray:
  array = np.asarray(starts)
  if array.dtype.kind not in "biuf":
    raise TypeError(
      f"sweep: `starts` must be numbers of shape (..., 2), got dtype {array.dtype}."
    )
  if array.ndim == 0 or array.shape[-1] != 2 or array.size == 0:
    raise ValueError(
      f"sweep: `starts` must have shape (..., 2) with at least one point, got {array.shape}."
    )
  kind = array.dtype if array.dtype.kind == "f" else float
  return array.astype(jax.dtypes.canonicalize_dtype(kind))


def check_loss(
  loss_xy: Callable[[jax.Array, jax.Array], jax.Array], dtype: np.dtype
) -> None:
  point = jax.ShapeDtypeStruct((), dtype)
  out = jax.eval_shape(loss_xy, point, point)
  if (
    not isinstance(out, jax.ShapeDtypeStruct)
    or out.shape != ()
    or out.dtype.kind != "f"
  ):
    raise ValueError(
      f"sweep: `loss_fn` must return a float scalar for one start point, got {out}."
    )


def check_optimizer(
  make_optimizer: Callable[..., Any], grid: Mapping[str, np.ndarray]
) -> None:
  """Builds the optimizer with every value of every axis (the others at
  their first value): with the whole axis as one array, which this
  library's transforms check elementwise, or, if that fails, once per
  distinct value, to tell a refused value from a `make_optimizer` that
  takes only scalars. Each axis is checked alone, not each combination."""
  if not callable(make_optimizer):
    raise TypeError(
      f"sweep: `make_optimizer` must be callable, got {make_optimizer!r}."
    )
  first = {name: values[0] for name, values in grid.items()}
  try:
    optimizer = make_optimizer(**first)
  except TypeError as error:
    raise TypeError(
      f"sweep: make_optimizer(**config) with the grid keys {list(grid)} failed: {error}"
    ) from error
  except ValueError as error:  # Named below, value by value, if it can be.
    optimizer = error
  for name, values in grid.items():
    try:
      make_optimizer(**{**first, name: values})
      continue
    except Exception:  # A refused value, or no arrays accepted: see below.
      pass
    for value in np.unique(values):
      try:
        make_optimizer(**{**first, name: value})
      except Exception as error:
        raise ValueError(
          f"sweep: make_optimizer refused grid[{name!r}] = {value}: {error}"
        ) from error
  if isinstance(optimizer, ValueError):
    raise ValueError(
      f"sweep: make_optimizer refused the grid's first values: {optimizer}"
    ) from optimizer
  if not isinstance(optimizer, optax.GradientTransformation):
    raise TypeError(
      "sweep: `make_optimizer` must return an optax.GradientTransformation, "
      f"got {type(optimizer).__name__}."
    )
