"""Checks of `sweep`'s arguments, before anything is compiled."""

import dataclasses
import hashlib
import inspect
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax

from optax_extras._src.landscapes import Landscape


@dataclasses.dataclass(frozen=True, eq=False)
class Starts:
  """Checked start points: the structure of one start (a leaf for array
  starts ``(..., d)``), each leaf's path ("" for array starts), each leaf as
  ``(num_starts, *lane_shape)`` in one float dtype, and the start axes."""

  treedef: Any
  paths: tuple[str, ...]
  leaves: tuple[np.ndarray, ...]
  start_shape: tuple[int, ...]

  @property
  def dtype(self) -> np.dtype:
    return self.leaves[0].dtype

  @property
  def num_starts(self) -> int:
    return math.prod(self.start_shape)

  @property
  def lane_size(self) -> int:
    """Numbers in one lane's parameters."""
    return sum(math.prod(leaf.shape[1:]) for leaf in self.leaves)

  def one(self) -> Any:
    """One lane's parameters, as shapes."""
    return jax.tree.unflatten(
      self.treedef,
      [jax.ShapeDtypeStruct(a.shape[1:], a.dtype) for a in self.leaves],
    )

  def unflatten(self, leaves: list[Any]) -> Any:
    return jax.tree.unflatten(self.treedef, leaves)

  def sha256(self) -> str:
    digest = hashlib.sha256(repr((self.treedef, self.paths)).encode())
    for leaf in self.leaves:
      digest.update(repr((leaf.shape, leaf.dtype.str)).encode())
      digest.update(np.ascontiguousarray(leaf).tobytes())
    return digest.hexdigest()


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
    if values.dtype.kind == "c":
      raise TypeError(
        f"{where} holds complex numbers ({values.dtype}); hyperparameters "
        "must be real: give ints or floats."
      )
    if values.dtype.kind not in "iuf":
      raise TypeError(
        f"{where} must hold numbers (ints, or float16, float32, float64), got "
        f"dtype {values.dtype}."
      )
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


def check_starts(starts: Any) -> Starts:
  """Array starts ``(..., d)`` (NumPy, JAX, nested lists of numbers), or a
  pytree whose leaves share one leading start axis; integers become floats;
  one float dtype for all leaves."""
  if _is_array(starts):
    array = np.asarray(starts)
    _check_dtype("`starts`", array.dtype)
    if array.ndim == 0 or array.shape[-1] == 0 or array.size == 0:
      raise ValueError(
        "sweep: `starts` must have shape (..., d) with at least one point, "
        f"got {array.shape}."
      )
    array = _as_float(array)
    return Starts(
      jax.tree.structure(0),
      ("",),
      (array.reshape(-1, array.shape[-1]),),
      array.shape[:-1],
    )
  flat, treedef = jax.tree_util.tree_flatten_with_path(starts)
  if not flat:
    raise ValueError(f"sweep: `starts` has no leaves: {starts!r}.")
  paths, leaves = [], []
  for path, leaf in flat:
    name = jax.tree_util.keystr(path)
    array = np.asarray(leaf)
    _check_dtype(f"`starts` leaf {name}", array.dtype)
    if array.ndim == 0 or array.shape[0] == 0:
      raise ValueError(
        f"sweep: `starts` leaf {name} must have a leading start axis, got "
        f"shape {array.shape}."
      )
    paths.append(name)
    leaves.append(_as_float(array))
  sizes = {len(leaf) for leaf in leaves}
  if len(sizes) > 1:
    found = ", ".join(f"{p}: {len(a)}" for p, a in zip(paths, leaves))
    raise ValueError(
      "sweep: the leaves of `starts` must share one leading start axis, got "
      f"{found}."
    )
  dtypes = {leaf.dtype for leaf in leaves}
  if len(dtypes) > 1:
    raise TypeError(
      "sweep: the leaves of `starts` must have one dtype, got "
      f"{sorted(d.name for d in dtypes)}."
    )
  return Starts(treedef, tuple(paths), tuple(leaves), (len(leaves[0]),))


SUPPORTED = (
  "float16, float32, float64 (with jax_enable_x64; else float32), or "
  "integers and bools, computed in the default float"
)


def _check_dtype(where: str, dtype: np.dtype) -> None:
  """Real numbers of a NumPy dtype: bfloat16 and float8 (kind "V", from
  ml_dtypes) and complex numbers are refused with the list of dtypes."""
  if dtype.kind not in "biuf":
    raise TypeError(
      f"sweep: {where} has dtype {dtype}, which sweeps do not support; "
      f"supported: {SUPPORTED}. Cast it, e.g. np.asarray(starts, np.float32)."
    )


def check_checkpoint_dir(directory: Any) -> str | None:
  """None, or a path (str or os.PathLike) as a str."""
  if directory is None:
    return None
  if isinstance(directory, bytes) or not isinstance(
    directory, (str, os.PathLike)
  ):
    raise TypeError(
      "sweep: `checkpoint_dir` must be a folder path (a str or "
      f"os.PathLike), got {directory!r} ({type(directory).__name__})."
    )
  directory = os.fspath(directory)
  if not isinstance(directory, str) or not directory:
    raise ValueError(
      f"sweep: `checkpoint_dir` must name a folder, got {directory!r}."
    )
  return directory


def check_updates(optimizer: Any, starts: Starts) -> None:
  """The updates of one step are real floats, as the parameters are: a
  complex hyperparameter (a complex learning rate in a closure, say) makes
  complex updates, which JAX would cast back to real with only a warning.
  Traced (`jax.eval_shape`); a failure here is left to the program's trace,
  which names it."""
  params = starts.one()
  try:
    updates = jax.eval_shape(
      lambda p: optimizer.update(p, optimizer.init(p), p, grad_fn=lambda q: q)[
        0
      ],
      params,
    )
  except Exception:  # Reported by the program's trace, with its context.
    return
  for leaf in jax.tree.leaves(updates):
    if getattr(leaf, "dtype", None) is not None and leaf.dtype.kind == "c":
      raise TypeError(
        f"sweep: the optimizer's updates are complex ({leaf.dtype}) for "
        f"parameters of {starts.dtype.name}: a complex hyperparameter (a "
        "complex learning rate?); hyperparameters must be real."
      )


def _is_array(starts: Any) -> bool:
  """Read as one array: arrays, numbers, and plain (nested) lists or tuples
  of numbers; anything else is a pytree."""
  if isinstance(starts, (np.ndarray, jax.Array, int, float, np.number)):
    return True
  if type(starts) not in (list, tuple):
    return False
  try:
    return np.asarray(starts).dtype.kind in "biuf"
  except ValueError:  # Ragged: a tuple of leaves of other shapes.
    return False


def _as_float(array: np.ndarray) -> np.ndarray:
  kind = array.dtype if array.dtype.kind == "f" else float
  return array.astype(jax.dtypes.canonicalize_dtype(kind))


def check_key(key: Any) -> jax.Array | None:
  """A single typed key (``jax.random.key``) or raw uint32 key data
  (``jax.random.PRNGKey``), as a JAX array."""
  if key is None:
    return None
  dtype = getattr(key, "dtype", None)
  if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
    if key.shape != ():
      raise ValueError(
        f"sweep: `key` must be a single key, got shape {key.shape}."
      )
    return key
  data = np.asarray(key)
  if data.dtype != np.uint32 or data.shape != (2,):
    raise TypeError(
      "sweep: `key` must be jax.random.key(seed) or jax.random.PRNGKey(seed), "
      f"got {type(key).__name__} of dtype {data.dtype} and shape {data.shape}."
    )
  return jax.numpy.asarray(data)


def describe_key(key: jax.Array | None) -> Any:
  """The key as JSON: its implementation and data."""
  if key is None:
    return None
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    return [str(jax.random.key_impl(key)), jax.random.key_data(key).tolist()]
  return ["raw", np.asarray(key).tolist()]


def check_loss(loss_fn: Any, starts: Starts, key: jax.Array | None) -> None:
  """What can be checked without tracing: `loss_fn` is callable, takes a key
  exactly when `key` is given, and a Landscape gets 2-D starts."""
  if not callable(loss_fn):
    raise TypeError(
      f"sweep: `loss_fn` must be a Landscape or a callable, got {loss_fn!r}."
    )
  if not isinstance(loss_fn, Landscape):
    _check_arity(loss_fn, keyed=key is not None)
    return
  if key is not None:
    raise TypeError(
      f"sweep: `key` was given, but the Landscape {loss_fn.name!r} takes "
      "no key; drop `key`, or give loss(params, key)."
    )
  if starts.paths != ("",) or starts.leaves[0].shape[1:] != (2,):
    raise ValueError(
      f"sweep: the Landscape {loss_fn.name!r} is 2-D, so `starts` must "
      f"have shape (..., 2); got one start of {describe_starts(starts)}."
    )


def check_loss_output(
  loss_fn: Any, starts: Starts, key: jax.Array | None
) -> None:
  """`loss_fn` accepts one start's parameters and returns a float scalar
  (traced: run when the program fails or returns other shapes)."""
  args = (starts.one(),) if key is None else (starts.one(), key)
  try:
    out = jax.eval_shape(loss_fn, *args)
  except Exception as error:  # The user's function refused the structure.
    raise ValueError(
      f"sweep: `loss_fn` failed on one start's parameters "
      f"({describe_starts(starts)}): {type(error).__name__}: {error}"
    ) from error
  if (
    not isinstance(out, jax.ShapeDtypeStruct)
    or out.shape != ()
    or out.dtype.kind != "f"
  ):
    raise ValueError(
      f"sweep: `loss_fn` must return a float scalar for one start, got {out}."
    )


def check_metrics(metrics_fn: Any, starts: Starts) -> None:
  """`metrics_fn(params)` returns a dict of numeric scalars (traced: run
  when the program fails or returns other shapes)."""
  try:
    out = jax.eval_shape(metrics_fn, starts.one())
  except Exception as error:
    raise ValueError(
      f"sweep: `metrics_fn` failed on one start's parameters "
      f"({describe_starts(starts)}): {type(error).__name__}: {error}"
    ) from error
  if not isinstance(out, Mapping) or not out:
    raise TypeError(
      "sweep: `metrics_fn` must return a non-empty dict name -> scalar, got "
      f"{out!r}."
    )
  for name, value in out.items():
    if (
      not isinstance(name, str)
      or not name.isidentifier()
      or not isinstance(value, jax.ShapeDtypeStruct)
      or value.shape != ()
      or value.dtype.kind not in "biuf"
    ):
      raise ValueError(
        "sweep: `metrics_fn` must return name -> numeric scalar with "
        f"keyword names, got {name!r}: {value}."
      )


def check_memory(num_bytes: int, what: str) -> None:
  """Refuses results larger than half of this machine's memory, naming
  what to change."""
  try:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (ValueError, OSError, AttributeError):  # Not known here.
    return
  if num_bytes > total // 2:
    raise MemoryError(
      f"sweep: the results would take {num_bytes / 2**30:.1f} GiB ({what}), "
      f"more than half of this machine's {total / 2**30:.1f} GiB; record "
      "less (a larger `record_every`, `record_params=False`, fewer metrics "
      "in `metrics_fn`) or sweep fewer lanes."
    )


def _check_arity(loss_fn: Callable[..., Any], *, keyed: bool) -> None:
  try:
    signature = inspect.signature(loss_fn)
  except (TypeError, ValueError):  # No signature (a builtin): trust it.
    return
  takes = lambda *args: _binds(signature, args)
  if keyed and not takes(0, 0):
    raise TypeError(
      f"sweep: `key` was given, so `loss_fn` is called as loss(params, key), "
      f"but it takes {signature}; drop `key` or add a key argument."
    )
  if not keyed and not takes(0):
    hint = " (a key? then give `key`)" if takes(0, 0) else ""
    raise TypeError(
      f"sweep: `loss_fn` is called as loss(params), but it takes "
      f"{signature}{hint}."
    )


def _binds(signature: inspect.Signature, args: tuple[Any, ...]) -> bool:
  try:
    signature.bind(*args)
    return True
  except TypeError:
    return False


def describe_starts(starts: Starts) -> str:
  leaves = ", ".join(
    f"{path or 'array'} {leaf.shape[1:]}"
    for path, leaf in zip(starts.paths, starts.leaves)
  )
  return f"{leaves} of {starts.dtype.name}"


def check_optimizer(
  make_optimizer: Callable[..., Any], grid: Mapping[str, np.ndarray]
) -> optax.GradientTransformation:
  """Builds the optimizer with every value of every axis (the others at
  their first value): with the whole axis as one array, which this
  library's transforms check elementwise, or, if that fails, once per
  distinct value, to tell a refused value from a `make_optimizer` that
  takes only scalars. Each axis is checked alone, not each combination.
  Returns the optimizer of the first values."""
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
  return optimizer
