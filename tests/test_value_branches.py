"""Hyperparameters at which a rule changes form, given concrete or traced.

A hyperparameter reaches an optimizer concrete (a number) or traced (a grid
axis of a vmapped sweep). Where a rule changes form at a value (momentum 0:
no buffer; weight decay 0: no decay; dampening 0: `optax.trace`), a traced
value must give exactly what the same concrete value gives. Flags that
choose the form (`nesterov`, `amsgrad`, `centered`, ...) are static: a
traced one is refused with a TypeError naming it. Constraints between
hyperparameters (torch's Nesterov needs momentum > 0 and no dampening) are
checked on every element of a concrete array, as the sweep engine builds
the optimizer with its whole grid axis before tracing it.

The runs are op by op (not jitted): a compiled program may contract a
multiply and an add into one FMA differently in two programs, which is
XLA's choice, not the rule's; op by op, the same formula gives the same bits.
The problem has parameters with zero gradients of either sign (as dead
units give), and infinite ones with a zero gradient: `g + 0 * p` is not `g`
there (-0.0 + 0.0 is +0.0, 0 * inf is NaN), so a traced 0 computed as
arithmetic instead of selected shows in the updates.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import compat
from optax_extras._src.compat import rules
from tests.conftest import PRECISIONS

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

NUM_STEPS = 4
_PARAMS = {  # One shape: fewer operations to compile, op by op.
  "w": np.array([1.0, -2.0]),
  "pos": np.array([0.25, -1.0]),  # Gradient +0.0.
  "neg": np.array([0.75, -0.5]),  # Gradient -0.0.
  # Gradient +0.0: a frozen mask (an attention bias of -inf, say). No decay
  # leaves it; `p + 0 * p` would make it NaN.
  "far": np.array([-np.inf, np.inf]),
}
_A = np.array([1.0, 2.5])
_B = np.array([0.3, -0.2])


def grad(params):
  """The gradient of `sum(A w^2) / 2 + B.w + 0.0 * sum(pos) - 0.0 * sum(neg)`
  (`far` held out of the loss).

  Written out (as `jax.grad` gives it, bit for bit): op by op, autodiff
  would take most of the time.
  """
  return {
    "w": _A * params["w"] + _B,
    "pos": jnp.zeros_like(params["pos"]),
    "neg": -jnp.zeros_like(params["neg"]),
    "far": jnp.zeros_like(params["far"]),
  }


def trajectory(optimizer, dtype):
  """(updates, params) after each of `NUM_STEPS` steps, op by op."""
  params = {k: jnp.asarray(v, dtype) for k, v in _PARAMS.items()}
  state = optimizer.init(params)
  steps = []
  for _ in range(NUM_STEPS):
    updates, state = optimizer.update(grad(params), state, params)
    params = optax.apply_updates(params, updates)
    steps.append((updates, params))
  return steps


def assert_bits_equal(actual, expected):
  """Same tree, same dtypes, same bits (the sign of a zero included)."""
  assert jax.tree.structure(actual) == jax.tree.structure(expected)
  for (path, a), e in zip(
    jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)
  ):
    a, e = np.asarray(a), np.asarray(e)
    assert a.dtype == e.dtype and a.shape == e.shape
    as_int = np.dtype(f"u{a.dtype.itemsize}")
    np.testing.assert_array_equal(
      a.view(as_int),
      e.view(as_int),
      err_msg=f"at {jax.tree_util.keystr(path)}: {a!r} against {e!r}",
    )


# id -> (factory, fixed settings, swept hyperparameter, its values). Each
# swept hyperparameter is one a rule branches on; 0 is among its values.
_WD = (0.1, 0.0)
CASES = {
  # torch.optim.SGD ignores the dampening at momentum 0 (no buffer).
  "torch_sgd-momentum-damped": (
    compat.torch_sgd,
    dict(lr=0.1, dampening=0.5),
    "momentum",
    (0.9, 0.0),
  ),
  "torch_sgd-momentum": (
    compat.torch_sgd,
    dict(lr=0.1),
    "momentum",
    (0.9, 0.0),
  ),
  "torch_sgd-dampening": (
    compat.torch_sgd,
    dict(lr=0.1, momentum=0.9),
    "dampening",
    (0.5, 0.0),
  ),
  # A traced zero dampening with Nesterov runs, as a concrete 0 does.
  "torch_sgd-dampening-nesterov": (
    compat.torch_sgd,
    dict(lr=0.1, momentum=0.9, nesterov=True),
    "dampening",
    (0.0,),
  ),
  "torch_sgd-weight_decay": (
    compat.torch_sgd,
    dict(lr=0.1, momentum=0.9),
    "weight_decay",
    _WD,
  ),
  "torch_adam-weight_decay": (
    compat.torch_adam,
    dict(lr=0.01),
    "weight_decay",
    _WD,
  ),
  "torch_adam-amsgrad-weight_decay": (
    compat.torch_adam,
    dict(lr=0.01, amsgrad=True),
    "weight_decay",
    _WD,
  ),
  "torch_adamw-weight_decay": (
    compat.torch_adamw,
    dict(lr=0.01),
    "weight_decay",
    _WD,
  ),
  "torch_adagrad-weight_decay": (
    compat.torch_adagrad,
    dict(lr=0.1),
    "weight_decay",
    _WD,
  ),
  "torch_rmsprop-momentum": (
    compat.torch_rmsprop,
    dict(lr=0.01),
    "momentum",
    (0.9, 0.0),
  ),
  "torch_rmsprop-centered-momentum": (
    compat.torch_rmsprop,
    dict(lr=0.01, centered=True),
    "momentum",
    (0.9, 0.0),
  ),
  "torch_rmsprop-weight_decay": (
    compat.torch_rmsprop,
    dict(lr=0.01),
    "weight_decay",
    _WD,
  ),
  "torch_adadelta-weight_decay": (
    compat.torch_adadelta,
    dict(lr=1.0),
    "weight_decay",
    _WD,
  ),
  "torch_adamax-weight_decay": (
    compat.torch_adamax,
    dict(lr=0.02),
    "weight_decay",
    _WD,
  ),
  "torch_nadam-weight_decay": (
    compat.torch_nadam,
    dict(lr=0.01),
    "weight_decay",
    _WD,
  ),
  "torch_nadam-decoupled-weight_decay": (
    compat.torch_nadam,
    dict(lr=0.01, decoupled_weight_decay=True),
    "weight_decay",
    _WD,
  ),
  "torch_radam-weight_decay": (
    compat.torch_radam,
    dict(lr=0.01),
    "weight_decay",
    _WD,
  ),
  "torch_radam-decoupled-weight_decay": (
    compat.torch_radam,
    dict(lr=0.01, decoupled_weight_decay=True),
    "weight_decay",
    _WD,
  ),
  "keras_sgd-momentum": (
    compat.keras_sgd,
    dict(learning_rate=0.05),
    "momentum",
    (0.9, 0.0),
  ),
  # Keras ignores `nesterov` at momentum 0.
  "keras_sgd-nesterov-momentum": (
    compat.keras_sgd,
    dict(learning_rate=0.05, nesterov=True),
    "momentum",
    (0.9, 0.0),
  ),
  "keras_rmsprop-momentum": (
    compat.keras_rmsprop,
    dict(learning_rate=0.01),
    "momentum",
    (0.9, 0.0),
  ),
  "keras_rmsprop-centered-momentum": (
    compat.keras_rmsprop,
    dict(learning_rate=0.01, centered=True),
    "momentum",
    (0.9, 0.0),
  ),
  "tf1_rmsprop-momentum": (
    compat.tf1_rmsprop,
    dict(learning_rate=0.01),
    "momentum",
    (0.9, 0.0),
  ),
  "tf1_rmsprop-centered-momentum": (
    compat.tf1_rmsprop,
    dict(learning_rate=0.01, centered=True),
    "momentum",
    (0.9, 0.0),
  ),
  **{
    f"{name}-weight_decay": (
      getattr(compat, name),
      dict(learning_rate=0.05),
      "weight_decay",
      _WD,
    )
    for name in (
      "keras_sgd",
      "keras_adam",
      "keras_adamw",
      "keras_rmsprop",
      "keras_adagrad",
      "keras_adadelta",
      "keras_adamax",
      "keras_nadam",
    )
  },
}


def _precisions(cases):
  """Both precisions where the rule computes with the swept value (momentum,
  dampening), float32 where it only selects (weight decay), to save time."""
  for case in cases:
    precisions = ("float32",) if case.endswith("weight_decay") else PRECISIONS
    for precision in precisions:
      yield pytest.param(
        case,
        precision,
        marks=getattr(pytest.mark, precision),
        id=f"{precision}-{case}",
      )


@pytest.mark.parametrize("case, dtype_name", list(_precisions(CASES)))
def test_a_traced_value_gives_the_concrete_values_numbers_bit_for_bit(
  case, dtype_name
):
  factory, settings, swept, values = CASES[case]
  dtype = np.dtype(dtype_name).type
  make = lambda value: factory(**{**settings, swept: value})
  traced = jax.vmap(lambda v: trajectory(make(v), dtype))(
    jnp.asarray(values, dtype)
  )
  for i, value in enumerate(values):
    # A NumPy scalar of the run's dtype: the traced value's arithmetic (a
    # Python float would be rounded after `1 - value` or `lr * value`).
    concrete = trajectory(make(dtype(value)), dtype)
    assert_bits_equal(jax.tree.map(lambda x, i=i: x[i], traced), concrete)


@pytest.mark.parametrize(
  "case",
  [
    "torch_sgd-momentum-damped",
    "keras_rmsprop-momentum",
    "keras_adam-weight_decay",
  ],
)
def test_a_traced_zero_compiled_gives_the_concrete_zeros_numbers(case):
  # Compiled (jit of vmap, as the sweep engine runs), the zero still selects
  # the concrete 0's values: nothing is computed from it to be contracted.
  factory, settings, swept, values = CASES[case]
  params = {k: jnp.asarray(v, jnp.float32) for k, v in _PARAMS.items()}

  def run(value):
    optimizer = factory(**{**settings, swept: value})

    def step(carry, _):
      params, state = carry
      updates, state = optimizer.update(grad(params), state, params)
      params = optax.apply_updates(params, updates)
      return (params, state), (updates, params)

    return jax.lax.scan(
      step, (params, optimizer.init(params)), length=NUM_STEPS
    )[1]

  traced = jax.jit(jax.vmap(run))(jnp.asarray(values, jnp.float32))
  concrete = jax.jit(functools.partial(run, 0.0))()
  assert_bits_equal(
    jax.tree.map(lambda x: x[values.index(0.0)], traced), concrete
  )


def test_torch_sgd_per_coordinate_momentum_with_a_zero_is_each_coordinates_rule():
  # A concrete array that mixes 0 and other values selects per element: the
  # coordinate at momentum 0 takes no dampened buffer.
  momentum = np.array([0.9, 0.0], np.float32)
  grads = jnp.array([[1.0, -2.0], [0.5, 0.25], [-1.0, 3.0]], jnp.float32)
  params = jnp.zeros(2, jnp.float32)

  def updates(optimizer):
    state, out = optimizer.init(params), []
    for g in grads:
      u, state = optimizer.update(g, state, params)
      out.append(u)
    return jnp.stack(out)

  with jax.disable_jit():
    mixed = updates(compat.torch_sgd(0.1, momentum=momentum, dampening=0.5))
    for i, m in enumerate(momentum):
      alone = updates(compat.torch_sgd(0.1, momentum=m, dampening=0.5))
      assert_bits_equal(mixed[:, i], alone[:, i])


INJECTED = [
  (compat.torch_sgd, dict(lr=0.1, momentum=0.0, dampening=0.5)),
  (compat.torch_sgd, dict(lr=0.1, momentum=0.9)),
  (compat.torch_rmsprop, dict(lr=0.01, momentum=0.0)),
  (compat.keras_sgd, dict(learning_rate=0.05, momentum=0.0)),
  (compat.keras_rmsprop, dict(learning_rate=0.01, momentum=0.0)),
  (compat.keras_adam, dict(learning_rate=0.01, weight_decay=0.0)),
  (compat.tf1_rmsprop, dict(learning_rate=0.01, momentum=0.0)),
]


@pytest.mark.parametrize(
  "factory, settings",
  INJECTED,
  ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(INJECTED)],
)
def test_inject_hyperparams_in_a_jitted_update_takes_the_same_steps(
  factory, settings
):
  # optax.inject_hyperparams builds the rule with concrete arrays in `init`
  # and traced ones in a jitted `update`: both must choose one form (the
  # state's structure), and its steps must be the plain rule's.
  params = {k: jnp.asarray(v, jnp.float32) for k, v in _PARAMS.items()}

  def run(optimizer):
    def step(carry, _):
      params, state = carry
      updates, state = optimizer.update(grad(params), state, params)
      return (optax.apply_updates(params, updates), state), updates

    init = (params, optimizer.init(params))
    return jax.jit(lambda: jax.lax.scan(step, init, length=NUM_STEPS))()

  (injected, _), _ = run(optax.inject_hyperparams(factory)(**settings))
  (plain, _), _ = run(factory(**settings))
  for key in params:
    np.testing.assert_allclose(injected[key], plain[key], rtol=1e-6)


def test_torch_sgd_nesterov_refuses_every_array_with_a_zero_momentum():
  # The sweep engine builds the optimizer with the whole grid axis, then
  # value by value where that fails: each value must be checked.
  for momentum in (np.array([0.9, 0.0]), np.array([0.0, 0.0]), 0.0):
    with pytest.raises(
      ValueError, match="`nesterov` requires a `momentum` > 0"
    ):
      compat.torch_sgd(0.1, momentum=momentum, nesterov=True)
  for dampening in (np.array([0.0, 0.5]), 0.5):
    with pytest.raises(ValueError, match="zero `dampening`"):
      compat.torch_sgd(0.1, momentum=0.9, dampening=dampening, nesterov=True)
  compat.torch_sgd(0.1, momentum=np.array([0.9, 0.5]), nesterov=True)
  compat.torch_sgd(0.1, momentum=0.9, dampening=np.array([0.0]), nesterov=True)


# (factory, settings, flag): each flag chooses the rule's form.
FLAGS = [
  (compat.torch_sgd, dict(lr=0.1, momentum=0.9), "nesterov"),
  (compat.torch_adam, dict(lr=0.1), "amsgrad"),
  (compat.torch_adam, dict(lr=0.1), "decoupled_weight_decay"),
  (compat.torch_adamw, dict(lr=0.1), "amsgrad"),
  (compat.torch_rmsprop, dict(lr=0.1), "centered"),
  (compat.torch_nadam, dict(lr=0.1), "decoupled_weight_decay"),
  (compat.torch_radam, dict(lr=0.1), "decoupled_weight_decay"),
  (compat.keras_sgd, dict(learning_rate=0.1, momentum=0.9), "nesterov"),
  (compat.keras_adam, dict(learning_rate=0.1), "amsgrad"),
  (compat.keras_adamw, dict(learning_rate=0.1), "amsgrad"),
  (compat.keras_rmsprop, dict(learning_rate=0.1), "centered"),
  (compat.tf1_momentum, dict(learning_rate=0.1, momentum=0.9), "use_nesterov"),
  (compat.tf1_rmsprop, dict(learning_rate=0.1), "centered"),
  (optax_extras.adam_calibrated, dict(learning_rate=0.1), "nesterov"),
  (optax_extras.scale_by_adam_calibrated, {}, "nesterov"),
  (optax_extras.adagrad_family, dict(learning_rate=0.1), "eps_in_power"),
  (optax_extras.scale_by_adagrad_family, {}, "eps_in_power"),
]


def _one_update(factory, settings, name, value):
  """Builds the optimizer and takes one step (some forms are chosen there)."""
  optimizer = factory(**{**settings, name: value})
  params = jnp.ones(2)
  grad_fn = jax.grad(lambda p: jnp.sum(p**2))
  updates, _ = optimizer.update(
    grad_fn(params), optimizer.init(params), params, grad_fn=grad_fn
  )
  return updates


@pytest.mark.parametrize(
  "factory, settings, name",
  FLAGS,
  ids=[f"{f.__name__}-{name}" for f, _, name in FLAGS],
)
def test_a_traced_flag_is_refused_naming_it(factory, settings, name):
  run = functools.partial(_one_update, factory, settings, name)
  message = (
    rf"`{name}` is static .* cannot be a traced value: not a sweep's grid axis"
  )
  with pytest.raises(TypeError, match=message):
    jax.vmap(run)(jnp.array([True, False]))
  with pytest.raises(TypeError, match=message):
    jax.jit(run)(True)
  # A whole axis given concretely is refused too (the sweep engine then
  # builds the optimizer value by value), and each value is accepted.
  with pytest.raises(TypeError, match=rf"`{name}` must be a single bool"):
    run(np.array([True, False]))
  for value in (True, False, np.bool_(True), 0):
    run(value)


@pytest.mark.parametrize(
  "factory",
  [optax_extras.nesterov_lookahead, optax_extras.scale_by_momentum_lookahead],
)
def test_traced_lookahead_fractions_are_refused_naming_them(factory):
  settings = (
    {}
    if factory is optax_extras.scale_by_momentum_lookahead
    else {"learning_rate": 0.1}
  )
  run = lambda c: _one_update(factory, settings, "lookahead", (c, 1.0))
  with pytest.raises(TypeError, match=r"`lookahead` is static .*grid axis"):
    jax.vmap(run)(jnp.array([0.0, 0.5]))


# The bias corrections and RAdam's rho of a traced decay rate keep the digits
# that the concrete one keeps (float32 loses most of them in 1 - b**t). For
# a traced 0, both are the concrete 0's formula, as they were.
@pytest.mark.parametrize("b", [0.999, 0.99])
def test_one_minus_power_of_a_traced_base_keeps_the_concrete_bases_digits(b):
  dtype = np.float32
  t = jnp.arange(1, 200, dtype=dtype)
  concrete = rules.one_minus_power(float(dtype(b)), t)
  traced = jax.jit(jax.vmap(rules.one_minus_power, (0, None)))(
    jnp.asarray([b], dtype), t
  )
  np.testing.assert_allclose(traced[0], concrete, rtol=5e-7)


@pytest.mark.parametrize("b2", [0.999, 0.99])
def test_radam_rho_of_a_traced_b2_keeps_the_concrete_b2s_digits(b2):
  dtype = np.float32
  t = jnp.arange(1, 200, dtype=dtype)
  concrete = rules.radam_rho(float(dtype(b2)), t)
  traced = jax.jit(jax.vmap(rules.radam_rho, (0, None)))(
    jnp.asarray([b2], dtype), t
  )
  # rho_t is about t for small t: an absolute error relative to t.
  np.testing.assert_allclose(
    traced[0] / t,
    concrete / t,
    atol=2e-6,
  )


def test_known_zero_tells_concrete_zeros_from_traced_and_mixed_values():
  assert rules.known_zero(0.0) and rules.known_zero(np.zeros(3))
  assert (
    rules.known_zero(0.5) is False and rules.known_zero(np.ones(2)) is False
  )
  assert rules.known_zero(lambda count: 0.0) is False  # A schedule.
  assert rules.known_zero(np.array([0.0, 0.5])) is None
  assert rules.known_zero(jnp.zeros(2)) is None  # A value of the computation.
  jax.vmap(lambda m: assert_is_none(rules.known_zero(m)))(jnp.zeros(2))


def assert_is_none(value):
  assert value is None
