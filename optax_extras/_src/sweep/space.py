"""What a lane's parameters are: a 2-D point, a vector, or any pytree.

`Starts` holds the checked start points of a sweep: the structure the user
gave, and each leaf flattened to ``(num_starts, *lane_shape)``. It also says
how the compiled program sees one lane's parameters:

- starts of shape ``(..., d)``: a vector of ``d`` numbers. For 2 <= d <= 16,
  when the optimizer cannot tell (`split_coordinates`), the program holds
  the vector as ``d`` scalars instead, so that every coordinate of a block
  of lanes is one contiguous array (the fast path of the 2-D surfaces);
  the loss still gets the vector ``[x, y, ...]``, a `Landscape`
  its elementwise ``fn(x, y)``;
- a pytree whose leaves share one leading start axis (a model's parameters
  initialised for several seeds with ``jax.vmap``): that pytree, one start
  at a time.
"""

import dataclasses
import hashlib
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass(frozen=True, eq=False)
class Starts:
  """Start points, checked: see `from_user`.

  Attributes:
    treedef: the structure of one start (a leaf for array starts).
    paths: each leaf's path (`jax.tree_util.keystr`; "" for array starts).
    leaves: each leaf as ``(num_starts, *lane_shape)``, all of one float dtype.
    start_shape: the leading (start) axes of the user's starts.
    split: array starts held as ``d`` scalars (see `split_coordinates`).
  """

  treedef: Any
  paths: tuple[str, ...]
  leaves: tuple[np.ndarray, ...]
  start_shape: tuple[int, ...]
  split: bool = False

  @classmethod
  def from_array(cls, array: np.ndarray) -> "Starts":
    """Starts ``(..., d)`` (already checked)."""
    flat = array.reshape(-1, array.shape[-1])
    return cls(jax.tree.structure(0), ("",), (flat,), array.shape[:-1])

  @property
  def dtype(self) -> np.dtype:
    return self.leaves[0].dtype

  @property
  def num_starts(self) -> int:
    return math.prod(self.start_shape)

  @property
  def lane_shapes(self) -> tuple[tuple[int, ...], ...]:
    return tuple(leaf.shape[1:] for leaf in self.leaves)

  @property
  def lane_size(self) -> int:
    """Numbers in one lane's parameters."""
    return sum(math.prod(shape) for shape in self.lane_shapes)

  @property
  def dimension(self) -> int | None:
    """``d`` of array starts ``(..., d)``; None for pytree starts."""
    return self.lane_shapes[0][0] if self.paths == ("",) else None

  def sha256(self) -> str:
    digest = hashlib.sha256(repr((self.treedef, self.paths)).encode())
    for leaf in self.leaves:
      digest.update(repr((leaf.shape, leaf.dtype.str)).encode())
      digest.update(np.ascontiguousarray(leaf).tobytes())
    return digest.hexdigest()

  # --- How the program sees them. ---------------------------------------------

  def inputs(self) -> tuple[np.ndarray, ...]:
    """The program's start arrays, each with a leading start axis."""
    if self.split:
      return tuple(np.ascontiguousarray(c) for c in self.leaves[0].T)
    return self.leaves

  def input_specs(self) -> tuple[jax.ShapeDtypeStruct, ...]:
    """One lane's start inputs, as shapes (for lowering and eval_shape)."""
    return tuple(
      jax.ShapeDtypeStruct(a.shape[1:], a.dtype) for a in self.inputs()
    )

  def lane_params(self, inputs: tuple[jax.Array, ...]) -> Any:
    """A lane's parameters as its optimizer sees them."""
    if self.split:
      return tuple(inputs)
    return jax.tree.unflatten(self.treedef, inputs)

  def user_params(self, params: Any) -> Any:
    """A lane's parameters as `loss_fn` and the results hold them."""
    return jnp.stack(params) if self.split else params

  def user_leaves(self, params: Any) -> list[jax.Array]:
    """The leaves of `user_params`, in `paths` order."""
    return jax.tree.leaves(self.user_params(params))

  def unflatten(self, leaves: list[Any]) -> Any:
    return jax.tree.unflatten(self.treedef, leaves)


_MAX_SPLIT = 16  # Coordinates held as scalars at most (one array each).
_PROBE_SCALES = (1.0, 1e-2, 1e2)  # The probe's gradients, one step each.


def split_coordinates(
  starts: Starts,
  make_optimizer: Callable[..., optax.GradientTransformation],
  config: dict[str, Any],
) -> Starts:
  """`starts` held as ``d`` scalars when the optimizer cannot tell them from
  one vector ``(d,)``, else as they are.

  Optimizers that act per leaf (lamb, lars, fromage, novograd, adafactor,
  sm3, ``clip_by_block_rms``...) would change their rule if the vector were
  split, so the program must hold what the user gave. The probe runs
  ``make_optimizer(**config)`` eagerly for three steps (gradients of scales
  1, 1e-2 and 1e2, parameters of scales 0.1 to 10, look-ahead ``grad_fn``
  included) on both, and splits only if every coordinate's total update
  agrees to 1e-3 of the largest; an optimizer that fails on scalars is not
  split. A few milliseconds.
  """
  d = starts.dimension
  if d is None or not 2 <= d <= _MAX_SPLIT:
    return starts
  rng = np.random.default_rng(0)
  start = rng.normal(size=d) * np.geomspace(0.1, 10.0, d)
  grads = [rng.normal(size=d) * scale for scale in _PROBE_SCALES]

  def moved(split: bool) -> np.ndarray:
    def held(vector):
      vector = jnp.asarray(vector, starts.dtype)
      return tuple(vector) if split else vector

    optimizer = optax.with_extra_args_support(make_optimizer(**config))
    params = held(start)
    state = optimizer.init(params)
    for grad in grads:
      updates, state = optimizer.update(
        held(grad),
        state,
        params,
        grad_fn=lambda p: jax.tree.map(lambda leaf: 0.5 * leaf, p),
      )
      params = optax.apply_updates(params, updates)
    return np.hstack(jax.tree.leaves(params)).astype(np.float64) - start

  try:
    vector, split = moved(False), moved(True)
  except Exception:  # E.g. sm3 on 0-d leaves: keep the vector.
    return starts
  tolerance = 1e-3 * np.max(np.abs(vector), initial=0.0)
  if np.all(np.abs(vector - split) <= tolerance):
    return dataclasses.replace(starts, split=True)
  return starts
