"""What a lane's parameters are: a 2-D point, a vector, or any pytree.

`Starts` holds the checked start points of a sweep: the structure the user
gave, and each leaf flattened to ``(num_starts, *lane_shape)``. It also says
how the compiled program sees one lane's parameters:

- starts of shape ``(..., 2)``: a pair of scalars ``(x, y)``, so that every
  coordinate of a block of lanes is one contiguous array (the fast path of
  the 2-D surfaces); the loss gets ``[x, y]``, or a `Landscape` its
  elementwise ``fn(x, y)``;
- starts of shape ``(..., d)``: a vector of ``d`` numbers;
- a pytree whose leaves share one leading start axis (a model's parameters
  initialised for several seeds with ``jax.vmap``): that pytree, one start
  at a time.
"""

import dataclasses
import hashlib
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Starts:
  """Start points, checked: see `from_user`.

  Attributes:
    treedef: the structure of one start (a leaf for array starts).
    paths: each leaf's path (`jax.tree_util.keystr`; "" for array starts).
    leaves: each leaf as ``(num_starts, *lane_shape)``, all of one float dtype.
    start_shape: the leading (start) axes of the user's starts.
  """

  treedef: Any
  paths: tuple[str, ...]
  leaves: tuple[np.ndarray, ...]
  start_shape: tuple[int, ...]

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
  def xy(self) -> bool:
    """The 2-D fast path: array starts of shape (..., 2)."""
    return self.paths == ("",) and self.lane_shapes == ((2,),)

  def sha256(self) -> str:
    digest = hashlib.sha256(repr((self.treedef, self.paths)).encode())
    for leaf in self.leaves:
      digest.update(repr((leaf.shape, leaf.dtype.str)).encode())
      digest.update(np.ascontiguousarray(leaf).tobytes())
    return digest.hexdigest()

  # --- How the program sees them. ---------------------------------------------

  def inputs(self) -> tuple[np.ndarray, ...]:
    """The program's start arrays, each with a leading start axis."""
    if self.xy:
      return (self.leaves[0][:, 0], self.leaves[0][:, 1])
    return self.leaves

  def input_specs(self) -> tuple[jax.ShapeDtypeStruct, ...]:
    """One lane's start inputs, as shapes (for lowering and eval_shape)."""
    return tuple(
      jax.ShapeDtypeStruct(a.shape[1:], a.dtype) for a in self.inputs()
    )

  def lane_params(self, inputs: tuple[jax.Array, ...]) -> Any:
    """A lane's parameters as its optimizer sees them."""
    if self.xy:
      return tuple(inputs)
    return jax.tree.unflatten(self.treedef, inputs)

  def user_params(self, params: Any) -> Any:
    """A lane's parameters as `loss_fn` and the results hold them."""
    return jnp.stack(params) if self.xy else params

  def user_leaves(self, params: Any) -> list[jax.Array]:
    """The leaves of `user_params`, in `paths` order."""
    return jax.tree.leaves(self.user_params(params))

  def unflatten(self, leaves: list[Any]) -> Any:
    return jax.tree.unflatten(self.treedef, leaves)
