"""Continue a live `torch.optim` run in optax: optimizer, state, scheduler.

`from_torch` reads a PyTorch optimizer's param groups and per-parameter
state (and its LR scheduler's position) and returns an optax transformation
and state built from this library's parity presets (`torch_<name>`), such
that `tx.update(grads, state, params)` takes the steps PyTorch would take
next. Written from `torch/optim/*.py` (PyTorch 2.13). torch is imported
only when called.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optax_extras._src.compat import pytorch, rules
from optax_extras._src.compat.torch_schedules import (
  check_one_cycle_momentum,
  schedule_from_torch,
)
from optax_extras._src.transforms.adagrad import AdagradFamilyState
from optax_extras._src.transforms.adam import AdamCalibratedState

_OWNER = "from_torch"
_SUPPORTED = (
  "SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam"
)


def _preset(name: str, group: dict) -> tuple[Callable, dict, str]:
  """The parity preset for a param group, its arguments and its kind.

  Dispatches on the group's settings, not the class: an `Adam` with
  `decoupled_weight_decay=True` is AdamW (AdamW subclasses Adam).
  """
  g = group
  if name not in _SUPPORTED.split(", "):
    raise ValueError(
      f"{_OWNER}: `optimizer` is a torch.optim.{name}, which has no port. "
      f"Supported: {_SUPPORTED}. Use one of this library's optimizers for "
      "it and start its state afresh."
    )
  wd = float(g["weight_decay"])
  betas = tuple(float(b) for b in g.get("betas", (0.0, 0.0)))
  if name == "SGD":
    return (
      pytorch.torch_sgd,
      dict(
        momentum=float(g["momentum"]),
        dampening=float(g["dampening"]),
        weight_decay=wd,
        nesterov=bool(g["nesterov"]),
      ),
      "sgd",
    )
  if name in ("Adam", "AdamW"):
    return (
      pytorch.torch_adam,
      dict(
        betas=betas,
        eps=float(g["eps"]),
        weight_decay=wd,
        amsgrad=bool(g["amsgrad"]),
        decoupled_weight_decay=bool(
          g.get("decoupled_weight_decay", name == "AdamW")
        ),
      ),
      "adam",
    )
  if name == "RMSprop":
    return (
      pytorch.torch_rmsprop,
      dict(
        alpha=float(g["alpha"]),
        eps=float(g["eps"]),
        weight_decay=wd,
        momentum=float(g["momentum"]),
        centered=bool(g["centered"]),
      ),
      "rmsprop",
    )
  if name == "Adagrad":
    return (
      pytorch.torch_adagrad,
      dict(
        lr_decay=float(g["lr_decay"]),
        weight_decay=wd,
        initial_accumulator_value=float(g["initial_accumulator_value"]),
        eps=float(g["eps"]),
      ),
      "adagrad",
    )
  if name == "Adadelta":
    return (
      pytorch.torch_adadelta,
      dict(rho=float(g["rho"]), eps=float(g["eps"]), weight_decay=wd),
      "adadelta",
    )
  if name == "Adamax":
    return (
      pytorch.torch_adamax,
      dict(betas=betas, eps=float(g["eps"]), weight_decay=wd),
      "adamax",
    )
  if name == "NAdam":
    return (
      pytorch.torch_nadam,
      dict(
        betas=betas,
        eps=float(g["eps"]),
        weight_decay=wd,
        momentum_decay=float(g["momentum_decay"]),
        decoupled_weight_decay=bool(g["decoupled_weight_decay"]),
      ),
      "nadam",
    )
  return (
    pytorch.torch_radam,
    dict(
      betas=betas,
      eps=float(g["eps"]),
      weight_decay=wd,
      decoupled_weight_decay=bool(g["decoupled_weight_decay"]),
    ),
    "radam",
  )


def _count(kind: str, state: dict) -> int:
  """The partition key of a parameter: its step count (SGD: 1 if it has a
  momentum buffer, as torch's SGD counts no steps; 0 without state)."""
  if not state:
    return 0
  if kind == "sgd":
    return int(state.get("momentum_buffer") is not None)
  return int(float(state["step"]))


def _tensor(value, like: jax.Array) -> jax.Array:
  """A torch state tensor as `like` (a complex one as its real view, parts
  first: shape `(2, *shape)`, as `pytorch.real_view` keeps it)."""
  if value.is_complex():
    value = _torch().view_as_real(value.detach().resolve_conj())
    value = value.movedim(-1, 0)
  # A copy: torch updates its tensors in place, and jnp.asarray of a numpy
  # view of one may alias it.
  return jnp.array(value.detach().cpu().numpy(), like.dtype, copy=True)


class TorchStepState(NamedTuple):
  """torch's `step` of a partition's parameters (RMSprop and Adadelta keep
  no count of their own; `to_torch_state_dict` reads it)."""

  count: jax.Array


def _step_counter() -> optax.GradientTransformation:
  return optax.GradientTransformation(
    lambda params: TorchStepState(jnp.zeros([], jnp.int32)),
    lambda updates, state, params=None: (
      updates,
      TorchStepState(state.count + 1),
    ),
  )


# The preset states' per-parameter fields and torch's names for them.
_FIELDS = {
  optax.ScaleByAdamState: {"mu": "exp_avg", "nu": "exp_avg_sq"},
  rules.AmsgradState: {
    "mu": "exp_avg",
    "nu": "exp_avg_sq",
    "nu_max": "max_exp_avg_sq",
  },
  AdamCalibratedState: {"mu": "exp_avg", "nu": "exp_avg_sq"},
  rules.NadamScheduleState: {"mu": "exp_avg", "nu": "exp_avg_sq"},
  optax.TraceState: {"trace": "momentum_buffer"},
  rules.TorchMomentumState: {"buffer": "momentum_buffer"},
  AdagradFamilyState: {"accumulator": "sum"},
  optax.ScaleByRmsState: {"nu": "square_avg"},
  optax.ScaleByRStdDevState: {"mu": "grad_avg", "nu": "square_avg"},
  optax.ScaleByAdaDeltaState: {"e_g": "square_avg", "e_x": "acc_delta"},
}


def _fields(node: Any, kind: str) -> dict[str, str]:
  fields = dict(_FIELDS.get(type(node), {}))
  if kind == "adamax" and "nu" in fields:
    fields["nu"] = "exp_inf"  # Adamax's infinity-norm moment.
  return fields


def _is_chain(node: Any) -> bool:
  return isinstance(node, tuple) and not hasattr(node, "_fields")


def _fill(node: Any, states: list[dict], count: int, kind: str) -> Any:
  """`node` (a preset's initial state) with the torch `states` put in."""
  if _is_chain(node):
    return tuple(_fill(x, states, count, kind) for x in node)
  if not hasattr(node, "_fields"):
    return node

  def moment(tree, key):
    leaves = jax.tree.leaves(tree)
    return jax.tree.unflatten(
      jax.tree.structure(tree),
      [_tensor(s[key], leaf) for s, leaf in zip(states, leaves, strict=True)],
    )

  changes = {
    f: moment(getattr(node, f), k) for f, k in _fields(node, kind).items()
  }
  if "count" in node._fields:
    changes["count"] = jnp.asarray(count, jnp.int32)
  if isinstance(node, rules.NadamScheduleState):
    (product,) = {float(s["mu_product"]) for s in states}
    changes["mu_product"] = jnp.asarray(product, node.mu_product.dtype)
  return node._replace(**changes)


def _read(node: Any, kind: str, found: dict) -> None:
  """Collects into `found` torch's keys from a partition's state: per-leaf
  lists (`optax.MaskedNode` where a leaf is not in the partition) and the
  scalars `step` and `mu_product`."""
  if _is_chain(node):
    for x in node:
      _read(x, kind, found)
    return
  if isinstance(node, TorchStepState):
    found["step"] = int(node.count)
  if isinstance(node, rules.NadamScheduleState):
    found["mu_product"] = float(node.mu_product)
  for field, key in _fields(node, kind).items():
    found[key] = jax.tree.leaves(
      getattr(node, field), is_leaf=lambda x: isinstance(x, optax.MaskedNode)
    )


def _dotted(path) -> str:
  """A pytree path as a dotted name: "0.weight" for `{"0": {"weight": w}}`
  and for `[{"weight": w}]`."""
  return jax.tree_util.keystr(path, simple=True, separator=".")


def _layout(optimizer, params, names, owner: str):
  """`params`' leaves and treedef, the optimizer's `(group, tensor)` pairs in
  param-group order, each one's leaf index and a description of it."""
  with_paths, treedef = jax.tree_util.tree_flatten_with_path(params)
  leaves = [leaf for _, leaf in with_paths]
  owners = [
    (gi, p) for gi, g in enumerate(optimizer.param_groups) for p in g["params"]
  ]
  if names is None:
    if len(leaves) != len(owners):
      raise ValueError(
        f"{owner}: `params` has {len(leaves)} leaves but `optimizer` has "
        f"{len(owners)} parameters (in param-group order)."
      )
    return (
      leaves,
      treedef,
      owners,
      list(range(len(owners))),
      [f"leaf {i} of `params`" for i in range(len(owners))],
    )
  paths = {_dotted(path): j for j, (path, _) in enumerate(with_paths)}
  pairs = names.items() if isinstance(names, Mapping) else names
  named = {id(tensor): name for name, tensor in pairs}
  positions, described = [], []
  for i, (gi, p) in enumerate(owners):
    name = named.get(id(p))
    if name is None:
      raise ValueError(
        f"{owner}: the optimizer's parameter {i} (group {gi}, shape "
        f"{tuple(p.shape)}) has no name in `names`."
      )
    if name not in paths:
      raise ValueError(
        f"{owner}: `params` has no leaf named {name!r} (the optimizer's "
        f"parameter {i}, group {gi}); its leaves are {sorted(paths)}."
      )
    positions.append(paths[name])
    described.append(f"`params` leaf {name!r}")
  extra = sorted(n for n, j in paths.items() if j not in set(positions))
  if extra:
    raise ValueError(
      f"{owner}: `params` leaves {extra} are no parameters of `optimizer` "
      "(or have no name in `names`)."
    )
  return leaves, treedef, owners, positions, described


def _torch():
  try:
    import torch
  except ImportError as error:  # pragma: no cover - torch is in the extra
    raise ImportError(
      f"{_OWNER} needs PyTorch: pip install 'optax_extras[parity]'."
    ) from error
  return torch


def from_torch(
  optimizer,
  params: optax.Params,
  scheduler=None,
  steps_per_scheduler_step: int = 1,
  *,
  names=None,
) -> tuple[optax.GradientTransformationExtraArgs, optax.OptState]:
  """`(tx, state)` that continue a live `torch.optim` run in optax.

  `params`' leaves, in `jax.tree.leaves` order, are torch's parameters in
  param-group order (a different count or shape is a ValueError naming
  both). Or, with `names` (`model.named_parameters()`, or a dict of name to
  tensor), each parameter is the leaf whose path, its keys joined by ".",
  is its name: "0.weight" is `params["0"]["weight"]` (or `params[0]
  ["weight"]`, a list); a parameter without a name, a name without a leaf
  and a leaf without a parameter are ValueErrors naming them. A complex
  parameter is stepped as its real and imaginary parts, as in torch; its
  state is real, of shape `(2, *shape)` (the parts first). Pass
  `jnp.conj(grads)`: `jax.grad` of a real loss is the conjugate of torch's
  gradient. Each param group becomes its parity preset (`torch_<name>`, chosen
  by the group's settings: `Adam(decoupled_weight_decay=True)` is AdamW),
  over `optax.multi_transform`; `maximize` negates the gradient first, as in
  torch. State belongs to each parameter: parameters whose step counts
  differ (one that never had a gradient has no state and starts fresh) are
  separate partitions. Supported: SGD, Adam, AdamW, RMSprop, Adagrad,
  Adadelta, Adamax, NAdam, RAdam.

  `scheduler`: a scheduler of `optimizer` (see `schedule_from_torch`); the
  rate continues from its position `last_epoch`, advancing one position
  every `steps_per_scheduler_step` optimizer steps (port at a scheduler
  step's boundary), while bias corrections and Adagrad's `lr_decay` count
  the optimizer's steps. A OneCycleLR with `cycle_momentum=True` is refused.
  Without it, the groups' current rates are constants. Neither is changed.

  NAdam keeps `mu_product` in torch's default dtype: with float64
  parameters, set `torch.set_default_dtype(torch.float64)` before creating
  the optimizer, or the runs differ by about 1e-9.

  References:
    ``torch/optim/*.py`` (``_single_tensor_<name>``),
    ``torch/optim/lr_scheduler.py``.
  """
  torch = _torch()
  if not isinstance(optimizer, torch.optim.Optimizer):
    raise TypeError(
      f"{_OWNER}: `optimizer` must be a torch.optim.Optimizer, got "
      f"{type(optimizer).__name__}."
    )
  if not (isinstance(steps_per_scheduler_step, int)) or (
    steps_per_scheduler_step < 1
  ):
    raise ValueError(
      f"{_OWNER}: `steps_per_scheduler_step` must be an int >= 1, got "
      f"{steps_per_scheduler_step!r}."
    )
  if scheduler is not None:
    if getattr(scheduler, "optimizer", None) is not optimizer:
      raise ValueError(
        f"{_OWNER}: `scheduler` ({type(scheduler).__name__}) belongs to "
        "another optimizer than `optimizer`."
      )
    check_one_cycle_momentum(scheduler)
  name = type(optimizer).__name__
  leaves, treedef, owners, positions, described = _layout(
    optimizer, params, names, _OWNER
  )
  for i, (gi, p) in enumerate(owners):
    leaf, where = leaves[positions[i]], described[i]
    if tuple(jnp.shape(leaf)) != tuple(p.shape):
      raise ValueError(
        f"{_OWNER}: {where} has shape {tuple(jnp.shape(leaf))} but the "
        f"optimizer's parameter {i} (group {gi}) has shape "
        f"{tuple(p.shape)}."
      )
    if p.is_complex() != jnp.iscomplexobj(leaf):
      raise ValueError(
        f"{_OWNER}: {where} has dtype {jnp.result_type(leaf)} but the "
        f"optimizer's parameter {i} (group {gi}) has dtype {p.dtype}: both "
        "must be complex or both real."
      )

  presets = [_preset(name, g) for g in optimizer.param_groups]
  partitions: dict[tuple[int, int], list[int]] = {}
  # Members in leaf order, the order of the partitions' state leaves.
  for i in sorted(range(len(owners)), key=positions.__getitem__):
    gi, p = owners[i]
    count = _count(presets[gi][2], optimizer.state.get(p, {}))
    partitions.setdefault((gi, count), []).append(i)

  transforms, labels = {}, [None] * len(leaves)
  for (gi, count), members in partitions.items():
    label = f"group{gi}_count{count}"
    for i in members:
      labels[positions[i]] = label
    group = optimizer.param_groups[gi]
    preset, kwargs, kind = presets[gi]
    lr = float(group["lr"])
    if scheduler is not None:
      lr = _continued(
        schedule_from_torch(scheduler, group=gi),
        scheduler.last_epoch,
        count,
        steps_per_scheduler_step,
      )
    tx = preset(lr=lr, **kwargs)
    if group.get("maximize", False):
      tx = optax.chain(optax.scale(-1.0), tx)
    transforms[label] = optax.chain(_step_counter(), tx)

  tx = optax.multi_transform(transforms, jax.tree.unflatten(treedef, labels))
  state = tx.init(params)
  inner = dict(state.inner_states)
  for (gi, count), members in partitions.items():
    label = f"group{gi}_count{count}"
    kind = presets[gi][2]
    states = [optimizer.state.get(owners[i][1], {}) for i in members]
    if not states[0]:
      continue
    masked = inner[label]
    inner[label] = masked._replace(
      inner_state=_fill(masked.inner_state, states, count, kind)
    )
  return tx, state._replace(inner_states=inner)


def to_torch_state_dict(
  optimizer, state: optax.OptState, params: optax.Params, names=None
) -> dict:
  """The `state_dict` that continues in torch a run ported by `from_torch`.

  `state`: the optax state of `from_torch(optimizer, params, names=names)`'s
  transformation, after any number of steps; `params` and `names` as given
  to `from_torch` (they say which leaf is which parameter). Returns
  `optimizer.state_dict()` with its per-parameter state replaced by the
  ported run's: `optimizer.load_state_dict(...)` it (or into a new
  optimizer built alike), copy the parameters back, and torch takes the
  steps optax would take next. A parameter that never stepped gets no state
  (Adagrad's at step 0), as in torch. The param groups' hyperparameters are
  the optimizer's: a scheduler's position is for you to set. Neither the
  optimizer nor `state` is changed.
  """
  owner = "to_torch_state_dict"
  torch = _torch()
  if not isinstance(optimizer, torch.optim.Optimizer):
    raise TypeError(
      f"{owner}: `optimizer` must be a torch.optim.Optimizer, got "
      f"{type(optimizer).__name__}."
    )
  leaves, _, owners, positions, _ = _layout(optimizer, params, names, owner)
  kind = _preset(type(optimizer).__name__, optimizer.param_groups[0])[2]
  owner_of = {j: i for i, j in enumerate(positions)}
  scalar = torch.get_default_dtype()
  if not isinstance(state, optax.MultiTransformState):
    raise TypeError(
      f"{owner}: `state` must be the state of `from_torch`'s "
      f"transformation, got {type(state).__name__}."
    )
  result = {}
  for masked in state.inner_states.values():
    found = {}
    _read(masked.inner_state, kind, found)
    if "step" not in found:
      raise TypeError(
        f"{owner}: `state` must be the state of `from_torch`'s "
        "transformation (its partitions count torch's steps)."
      )
    step = found.pop("step")
    product = found.pop("mu_product", None)
    if not found or (step == 0 and kind != "adagrad"):
      continue
    for j in range(len(leaves)):
      entries = {k: v[j] for k, v in found.items()}
      if any(isinstance(v, optax.MaskedNode) for v in entries.values()):
        continue
      i = owner_of[j]
      gi, p = owners[i]
      group = optimizer.param_groups[gi]
      if group.get("momentum") == 0:  # torch keeps no buffer.
        entries.pop("momentum_buffer", None)
      out = {k: _to_torch(torch, v, p) for k, v in entries.items()}
      if kind != "sgd":
        out["step"] = torch.tensor(float(step), dtype=scalar)
      if product is not None:
        out["mu_product"] = torch.tensor(product, dtype=scalar)
      if out:
        result[i] = out
  state_dict = optimizer.state_dict()
  state_dict["state"] = result
  return state_dict


def _to_torch(torch, value: jax.Array, like):
  """A state leaf as a torch tensor like parameter `like` (a complex one's
  real view, parts first, back as complex)."""
  tensor = torch.from_numpy(np.array(value, copy=True))
  if like.is_complex():
    tensor = torch.view_as_complex(tensor.movedim(0, -1).contiguous())
  return tensor.to(like.dtype)


def _continued(schedule, position: int, count0: int, every: int) -> Callable:
  """The rate at optimizer count `c`: `schedule(position + (c - count0) //
  every)`, as the preset's schedule counts from `count0`."""
  return lambda count: schedule(position + (count - count0) // every)
