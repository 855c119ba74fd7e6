"""`compat.from_torch` and `compat.schedule_from_torch` against live PyTorch.

Runs in CI's parity step (torch installed); skipped elsewhere. Each
optimizer test runs torch some steps, ports, continues both, and compares
the loss at every step and the final parameters.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optax_extras import compat

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.parity, pytest.mark.float32]

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
PRE, POST = 4, 10
RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3))
INIT = {
  "g0": (RNG.normal(size=(3, 2)), RNG.normal(size=(2,))),
  "g1": (RNG.normal(size=(3,)), RNG.normal(size=(2,))),
}


def _loss(w, b, c, d, x, lib, with_d):
  """A small nonconvex loss; `d` has no gradient before the port."""
  out = lib.sum(lib.tanh(x @ w + b) ** 2) + lib.sum((c - 0.5) ** 2 * (1 + c**2))
  return out + lib.sum(lib.sin(d) * d) if with_d else out


def _sq(z):
  return z.real**2 + z.imag**2


def _complex_loss(w, b, c, d, x, lib, with_d):
  """The same for complex `w`, `c`, `d` (and `x`) and a real `b`."""
  out = lib.sum(lib.log1p(_sq(x @ w + b))) + lib.sum(
    _sq(c - 0.5) * (1 + _sq(c))
  )
  return out + lib.sum(lib.sin(d.real) * d.imag + _sq(d)) if with_d else out


class Problem(NamedTuple):
  init: dict
  x: np.ndarray
  loss: Callable


REAL = Problem(INIT, X, _loss)
_Z = RNG.normal(size=(5, 7, 2)) @ np.array([1.0, 1.0j])
COMPLEX = Problem(
  {"g0": (_Z[:3, :2], _Z[3, :2].real), "g1": (_Z[4, :3], _Z[4, 3:5])},
  _Z[:4, 2:5],
  _complex_loss,
)


def _dtype(a, dtype, lib):
  """`dtype`, or its complex counterpart for a complex `a`."""
  if np.iscomplexobj(a):
    dtype = {"float32": "complex64", "float64": "complex128"}[dtype]
  return getattr(lib, dtype)


def _jax_step(tx, problem=REAL):
  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(
      lambda p: problem.loss(
        *jax.tree.leaves(p), jnp.asarray(problem.x), jnp, True
      )
    )(params)
    # jax.grad of a real loss is the conjugate of torch's (and of the
    # steepest ascent direction) for a complex parameter.
    grads = jax.tree.map(jnp.conj, grads)
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss

  return step


OPTIMIZERS = {
  "sgd": ("SGD", {}),
  "sgd_momentum_dampening": (
    "SGD",
    dict(momentum=0.9, dampening=0.3, weight_decay=0.1),
  ),
  "sgd_nesterov_maximize": (
    "SGD",
    dict(momentum=0.8, nesterov=True, maximize=True),
  ),
  "adam_l2": ("Adam", dict(weight_decay=0.1)),
  "adam_amsgrad": ("Adam", dict(amsgrad=True, betas=(0.8, 0.9))),
  "adam_decoupled_maximize": (
    "Adam",
    dict(decoupled_weight_decay=True, weight_decay=0.1, maximize=True),
  ),
  "adamw_amsgrad": ("AdamW", dict(amsgrad=True)),
  "rmsprop": ("RMSprop", {}),
  "rmsprop_centered_momentum": (
    "RMSprop",
    dict(centered=True, momentum=0.5, weight_decay=0.1),
  ),
  "adagrad": (
    "Adagrad",
    dict(lr_decay=0.05, initial_accumulator_value=0.2, weight_decay=0.1),
  ),
  "adadelta": ("Adadelta", dict(weight_decay=0.1, maximize=True)),
  "adamax": ("Adamax", dict(weight_decay=0.1)),
  "nadam": ("NAdam", dict(weight_decay=0.1, momentum_decay=0.01)),
  "nadam_decoupled": (
    "NAdam",
    dict(decoupled_weight_decay=True, weight_decay=0.1),
  ),
  "radam": ("RAdam", {}),
  "radam_decoupled": (
    "RAdam",
    dict(decoupled_weight_decay=True, weight_decay=0.1),
  ),
}
# Two groups with their own rates and weight decays.
GROUP_LR = (0.05, 0.02)
GROUP_WD = (None, 0.03)


def _torch_run(
  name, kwargs, dtype, make_scheduler=None, every=1, late=0, problem=REAL
):
  """A torch optimizer after PRE steps in which `d` had no gradient, its
  scheduler created after `late` of them."""
  tensors = [
    torch.tensor(a, dtype=_dtype(a, dtype, torch), requires_grad=True)
    for a in jax.tree.leaves(problem.init)
  ]
  groups = []
  for i, members in enumerate((tensors[:2], tensors[2:])):
    group = {"params": members, "lr": GROUP_LR[i]}
    if GROUP_WD[i] is not None and "weight_decay" in kwargs:
      group["weight_decay"] = GROUP_WD[i]
    groups.append(group)
  opt = getattr(torch.optim, name)(groups, **kwargs)
  scheduler = None
  x = torch.tensor(problem.x, dtype=_dtype(problem.x, dtype, torch))
  for k in range(PRE):
    if make_scheduler is not None and k == late:
      scheduler = make_scheduler(opt)
    opt.zero_grad(set_to_none=True)
    problem.loss(*tensors, x, torch, False).backward()
    opt.step()
    if scheduler is not None and (k + 1) % every == 0:
      scheduler.step()
  return opt, scheduler, tensors, x


def _params(tensors, problem=REAL):
  """The torch parameters, copied, as the pytree of `problem.init`."""
  return jax.tree.unflatten(
    jax.tree.structure(problem.init),
    [jnp.array(t.detach().numpy(), copy=True) for t in tensors],
  )


def _continue(
  opt, scheduler, tensors, x, tx, state, dtype, every=1, problem=REAL
):
  params = _params(tensors, problem)
  step = _jax_step(tx, problem)
  tol = TOLERANCE[dtype]
  for k in range(POST):
    opt.zero_grad(set_to_none=True)
    loss = problem.loss(*tensors, x, torch, True)
    loss.backward()
    opt.step()
    if scheduler is not None and (k + 1) % every == 0:
      scheduler.step()

    params, state, jax_loss = step(params, state)
    np.testing.assert_allclose(
      float(jax_loss), loss.item(), rtol=tol, err_msg=f"step {k}"
    )
  for t, p in zip(tensors, jax.tree.leaves(params), strict=True):
    np.testing.assert_allclose(
      np.asarray(p), t.detach().numpy(), rtol=tol, atol=tol
    )


@pytest.fixture
def float64_default(precision):
  """torch's default dtype as the parameters' (NAdam's `mu_product`)."""
  previous = torch.get_default_dtype()
  torch.set_default_dtype(getattr(torch, precision))
  yield precision
  torch.set_default_dtype(previous)


@pytest.mark.both_precisions
@pytest.mark.parametrize("case", OPTIMIZERS)
def test_from_torch_continues_the_run(case, float64_default):
  dtype = float64_default
  name, kwargs = OPTIMIZERS[case]
  opt, _, tensors, x = _torch_run(name, kwargs, dtype)
  before = {k: v.clone() for k, v in opt.state[tensors[0]].items()}
  params = jax.tree.map(lambda a: jnp.asarray(a, dtype), INIT)
  tx, state = compat.from_torch(opt, params)
  # The port changes nothing in torch.
  for key, value in opt.state[tensors[0]].items():
    assert torch.equal(value, before[key])
  assert not opt.state.get(tensors[3]) or name == "Adagrad"
  _continue(opt, None, tensors, x, tx, state, dtype)


COMPLEX_OPTIMIZERS = {
  "sgd": ("SGD", dict(momentum=0.9, dampening=0.3, weight_decay=0.1)),
  "adam": ("Adam", dict(amsgrad=True, weight_decay=0.1)),
  "adamw": ("AdamW", {}),
  "rmsprop": ("RMSprop", dict(centered=True, momentum=0.5)),
  "adagrad": ("Adagrad", dict(lr_decay=0.05, initial_accumulator_value=0.2)),
  "adadelta": ("Adadelta", dict(weight_decay=0.1)),
  "adamax": ("Adamax", {}),
  "nadam": ("NAdam", dict(momentum_decay=0.01)),
  "radam": ("RAdam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
}


@pytest.mark.both_precisions
@pytest.mark.parametrize("case", COMPLEX_OPTIMIZERS)
def test_from_torch_continues_a_complex_run(case, float64_default):
  """torch steps a complex parameter as its real and imaginary parts; so do
  the presets (the fresh `d`) and the port (the imported state)."""
  dtype = float64_default
  name, kwargs = COMPLEX_OPTIMIZERS[case]
  opt, _, tensors, x = _torch_run(name, kwargs, dtype, problem=COMPLEX)
  tx, state = compat.from_torch(opt, _params(tensors, COMPLEX))
  # The state of a complex parameter is real, its parts first.
  shapes = {np.shape(a) for a in jax.tree.leaves(state)}
  assert (2, 3, 2) in shapes and not any(
    jnp.iscomplexobj(a) for a in jax.tree.leaves(state)
  )
  _continue(opt, None, tensors, x, tx, state, dtype, problem=COMPLEX)


@pytest.mark.float64
@pytest.mark.parametrize("case", COMPLEX_OPTIMIZERS)
def test_torch_presets_step_complex_parameters_as_torch(case, float64_default):
  """The presets alone, from a fresh start: torch's real-and-imaginary
  rule. With optax's |g|^2 all but SGD and RAdam (whose first 5 steps,
  rho_t <= 5, use no second moment) fail."""
  name, kwargs = COMPLEX_OPTIMIZERS[case]
  z = COMPLEX.init["g1"][1]
  tensor = torch.tensor(z, requires_grad=True)
  opt = getattr(torch.optim, name)([tensor], lr=0.05, **kwargs)
  tx = getattr(compat, "torch_" + name.lower())(lr=0.05, **kwargs)
  params = jnp.asarray(z)
  state = tx.init(params)
  loss = lambda w, lib: lib.sum(lib.log1p(_sq(w - 0.5j) * (1 + w.real**2)))
  for k in range(5):
    opt.zero_grad()
    loss(tensor, torch).backward()
    opt.step()
    grads = jnp.conj(jax.grad(loss)(params, jnp))
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(
      params, tensor.detach().numpy(), rtol=1e-10, err_msg=f"step {k}"
    )


@pytest.mark.float64
def test_nadam_float64_with_float32_default_dtype_differs_slightly():
  """torch keeps NAdam's `mu_product` in the default dtype (float32)."""
  assert torch.get_default_dtype() == torch.float32
  opt, _, tensors, x = _torch_run("NAdam", {}, "float64")
  assert opt.state[tensors[0]]["mu_product"].dtype == torch.float32
  tx, state = compat.from_torch(opt, jax.tree.map(jnp.asarray, INIT))
  with pytest.raises(AssertionError, match="Not equal to tolerance"):
    _continue(opt, None, tensors, x, tx, state, "float64")


SCHEDULED = {
  # Adam stepped per step from creation.
  "adam_steplr": (
    "Adam",
    {},
    lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    1,
  ),
  # Adagrad's lr_decay counts optimizer steps, the rate epochs of 2 steps.
  "adagrad_cosine_per_epoch": (
    "Adagrad",
    dict(lr_decay=0.1),
    lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=3),
    2,
  ),
  # Created after 2 steps: its position is not the optimizer's step.
  "nadam_exponential_late": (
    "NAdam",
    {},
    lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8),
    1,
    2,
  ),
  "sgd_onecycle": (
    "SGD",
    dict(momentum=0.9),
    lambda o: torch.optim.lr_scheduler.OneCycleLR(
      o, max_lr=[0.1, 0.05], total_steps=20, cycle_momentum=False
    ),
    1,
  ),
}


@pytest.mark.both_precisions
@pytest.mark.parametrize("case", SCHEDULED)
def test_from_torch_continues_the_schedule(case, float64_default):
  dtype = float64_default
  name, kwargs, make, every, *late = SCHEDULED[case]
  opt, scheduler, tensors, x = _torch_run(
    name, kwargs, dtype, make, every, *late
  )
  position = scheduler.last_epoch
  if late:
    assert position != int(opt.state[tensors[0]]["step"])
  params = jax.tree.map(lambda a: jnp.asarray(a, dtype), INIT)
  tx, state = compat.from_torch(
    opt, params, scheduler, steps_per_scheduler_step=every
  )
  assert scheduler.last_epoch == position
  _continue(opt, scheduler, tensors, x, tx, state, dtype, every)


def test_from_torch_refuses_bad_input():
  opt, _, _, _ = _torch_run("SGD", {}, "float32")
  params = jax.tree.map(jnp.asarray, INIT)
  with pytest.raises(ValueError, match="4 parameters"):
    compat.from_torch(opt, params["g0"])
  bad = {"g0": (jnp.zeros((2, 3)), params["g0"][1]), "g1": params["g1"]}
  with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(3, 2\)"):
    compat.from_torch(opt, bad)
  lbfgs = torch.optim.LBFGS([torch.zeros(1)])
  with pytest.raises(ValueError, match="LBFGS.*Supported"):
    compat.from_torch(lbfgs, jnp.zeros(1))
  cycling = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=5)
  with pytest.raises(ValueError, match="cycle_momentum"):
    compat.from_torch(opt, params, cycling)
  with pytest.raises(ValueError, match="steps_per_scheduler_step"):
    compat.from_torch(opt, params, steps_per_scheduler_step=0)
  complex_opt = torch.optim.Adam([torch.zeros(2, dtype=torch.complex64)])
  with pytest.raises(ValueError, match="parameter 0 .*complex64.*both"):
    compat.from_torch(complex_opt, jnp.zeros(2))
  with pytest.raises(TypeError, match="torch.optim.Optimizer"):
    compat.from_torch(optax.sgd(0.1), params)


# Schedulers: 300 rates against `get_last_lr`, two groups.
S = torch.optim.lr_scheduler
SCHEDULERS = {
  "step": lambda o: S.StepLR(o, step_size=7, gamma=0.7),
  "multistep_repeated": lambda o: S.MultiStepLR(o, [10, 50, 50, 200], 0.5),
  "exponential": lambda o: S.ExponentialLR(o, gamma=0.99),
  "cosine_periodic": lambda o: S.CosineAnnealingLR(o, T_max=70, eta_min=1e-3),
  "linear": lambda o: S.LinearLR(o, 0.2, 0.9, total_iters=40),
  "constant": lambda o: S.ConstantLR(o, factor=0.3, total_iters=25),
  "polynomial": lambda o: S.PolynomialLR(o, total_iters=113, power=0.7),
  "onecycle_cos": lambda o: S.OneCycleLR(
    o, [0.3, 0.2], total_steps=300, pct_start=0.27
  ),
  "onecycle_linear_three_phase": lambda o: S.OneCycleLR(
    o,
    [0.3, 0.2],
    total_steps=300,
    anneal_strategy="linear",
    three_phase=True,
    pct_start=0.21,
  ),
  "warm_restarts": lambda o: S.CosineAnnealingWarmRestarts(o, 9, 2, 1e-3),
  "warm_restarts_flat": lambda o: S.CosineAnnealingWarmRestarts(o, 31),
  "sequential": lambda o: S.SequentialLR(
    o,
    [
      S.LinearLR(o, 0.1, total_iters=20),
      S.CosineAnnealingLR(o, T_max=100),
      S.ExponentialLR(o, 0.98),
    ],
    milestones=[20, 150],
  ),
  "chained": lambda o: S.ChainedScheduler(
    [S.LinearLR(o, 0.1, total_iters=20), S.ExponentialLR(o, 0.99)]
  ),
}


def _rates(make, steps=300):
  opt = torch.optim.SGD(
    [{"params": [torch.zeros(1)]}, {"params": [torch.zeros(1)], "lr": 0.05}],
    lr=0.1,
    momentum=0.9,
  )
  scheduler = make(opt)
  rates = []
  for _ in range(steps):
    rates.append(scheduler.get_last_lr())
    opt.step()
    scheduler.step()
  return scheduler, np.asarray(rates)


@pytest.mark.float64
@pytest.mark.parametrize("case", SCHEDULERS)
def test_schedule_from_torch_matches_300_steps(case):
  scheduler, rates = _rates(SCHEDULERS[case])
  t = jnp.arange(300)
  for group in (0, 1):
    schedule = jax.jit(compat.schedule_from_torch(scheduler, group=group))
    np.testing.assert_allclose(schedule(t), rates[:, group], rtol=1e-9)
  # Ported mid-run: the same function of the position.
  middle, _ = _rates(SCHEDULERS[case], steps=150)
  schedule = compat.schedule_from_torch(middle, group=1)
  np.testing.assert_allclose(
    schedule(t[150:]), rates[150:, 1], rtol=1e-9, atol=1e-15
  )


@pytest.mark.parametrize(
  "make",
  [
    lambda o: S.ReduceLROnPlateau(o),
    lambda o: S.LambdaLR(o, lambda t: 1.0),
    lambda o: S.MultiplicativeLR(o, lambda t: 0.9),
    lambda o: S.CyclicLR(o, 0.01, 0.1),
  ],
)
def test_schedule_from_torch_refuses_others(make):
  opt = torch.optim.SGD([torch.zeros(1)], lr=0.1, momentum=0.9)
  scheduler = make(opt)
  name = type(scheduler).__name__
  with pytest.raises(ValueError, match=f"{name}.*Supported"):
    compat.schedule_from_torch(scheduler)


def test_schedule_from_torch_refuses_a_non_multiplicative_chain():
  opt = torch.optim.SGD([torch.zeros(1)], lr=0.1)
  chained = S.ChainedScheduler([S.CosineAnnealingLR(opt, 10)])
  with pytest.raises(ValueError, match="CosineAnnealingLR.*ChainedScheduler"):
    compat.schedule_from_torch(chained)
  with pytest.raises(ValueError, match="`group`"):
    compat.schedule_from_torch(S.StepLR(opt, 3), group=1)


@pytest.mark.slow
def test_the_porting_guide_example_runs(tmp_path):
  """docs/guide/porting.md's example (fenced ```py: the docs test has no
  torch), run as written in a fresh process: torch and Flax continue the
  ported run with the same losses (it asserts a relative gap <= 1e-5), and
  it draws the page's figure (docs/images/porting-losses.png, drawn by
  running the example in docs/images)."""
  import pathlib
  import re
  import subprocess
  import sys

  repo = pathlib.Path(__file__).parent.parent
  page = (repo / "docs" / "guide" / "porting.md").read_text("utf-8")
  (code,) = re.findall(r"^```py\n(.*?)^```", page, re.DOTALL | re.M)
  assert "](../images/porting-losses.png)" in page
  process = subprocess.run(
    [sys.executable, "-c", code],
    cwd=tmp_path,
    env={
      "PATH": "/usr/bin:/bin",
      "PYTHONPATH": str(repo),
      "MPLCONFIGDIR": str(tmp_path),
    },
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert process.returncode == 0, process.stderr
  assert "ported run matches torch: max relative gap" in process.stdout
  assert (tmp_path / "porting-losses.png").stat().st_size > 10_000


def _torch_step(opt, tensors, x, problem=REAL):
  opt.zero_grad(set_to_none=True)
  loss = problem.loss(*tensors, x, torch, True)
  loss.backward()
  opt.step()
  return loss.item()


def _assert_same_state(state, reference, tol):
  """Two torch per-parameter states: the same keys and values."""
  assert state.keys() == reference.keys()
  for i, entries in reference.items():
    assert state[i].keys() == entries.keys(), i
    for key, value in entries.items():
      np.testing.assert_allclose(
        state[i][key].numpy(),
        value.numpy(),
        rtol=tol,
        atol=tol,
        err_msg=f"{i} {key}",
      )


ROUND_TRIP = {
  "sgd_momentum": ("SGD", dict(momentum=0.9, dampening=0.3), REAL),
  "adam_amsgrad": ("Adam", dict(amsgrad=True, weight_decay=0.1), REAL),
  "rmsprop_centered_momentum": (
    "RMSprop",
    dict(centered=True, momentum=0.5),
    REAL,
  ),
  "adagrad": (
    "Adagrad",
    dict(lr_decay=0.05, initial_accumulator_value=0.2),
    REAL,
  ),
  "nadam": ("NAdam", dict(momentum_decay=0.01), REAL),
  "adam_complex": ("Adam", dict(amsgrad=True), COMPLEX),
}


@pytest.mark.float64
@pytest.mark.parametrize("case", ROUND_TRIP)
def test_to_torch_state_dict_round_trip_continues_torch(case, float64_default):
  """torch, PRE steps -> optax, 3 steps -> torch, POST steps: the same run
  as torch alone, state and losses."""
  name, kwargs, problem = ROUND_TRIP[case]
  opt, _, tensors, x = _torch_run(name, kwargs, "float64", problem=problem)
  ref, _, ref_tensors, _ = _torch_run(name, kwargs, "float64", problem=problem)
  params = _params(tensors, problem)
  tx, state = compat.from_torch(opt, params)
  step = _jax_step(tx, problem)
  for _ in range(3):
    params, state, _ = step(params, state)
    _torch_step(ref, ref_tensors, x, problem)
  state_dict = compat.to_torch_state_dict(opt, state, params)
  _assert_same_state(state_dict["state"], ref.state_dict()["state"], 1e-10)
  with torch.no_grad():
    for t, leaf in zip(tensors, jax.tree.leaves(params), strict=True):
      t.copy_(torch.from_numpy(np.array(leaf)))
  opt.load_state_dict(state_dict)
  for k in range(POST):
    loss = _torch_step(opt, tensors, x, problem)
    reference = _torch_step(ref, ref_tensors, x, problem)
    np.testing.assert_allclose(loss, reference, rtol=1e-10, err_msg=f"{k}")


def _mlp_and_params():
  """A torch MLP with two param groups (the last layer first) and its
  parameters as a dict keyed like `named_parameters()`, in another order."""
  torch.manual_seed(0)
  net = torch.nn.Sequential(
    torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)
  ).double()
  opt = torch.optim.Adam(
    [
      {"params": net[2].parameters()},
      {"params": net[0].parameters(), "lr": 0.02, "weight_decay": 0.1},
    ],
    lr=0.05,
  )
  return net, opt, _named_params(net)


def _named_params(net):
  return {
    layer: {
      key: jnp.array(getattr(net[int(layer)], key).detach().numpy())
      for key in ("weight", "bias")
    }
    for layer in ("0", "2")
  }


def _mlp_loss(params, x):
  hidden = jnp.tanh(x @ params["0"]["weight"].T + params["0"]["bias"])
  return jnp.sum((hidden @ params["2"]["weight"].T + params["2"]["bias"]) ** 2)


@pytest.mark.float64
def test_from_torch_maps_named_parameters_to_pytree_paths(float64_default):
  """Names in another order than the param groups' and the tree's."""
  net, opt, _ = _mlp_and_params()
  xt = torch.tensor(X, dtype=torch.float64)
  for _ in range(PRE):
    opt.zero_grad()
    (net(xt) ** 2).sum().backward()
    opt.step()
  params = _named_params(net)
  names = dict(net.named_parameters())
  tx, state = compat.from_torch(opt, params, names=net.named_parameters())

  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(_mlp_loss)(params, jnp.asarray(X))
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss

  for k in range(POST):
    opt.zero_grad()
    loss = (net(xt) ** 2).sum()
    loss.backward()
    opt.step()
    params, state, jax_loss = step(params, state)
    np.testing.assert_allclose(
      float(jax_loss), loss.item(), rtol=1e-10, err_msg=f"step {k}"
    )
  # And back, by the same names: torch's own state.
  state_dict = compat.to_torch_state_dict(opt, state, params, names=names)
  _assert_same_state(state_dict["state"], opt.state_dict()["state"], 1e-10)


def test_from_torch_refuses_unknown_and_missing_names():
  net, opt, params = _mlp_and_params()
  names = dict(net.named_parameters())
  renamed = {**params, "1": params["2"]}
  del renamed["2"]
  with pytest.raises(ValueError, match=r"no leaf named '2\.weight'.*'1\.bias"):
    compat.from_torch(opt, renamed, names=names)
  without = {k: v for k, v in names.items() if k != "0.bias"}
  with pytest.raises(
    ValueError, match=r"parameter 3 \(group 1, shape \(4,\)\) has no name"
  ):
    compat.from_torch(opt, params, names=without)
  extra = {**params, "3": {"weight": jnp.zeros(2)}}
  with pytest.raises(ValueError, match=r"\['3\.weight'\] are no parameters"):
    compat.from_torch(opt, extra, names=names)
  with pytest.raises(ValueError, match=r"leaf '0\.weight' has shape \(3, 4\)"):
    transposed = {**params, "0": {**params["0"], "weight": jnp.zeros((3, 4))}}
    compat.from_torch(opt, transposed, names=names)
  with pytest.raises(ValueError, match=r"no leaf named '2\.weight'"):
    compat.to_torch_state_dict(opt, None, renamed, names=names)
  with pytest.raises(TypeError, match="`from_torch`'s transformation"):
    compat.to_torch_state_dict(opt, optax.adam(0.1).init(params), params)
  plain = optax.multi_transform({"a": optax.adam(0.1)}, {"0": "a", "2": "a"})
  with pytest.raises(TypeError, match="`from_torch`'s transformation"):
    compat.to_torch_state_dict(opt, plain.init(params), params, names=names)
