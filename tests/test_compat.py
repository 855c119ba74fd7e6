"""optax_extras.compat: TF1 and Lasagne against their source, and the API.

PyTorch's and Keras's rules are checked against the frameworks themselves
(tests/test_compat_goldens.py, tests/test_compat_parity.py); TF1 and Lasagne
cannot be installed, so their rules are checked against float64 references
written from their published source (tests/references.py), defaults
included, on the goldens' two problems.
"""

import functools
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optax_extras import compat
from tests import references
from tests.helpers import assert_close
from tests.parity import cases, frameworks

pytestmark = pytest.mark.float32  # float64 where marked.

PROBLEMS = cases.make_problems()
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}

LEGACY_CASES = [
  ("tf1_gradient_descent", dict(learning_rate=0.05)),
  ("tf1_momentum", dict(learning_rate=0.05, momentum=0.9)),
  ("tf1_momentum", dict(learning_rate=0.05, momentum=0.9, use_nesterov=True)),
  ("tf1_adagrad", dict(learning_rate=0.1)),
  ("tf1_adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.01)),
  ("tf1_rmsprop", dict(learning_rate=0.001)),
  (
    "tf1_rmsprop",
    dict(
      learning_rate=0.001, decay=0.95, momentum=0.9, epsilon=1e-6, centered=True
    ),
  ),
  ("tf1_adam", {}),
  ("tf1_adam", dict(learning_rate=0.01, beta1=0.8, beta2=0.99, epsilon=1e-5)),
  ("tf1_adadelta", {}),
  ("tf1_adadelta", dict(learning_rate=1.0, rho=0.9, epsilon=1e-6)),
  ("lasagne_sgd", dict(learning_rate=0.05)),
  ("lasagne_momentum", dict(learning_rate=0.05)),
  ("lasagne_momentum", dict(learning_rate=0.05, momentum=0.5)),
  ("lasagne_nesterov_momentum", dict(learning_rate=0.05)),
  ("lasagne_nesterov_momentum", dict(learning_rate=0.01, momentum=0.975)),
  ("lasagne_adagrad", dict(learning_rate=0.1)),
  ("lasagne_adagrad", {}),
  ("lasagne_rmsprop", dict(learning_rate=0.001)),
  ("lasagne_rmsprop", dict(learning_rate=0.001, rho=0.95, epsilon=1e-4)),
  ("lasagne_adadelta", {}),
  ("lasagne_adadelta", dict(learning_rate=0.5, rho=0.9, epsilon=1e-5)),
  ("lasagne_adam", {}),
  ("lasagne_adam", dict(learning_rate=0.01, beta1=0.8, beta2=0.99)),
  ("lasagne_adamax", {}),
  ("lasagne_adamax", dict(learning_rate=0.02, beta1=0.8, epsilon=1e-3)),
]


@functools.cache
def _flat_grad_fn(problem):
  """The problem's gradient on flat float64 vectors, for the references
  (compiled once per problem)."""
  data = PROBLEMS[problem]
  params = cases.initial_params(problem, data)
  shapes = [params[k].shape for k in cases.PARAM_KEYS[problem]]
  sizes = [int(np.prod(s)) for s in shapes]

  def unflatten(w):
    pieces = np.split(np.asarray(w), np.cumsum(sizes)[:-1])
    return {
      k: jnp.asarray(p.reshape(s))
      for k, p, s in zip(cases.PARAM_KEYS[problem], pieces, shapes)
    }

  grad = jax.jit(jax.grad(lambda p: cases.loss(problem, data, p, jnp)))

  def grad_fn(w):
    with jax.enable_x64(True):
      return cases.flatten(
        {k: np.asarray(v) for k, v in grad(unflatten(w)).items()}, problem
      )

  return grad_fn, cases.flatten(params, problem)


@functools.cache
def _reference(case: int, problem):
  """LEGACY_CASES[case]'s float64 reference at the snapshots, shared by
  both dtypes' tests."""
  name, kwargs = LEGACY_CASES[case]
  grad_fn, w0 = _flat_grad_fn(problem)
  expected = references.tf1_lasagne_iterates(
    name, grad_fn, w0, cases.NUM_STEPS, **kwargs
  )[np.asarray(cases.SNAPSHOTS) - 1]
  expected.flags.writeable = False
  return expected


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("problem", cases.PROBLEMS)
@pytest.mark.parametrize(
  "name, kwargs",
  LEGACY_CASES,
  ids=[f"{n}-{i}" for i, (n, _) in enumerate(LEGACY_CASES)],
)
def test_tf1_and_lasagne_follow_their_source(name, kwargs, problem, dtype):
  expected = _reference(LEGACY_CASES.index((name, kwargs)), problem)
  with jax.enable_x64(dtype == "float64"):
    ours = frameworks.run_compat(
      getattr(compat, name)(**kwargs), problem, PROBLEMS[problem], dtype
    )
  assert_close(ours, expected, TOLERANCE[dtype])


def test_every_tf1_and_lasagne_function_is_checked():
  checked = {name for name, _ in LEGACY_CASES}
  assert checked == {
    n for n in compat.__all__ if n.startswith(("tf1_", "lasagne_"))
  }


# --- The docstrings' equalities with optax. ---------------------------------

IDENTITIES = [
  (compat.torch_sgd(0.05, 0.9, nesterov=True), optax.sgd(0.05, 0.9, True)),
  (
    compat.torch_sgd(0.05, 0.9, weight_decay=0.1),
    optax.chain(optax.add_decayed_weights(0.1), optax.sgd(0.05, 0.9)),
  ),
  (compat.torch_adam(0.01), optax.adam(0.01)),
  (compat.torch_adamw(0.01), optax.adamw(0.01, weight_decay=1e-2)),
  (compat.torch_adadelta(), optax.adadelta(1.0, 0.9, 1e-6)),
  (compat.torch_adamax(), optax.adamax(2e-3)),
  (
    compat.torch_rmsprop(0.01),
    optax.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False),
  ),
  (
    compat.keras_rmsprop(0.01, momentum=0.9, centered=True),
    optax.rmsprop(0.01, 0.9, 1e-7, centered=True, momentum=0.9),
  ),
  (compat.keras_adagrad(0.1), optax.adagrad(0.1, 0.1, 1e-7)),
  (compat.keras_adadelta(), optax.adadelta(0.001, 0.95, 1e-7)),
  (
    compat.tf1_rmsprop(0.01, momentum=0.5),
    optax.rmsprop(0.01, 0.9, 1e-10, initial_scale=1.0, momentum=0.5),
  ),
  (compat.tf1_adagrad(0.1), optax.adagrad(0.1, 0.1, eps=0.0)),
  (compat.lasagne_rmsprop(), optax.rmsprop(1.0, 0.9, 1e-6)),
  (compat.lasagne_adagrad(), optax.adagrad(1.0, 0.0, 1e-6)),
  # At a constant rate, the velocity forms are optax.sgd's iterates.
  (compat.keras_sgd(0.05, 0.9), optax.sgd(0.05, 0.9)),
  (compat.lasagne_nesterov_momentum(0.05), optax.sgd(0.05, 0.9, True)),
  # Keras's Adam is optax's with eps scaled by sqrt(1 - b2^t): at t = 1...
]


@pytest.mark.float64
@pytest.mark.parametrize("ours, theirs", IDENTITIES)
def test_what_the_docstrings_say_equals_optax(ours, theirs):
  data = PROBLEMS["mlp"]
  a = frameworks.run_compat(ours, "mlp", data, "float64")
  b = frameworks.run_compat(theirs, "mlp", data, "float64")
  assert_close(a, b, 1e-12)


@pytest.mark.float64
def test_epsilon_hat_is_optax_eps_scaled():
  """keras_adam's first step is optax.adam's with eps / sqrt(1 - b2)."""
  g, p = jnp.array([1e-6, 2.0]), jnp.zeros(2)
  ours = compat.keras_adam(0.1, epsilon=1e-7)
  theirs = optax.adam(0.1, eps=1e-7 / np.sqrt(1 - 0.999))
  a, _ = ours.update(g, ours.init(p), p)
  b, _ = theirs.update(g, theirs.init(p), p)
  assert_close(a, b, 1e-12)
  plain, _ = optax.adam(0.1, eps=1e-7).update(g, theirs.init(p), p)
  assert not np.allclose(a, plain, rtol=1e-3)


@pytest.mark.float64
def test_torch_nadam_is_not_optax_nadam():
  data = PROBLEMS["quadratic"]
  a = frameworks.run_compat(compat.torch_nadam(), "quadratic", data, "float64")
  b = frameworks.run_compat(optax.nadam(2e-3), "quadratic", data, "float64")
  assert not np.allclose(a, b, rtol=1e-4)


# --- Schedules: where each framework keeps the learning rate. ---------------

SCHEDULE = lambda count: 0.1 / (1.0 + 0.2 * count)  # noqa: E731


def _run_scalar(transform, grads):
  p = jnp.zeros(())
  state = transform.init(p)
  out = []
  for g in grads:
    u, state = transform.update(jnp.asarray(g), state, p)
    p = p + u
    out.append(float(p))
  return np.array(out)


@pytest.mark.float64
def test_schedules_act_as_in_each_framework():
  grads = np.cos(np.arange(20.0))
  rates = np.array([float(SCHEDULE(t)) for t in range(20)])
  # Keras and Lasagne: v = mu v - lr_t g; PyTorch and TF1: b = mu b + g,
  # p -= lr_t b.
  v, b, keras_p, torch_p = 0.0, 0.0, [0.0], [0.0]
  for g, lr in zip(grads, rates):
    v = 0.9 * v - lr * g
    b = 0.9 * b + g
    keras_p.append(keras_p[-1] + v)
    torch_p.append(torch_p[-1] - lr * b)
  assert_close(
    _run_scalar(compat.keras_sgd(SCHEDULE, 0.9), grads),
    np.array(keras_p[1:]),
    1e-12,
  )
  assert_close(
    _run_scalar(compat.lasagne_momentum(SCHEDULE, 0.9), grads),
    np.array(keras_p[1:]),
    1e-12,
  )
  assert_close(
    _run_scalar(compat.torch_sgd(SCHEDULE, 0.9), grads),
    np.array(torch_p[1:]),
    1e-12,
  )
  assert_close(
    _run_scalar(compat.tf1_momentum(SCHEDULE, 0.9), grads),
    np.array(torch_p[1:]),
    1e-12,
  )


@pytest.mark.float64
def test_torch_adagrad_lr_decay_composes_with_a_schedule():
  grads = np.cos(np.arange(20.0)) + 2.0
  acc, p, expected = 0.0, 0.0, []
  for t, g in enumerate(grads):
    acc += g * g
    p -= float(SCHEDULE(t)) / (1 + t * 0.1) * g / (np.sqrt(acc) + 1e-10)
    expected.append(p)
  ours = _run_scalar(compat.torch_adagrad(SCHEDULE, lr_decay=0.1), grads)
  assert_close(ours, np.array(expected), 1e-12)


@pytest.mark.float64
def test_keras_weight_decay_uses_the_scheduled_rate():
  grads = np.ones(5)
  p, expected = 1.0, []
  for t, g in enumerate(grads):
    lr = float(SCHEDULE(t))
    p = p - p * 0.5 * lr  # Decay first, then the step.
    p = p - lr * g
    expected.append(p)
  tx = compat.keras_sgd(SCHEDULE, weight_decay=0.5)
  params, state, ours = jnp.array(1.0), None, []
  state = tx.init(params)
  for g in grads:
    u, state = tx.update(jnp.asarray(g), state, params)
    params = params + u
    ours.append(float(params))
  assert_close(np.array(ours), np.array(expected), 1e-12)


# --- Arguments. ---------------------------------------------------------------

BAD_ARGUMENTS = [
  (lambda: compat.torch_sgd(-0.1), "lr"),
  (lambda: compat.torch_sgd(0.1, momentum=1.0), "momentum"),
  (lambda: compat.torch_sgd(0.1, dampening=1.5), "dampening"),
  (lambda: compat.torch_sgd(0.1, nesterov=True), "nesterov"),
  (lambda: compat.torch_sgd(0.1, 0.9, 0.1, nesterov=True), "nesterov"),
  (lambda: compat.torch_adam(betas=(0.9, 1.0)), "betas[1]"),
  (lambda: compat.torch_adam(betas=(0.9,)), "betas"),
  (lambda: compat.torch_adamw(weight_decay=-1.0), "weight_decay"),
  (lambda: compat.torch_adagrad(lr_decay=-1.0), "lr_decay"),
  (
    lambda: compat.torch_adagrad(initial_accumulator_value=-1),
    "initial_accumulator_value",
  ),
  (lambda: compat.torch_rmsprop(alpha=1.0), "alpha"),
  (lambda: compat.torch_adadelta(eps=-1.0), "eps"),
  (lambda: compat.torch_nadam(momentum_decay=-1.0), "momentum_decay"),
  (lambda: compat.torch_radam(betas=(1.5, 0.9)), "betas[0]"),
  (lambda: compat.keras_sgd(momentum=-0.1), "momentum"),
  (lambda: compat.keras_adam(beta_2=1.0), "beta_2"),
  (lambda: compat.keras_adamw(weight_decay=-0.1), "weight_decay"),
  (lambda: compat.keras_rmsprop(rho=2.0), "rho"),
  (lambda: compat.keras_adagrad(epsilon=-1.0), "epsilon"),
  (lambda: compat.keras_adadelta(learning_rate=-1.0), "learning_rate"),
  (lambda: compat.keras_adamax(beta_1=1.0), "beta_1"),
  (lambda: compat.keras_nadam(epsilon=float("nan")), "epsilon"),
  (lambda: compat.tf1_momentum(0.1, 1.0), "momentum"),
  (lambda: compat.tf1_adagrad(0.1, 0.0), "initial_accumulator_value"),
  (lambda: compat.tf1_rmsprop(0.1, decay=1.0), "decay"),
  (lambda: compat.tf1_adam(beta1=-0.1), "beta1"),
  (lambda: compat.tf1_adadelta(rho=1.0), "rho"),
  (lambda: compat.tf1_gradient_descent(-1.0), "learning_rate"),
  (lambda: compat.lasagne_sgd(-1.0), "learning_rate"),
  (lambda: compat.lasagne_momentum(0.1, 1.0), "momentum"),
  (lambda: compat.lasagne_nesterov_momentum(0.1, -1.0), "momentum"),
  (lambda: compat.lasagne_adagrad(epsilon=-1.0), "epsilon"),
  (lambda: compat.lasagne_rmsprop(rho=1.0), "rho"),
  (lambda: compat.lasagne_adadelta(rho=-0.5), "rho"),
  (lambda: compat.lasagne_adam(beta2=1.0), "beta2"),
  (lambda: compat.lasagne_adamax(beta1=1.0), "beta1"),
]


@pytest.mark.parametrize("build, name", BAD_ARGUMENTS)
def test_bad_arguments_raise_naming_them(build, name):
  with pytest.raises(ValueError, match=re.escape(f"`{name}`")):
    build()


def test_integer_parameters_are_refused():
  tx = compat.torch_adam()
  with pytest.raises(TypeError, match="params"):
    tx.init(jnp.zeros(3, jnp.int32))


PRESETS = [
  n
  for n in compat.__all__
  if not n.endswith("from_torch") and n != "to_torch_state_dict"
]


@pytest.mark.parametrize("name", PRESETS)
def test_zero_gradients_give_zero_updates(name):
  args = (0.1, 0.9) if name == "tf1_momentum" else (0.1,)
  tx = getattr(compat, name)(*args)
  params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
  state = tx.init(params)
  for _ in range(3):
    updates, state = tx.update(
      jax.tree.map(jnp.zeros_like, params), state, params
    )
    assert all(bool(jnp.all(u == 0)) for u in jax.tree.leaves(updates)), name


def test_tf1_momentum_needs_a_momentum():
  with pytest.raises(TypeError):
    compat.tf1_momentum(0.1)  # TF1 has no default either.


# --- The documentation. -------------------------------------------------------

DOCS = pathlib.Path(__file__).parent.parent / "docs"


def test_the_api_reference_shows_every_compat_function():
  page = (DOCS / "api" / "compat.md").read_text()
  assert re.search(r"^::: optax_extras\.compat$", page, re.M)
  assert "members: false" not in page  # Every member of __all__ is shown.


def test_the_guide_table_names_every_framework():
  page = (DOCS / "guide" / "compat.md").read_text()
  for word in ("PyTorch", "Keras 3", "TF1", "Lasagne"):
    assert word in page


@pytest.mark.float64
def test_tf1_rmsprop_starts_small():
  """TF1's mean square from 1: a first step of about lr g / sqrt(rho)."""
  g, p = jnp.array([1e-3]), jnp.zeros(1)
  tf1 = compat.tf1_rmsprop(0.1)
  step, _ = tf1.update(g, tf1.init(p), p)
  np.testing.assert_allclose(step, -0.1 * 1e-3 / np.sqrt(0.9), rtol=1e-6)
  ours, _ = optax.rmsprop(0.1).update(g, optax.rmsprop(0.1).init(p), p)
  assert abs(float(ours[0])) > 100 * abs(float(step[0]))


def test_presets_take_traced_learning_rates_inside_jit_and_sweeps():
  """A learning rate traced by jit (or vmapped by a sweep) is accepted; the
  branches on a zero hyperparameter read only concrete values."""
  params = jnp.ones(3)

  def step(build, lr):
    tx = build(lr)  # torch's `lr`, Keras's `learning_rate`: both first.
    return tx.update(params, tx.init(params), params)[0]

  for build in (compat.torch_adam, compat.torch_sgd, compat.keras_adam):
    traced = jax.jit(step, static_argnums=0)(build, 0.1)
    np.testing.assert_allclose(traced, step(build, 0.1), rtol=1e-6)
  import optax_extras
  from optax_extras import landscapes

  result = optax_extras.sweep(
    lambda lr: compat.torch_sgd(lr=lr, momentum=0.9),
    landscapes.get("booth"),
    grid={"lr": np.array([0.01, 0.02])},
    starts=np.zeros((2, 2)),
    num_steps=100,
  )
  assert (result.final_loss < 1.0).all()
