"""`torch.optim.lr_scheduler` schedulers as optax schedules.

Written from `torch/optim/lr_scheduler.py` (PyTorch 2.13): `s(t)` is the
rate PyTorch sets at the scheduler's position `t` (its `last_epoch`), counted
from the scheduler's creation (`t = 0`: the rate before the first
`scheduler.step()`). The closed forms are computed in float64 when x64 is on.
"""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

_SUPPORTED = (
  "StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, "
  "ConstantLR, PolynomialLR, OneCycleLR, CosineAnnealingWarmRestarts, "
  "SequentialLR, ChainedScheduler"
)
# The schedulers whose step multiplies the rate by a factor of the position
# alone: a ChainedScheduler of them is the product of their factors.
_MULTIPLICATIVE = (
  "StepLR",
  "MultiStepLR",
  "ExponentialLR",
  "LinearLR",
  "ConstantLR",
  "PolynomialLR",
)


def _float(t: jax.typing.ArrayLike) -> jax.Array:
  dtype = jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32
  return jnp.asarray(t, dtype)


def _refuse(scheduler, why: str = "") -> ValueError:
  name = type(scheduler).__name__
  return ValueError(
    f"schedule_from_torch: `scheduler` is a {name}, which has no port{why}. "
    f"Supported: {_SUPPORTED}. Write its rate as an optax schedule (a "
    "function of the step) and pass it as the preset's `lr`, or replace the "
    "scheduler by a supported one."
  )


def _factor(scheduler) -> Callable[[jax.Array], jax.Array]:
  """The multiplicative schedulers' rate divided by the base rate."""
  name = type(scheduler).__name__
  if name == "StepLR":
    step, gamma = scheduler.step_size, scheduler.gamma
    return lambda t: gamma ** jnp.floor_divide(t, step).astype(t.dtype)
  if name == "MultiStepLR":
    # A milestone given twice counts twice (a Counter in PyTorch).
    marks = jnp.asarray(sorted(scheduler.milestones.elements()), jnp.int32)
    gamma = scheduler.gamma

    def multistep(t):
      passed = jnp.searchsorted(marks, t.astype(jnp.int32), side="right")
      return gamma ** passed.astype(t.dtype)

    return multistep
  if name == "ExponentialLR":
    return lambda t: scheduler.gamma**t
  if name == "ConstantLR":
    total, factor = scheduler.total_iters, scheduler.factor
    return lambda t: jnp.where(t < total, factor, 1.0).astype(t.dtype)
  if name == "LinearLR":
    start, end = scheduler.start_factor, scheduler.end_factor
    total = scheduler.total_iters
    return lambda t: start + (end - start) * jnp.minimum(t, total) / total
  if name == "PolynomialLR":
    total, power = scheduler.total_iters, scheduler.power
    # (T - min(t, T)) / T: never below 0 under a fractional power.
    return lambda t: ((total - jnp.minimum(t, total)) / total) ** power
  raise AssertionError(name)


def _cosine(scheduler, base):
  """Periodic past `T_max` (PyTorch's rule climbs back), not clamped."""
  t_max, low = scheduler.T_max, scheduler.eta_min
  return lambda t: low + (base - low) * (1 + jnp.cos(jnp.pi * t / t_max)) / 2


def _warm_restarts(scheduler, base):
  """SGDR: period `T_0 T_mult^n`, restarts found among exact integers."""
  t0, mult, low = scheduler.T_0, scheduler.T_mult, scheduler.eta_min
  if mult == 1:
    return lambda t: (
      low + (base - low) * (1 + jnp.cos(jnp.pi * jnp.mod(t, t0) / t0)) / 2
    )
  starts, period = [0], t0
  while starts[-1] < 2**31:
    starts.append(starts[-1] + period)
    period *= mult
  starts = np.asarray(starts, np.float64)

  def schedule(t):
    n = jnp.searchsorted(jnp.asarray(starts, t.dtype), t, side="right") - 1
    start = jnp.asarray(starts, t.dtype)[n]
    length = t0 * jnp.asarray(mult, t.dtype) ** n.astype(t.dtype)
    return low + (base - low) * (1 + jnp.cos(jnp.pi * (t - start) / length)) / 2

  return schedule


def _one_cycle(scheduler, group):
  """Phases end at `float(pct_start * total) - 1` and `total - 1`."""
  values = scheduler.optimizer.param_groups[group]
  phases = scheduler._schedule_phases
  if scheduler._anneal_func_type == "cos":
    anneal = lambda a, b, pct: b + (a - b) / 2 * (jnp.cos(jnp.pi * pct) + 1)
  else:
    anneal = lambda a, b, pct: (b - a) * pct + a

  def schedule(t):
    rate = None
    for i, phase in reversed(list(enumerate(phases))):
      start = phases[i - 1]["end_step"] if i else 0.0
      end = phase["end_step"]
      here = anneal(
        values[phase["start_lr"]],
        values[phase["end_lr"]],
        (t - start) / (end - start),
      )
      rate = here if rate is None else jnp.where(t <= end, here, rate)
    return rate

  return schedule


def _schedule(scheduler, group: int) -> Callable[[jax.Array], jax.Array]:
  name = type(scheduler).__name__
  if name in _MULTIPLICATIVE:
    base, factor = scheduler.base_lrs[group], _factor(scheduler)
    return lambda t: base * factor(t)
  if name == "CosineAnnealingLR":
    return _cosine(scheduler, scheduler.base_lrs[group])
  if name == "CosineAnnealingWarmRestarts":
    return _warm_restarts(scheduler, scheduler.base_lrs[group])
  if name == "OneCycleLR":
    return _one_cycle(scheduler, group)
  if name == "SequentialLR":
    marks = list(scheduler._milestones)
    members = [_schedule(s, group) for s in scheduler._schedulers]

    def sequential(t):
      # Each member on its own time from its own base rate.
      rate = members[0](t)
      for mark, member in zip(marks, members[1:], strict=True):
        rate = jnp.where(t >= mark, member(jnp.maximum(t - mark, 0)), rate)
      return rate

    return sequential
  if name == "ChainedScheduler":
    for member in scheduler._schedulers:
      if type(member).__name__ not in _MULTIPLICATIVE:
        raise _refuse(
          member,
          " inside a ChainedScheduler (only the multiplicative ones chain: "
          + ", ".join(_MULTIPLICATIVE)
          + ")",
        )
    base = scheduler._schedulers[0].base_lrs[group]
    factors = [_factor(s) for s in scheduler._schedulers]
    return lambda t: base * math.prod(f(t) for f in factors)
  raise _refuse(scheduler)


def schedule_from_torch(scheduler, *, group: int = 0) -> Callable:
  """`s(t)`: the rate `scheduler` gives param group `group` at position `t`.

  `t` counts the scheduler's steps from its creation (its `last_epoch`):
  with one `scheduler.step()` per optimizer step, `s(t)` is the rate of
  optimizer step `t` (from 0). Supported: StepLR, MultiStepLR,
  ExponentialLR, CosineAnnealingLR (periodic past `T_max`, as in PyTorch),
  LinearLR, ConstantLR, PolynomialLR, OneCycleLR (its learning rate; see
  `from_torch` for `cycle_momentum`), CosineAnnealingWarmRestarts,
  SequentialLR (each member on its own time) and ChainedScheduler of the
  multiplicative ones. Any other scheduler is a ValueError naming it.

  References:
    ``torch/optim/lr_scheduler.py`` (the schedulers' ``get_lr``).
  """
  groups = len(scheduler.optimizer.param_groups)
  if not (isinstance(group, int) and 0 <= group < groups):
    raise ValueError(
      f"schedule_from_torch: `group` must be an int in [0, {groups}), "
      f"got {group!r}."
    )
  schedule = _schedule(scheduler, group)
  return lambda t: schedule(_float(t))


def check_one_cycle_momentum(scheduler) -> None:
  """Refuses a OneCycleLR (also inside Sequential/Chained) that cycles the
  momentum, which the port does not carry."""
  for member in getattr(scheduler, "_schedulers", ()):
    check_one_cycle_momentum(member)
  if type(scheduler).__name__ == "OneCycleLR" and scheduler.cycle_momentum:
    raise ValueError(
      "from_torch: `scheduler` is a OneCycleLR with cycle_momentum=True, "
      "which also schedules the momentum (or beta1); the port carries only "
      "the learning rate. Create it with cycle_momentum=False, or port the "
      "rate alone with schedule_from_torch."
    )
