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
from jax.extend import core as jex_core


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
# Primitives whose every output element depends only on the inputs' element
# at the same index (or on scalars): a rule made of these alone treats each
# coordinate of a vector on its own.
_ELEMENTWISE = frozenset(
  """abs acos acosh add and asin asinh atan atan2 atanh cbrt ceil clamp
  convert_element_type copy copy_p cos cosh digamma div eq erf erf_inv erfc
  exp exp2 expm1 floor ge gt integer_pow is_finite le lgamma log log1p
  logistic lt max min mul ne neg nextafter not or pow reduce_precision rem
  round rsqrt select_n sign sin sinh sqrt square stop_gradient sub tan tanh
  xor""".split()
)
# Primitives that call a sub-program on the same elements: checked inside.
_CALLS = frozenset(
  "pjit jit closed_call core_call custom_jvp_call custom_vjp_call "
  "custom_vjp_call_jaxpr remat checkpoint cond".split()
)


def _inner(eqn) -> list[jex_core.Jaxpr]:
  """The sub-programs an equation calls (a jit, a custom rule, branches)."""
  return [
    getattr(value, "jaxpr", value)
    for param in eqn.params.values()
    for value in (param if isinstance(param, (tuple, list)) else (param,))
    if isinstance(value, (jex_core.Jaxpr, jex_core.ClosedJaxpr))
  ]


def _elementwise(jaxpr: jex_core.Jaxpr) -> bool:
  """Whether every equation touching a vector (an array of more than one
  number) is elementwise, sub-programs included."""
  size = lambda v: getattr(v.aval, "size", 1)
  for eqn in jaxpr.eqns:
    if all(size(v) <= 1 for v in (*eqn.invars, *eqn.outvars)):
      continue
    name = eqn.primitive.name
    if name in _ELEMENTWISE:
      continue
    if name == "broadcast_in_dim" and all(
      size(v) <= 1 or v.aval.shape == eqn.outvars[0].aval.shape
      for v in eqn.invars
    ):
      continue
    if name in _CALLS and _inner(eqn) and all(map(_elementwise, _inner(eqn))):
      continue
    return False
  return True


def _primitives(jaxpr: jex_core.Jaxpr) -> list[str]:
  """The primitives a program runs, in order, sub-programs included; not
  broadcasts, which a vector needs where a scalar does not."""
  names = []
  for eqn in jaxpr.eqns:
    if eqn.primitive.name != "broadcast_in_dim":
      names.append(eqn.primitive.name)
    for inner in _inner(eqn):
      names += _primitives(inner)
  return names


def split_coordinates(
  starts: Starts,
  make_optimizer: Callable[..., optax.GradientTransformation],
  hyperparameters: dict[str, Any],
) -> Starts:
  """`starts` held as ``d`` scalars when the optimizer cannot tell them from
  one vector ``(d,)``, else as they are.

  Optimizers that act on a leaf as a whole (lamb, lars, fromage, novograd,
  adafactor, sm3, ``clip_by_block_rms``, a global norm...) would change if
  the vector were split, so the program must hold what the user gave. The
  check traces ``make_optimizer``'s ``init`` and ``update`` (with a
  look-ahead ``grad_fn``) on a vector and on a scalar, without running them,
  with `hyperparameters` (name -> dtype) traced as in the program, and
  splits only if every operation on the vector is elementwise
  (`_ELEMENTWISE`, inside calls and branches too) and the scalar runs the
  same primitives (no branch on the leaf's shape); anything else, or a
  failure, keeps the vector.
  """
  d = starts.dimension
  if d is None or not 2 <= d <= _MAX_SPLIT:
    return starts

  def init_and_update(params, grads, config):
    optimizer = optax.with_extra_args_support(make_optimizer(**config))
    return optimizer.update(
      grads, optimizer.init(params), params, grad_fn=lambda p: p
    )

  config = {
    name: jax.ShapeDtypeStruct((), dtype)
    for name, dtype in hyperparameters.items()
  }

  def traced(shape):
    point = jax.ShapeDtypeStruct(shape, starts.dtype)
    return jax.make_jaxpr(init_and_update)(point, point, config).jaxpr

  try:
    vector, scalar = traced((d,)), traced(())
  except Exception:  # E.g. sm3 on a 0-d leaf: keep the vector.
    return starts
  if _elementwise(vector) and _primitives(vector) == _primitives(scalar):
    return dataclasses.replace(starts, split=True)
  return starts
