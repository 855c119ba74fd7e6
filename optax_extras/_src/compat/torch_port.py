"""Continue a live `torch.optim` run in optax: optimizer, state, scheduler.

`from_torch` reads a PyTorch optimizer's param groups and per-parameter
state (and its LR scheduler's position) and returns an optax transformation
and state built from this library's parity presets (`torch_<name>`), such
that `tx.update(grads, state, params)` takes the steps PyTorch would take
next. Written from `torch/optim/*.py` (PyTorch 2.13). torch is imported
only when called.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
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


def _fill(node: Any, states: list[dict], count: int, kind: str) -> Any:
  """`node` (a preset's initial state) with the torch `states` put in."""

  def moment(tree, key):
    leaves = jax.tree.leaves(tree)
    return jax.tree.unflatten(
      jax.tree.structure(tree),
      [_tensor(s[key], leaf) for s, leaf in zip(states, leaves, strict=True)],
    )

  steps = jnp.asarray(count, jnp.int32)
  if isinstance(node, optax.ScaleByAdamState):
    second = "exp_inf" if kind == "adamax" else "exp_avg_sq"
    return node._replace(
      count=steps, mu=moment(node.mu, "exp_avg"), nu=moment(node.nu, second)
    )
  if isinstance(node, rules.AmsgradState):
    return node._replace(
      count=steps,
      mu=moment(node.mu, "exp_avg"),
      nu=moment(node.nu, "exp_avg_sq"),
      nu_max=moment(node.nu_max, "max_exp_avg_sq"),
    )
  if isinstance(node, AdamCalibratedState):
    return node._replace(
      count=steps,
      mu=moment(node.mu, "exp_avg"),
      nu=moment(node.nu, "exp_avg_sq"),
    )
  if isinstance(node, rules.NadamScheduleState):
    product = {float(s["mu_product"]) for s in states}
    return node._replace(
      count=steps,
      mu_product=jnp.asarray(product.pop(), node.mu_product.dtype),
      mu=moment(node.mu, "exp_avg"),
      nu=moment(node.nu, "exp_avg_sq"),
    )
  if isinstance(node, optax.TraceState):
    return node._replace(trace=moment(node.trace, "momentum_buffer"))
  if isinstance(node, rules.TorchMomentumState):
    return node._replace(
      count=steps, buffer=moment(node.buffer, "momentum_buffer")
    )
  if isinstance(node, AdagradFamilyState):
    return node._replace(accumulator=moment(node.accumulator, "sum"))
  if isinstance(node, optax.ScaleByRmsState):
    return node._replace(nu=moment(node.nu, "square_avg"))
  if isinstance(node, optax.ScaleByRStdDevState):
    return node._replace(
      mu=moment(node.mu, "grad_avg"), nu=moment(node.nu, "square_avg")
    )
  if isinstance(node, optax.ScaleByAdaDeltaState):
    return node._replace(
      e_g=moment(node.e_g, "square_avg"), e_x=moment(node.e_x, "acc_delta")
    )
  if isinstance(node, optax.ScaleByScheduleState):
    return node._replace(count=steps)
  if isinstance(node, tuple) and not hasattr(node, "_fields"):
    return tuple(_fill(x, states, count, kind) for x in node)
  return node


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
) -> tuple[optax.GradientTransformationExtraArgs, optax.OptState]:
  """`(tx, state)` that continue a live `torch.optim` run in optax.

  `params`' leaves, in `jax.tree.leaves` order, are torch's parameters in
  param-group order (a different count or shape is a ValueError naming
  both). Each param group becomes its parity preset (`torch_<name>`, chosen
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
  leaves, treedef = jax.tree.flatten(params)
  owners = [
    (gi, p) for gi, g in enumerate(optimizer.param_groups) for p in g["params"]
  ]
  if len(leaves) != len(owners):
    raise ValueError(
      f"{_OWNER}: `params` has {len(leaves)} leaves but `optimizer` has "
      f"{len(owners)} parameters (in param-group order)."
    )
  for i, (leaf, (gi, p)) in enumerate(zip(leaves, owners, strict=True)):
    if tuple(jnp.shape(leaf)) != tuple(p.shape):
      raise ValueError(
        f"{_OWNER}: leaf {i} of `params` has shape {tuple(jnp.shape(leaf))} "
        f"but the optimizer's parameter {i} (group {gi}) has shape "
        f"{tuple(p.shape)}."
      )
    if p.is_complex() != jnp.iscomplexobj(leaf):
      raise ValueError(
        f"{_OWNER}: leaf {i} of `params` has dtype {jnp.result_type(leaf)} "
        f"but the optimizer's parameter {i} (group {gi}) has dtype "
        f"{p.dtype}: both must be complex or both real."
      )

  presets = [_preset(name, g) for g in optimizer.param_groups]
  partitions: dict[tuple[int, int], list[int]] = {}
  for i, (gi, p) in enumerate(owners):
    count = _count(presets[gi][2], optimizer.state.get(p, {}))
    partitions.setdefault((gi, count), []).append(i)

  transforms, labels = {}, [None] * len(leaves)
  for (gi, count), members in partitions.items():
    label = f"group{gi}_count{count}"
    for i in members:
      labels[i] = label
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
    transforms[label] = tx

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


def _continued(schedule, position: int, count0: int, every: int) -> Callable:
  """The rate at optimizer count `c`: `schedule(position + (c - count0) //
  every)`, as the preset's schedule counts from `count0`."""
  return lambda count: schedule(position + (count - count0) // every)
