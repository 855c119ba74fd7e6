"""Checks of `sweep`'s arguments, before anything is compiled."""

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax


def check_int(name: str, value: Any, *, low: int) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"sweep: `{name}` must be an int, got {value!r}.")
  if value < low:
    raise ValueError(f"sweep: `{name}` must be >= {low}, got {value}.")


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


def check_grid(grid: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
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
    if values.dtype.kind not in "biuf":
      raise TypeError(
        f"sweep: grid[{name!r}] must hold numbers, got dtype {values.dtype}."
      )
    if values.ndim != 1 or values.size == 0:
      raise ValueError(
        f"sweep: grid[{name!r}] must be a non-empty 1-D array, got shape {values.shape}."
      )
    checked[name] = values
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
  if not callable(make_optimizer):
    raise TypeError(
      f"sweep: `make_optimizer` must be callable, got {make_optimizer!r}."
    )
  config = {name: values[0] for name, values in grid.items()}
  try:
    optimizer = make_optimizer(**config)
  except TypeError as error:
    raise TypeError(
      f"sweep: make_optimizer(**config) with the grid keys {list(grid)} failed: {error}"
    ) from error
  if not isinstance(optimizer, optax.GradientTransformation):
    raise TypeError(
      "sweep: `make_optimizer` must return an optax.GradientTransformation, "
      f"got {type(optimizer).__name__}."
    )
