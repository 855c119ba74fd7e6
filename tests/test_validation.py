"""Every bad input gets a clear error, raised early, naming the parameter."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

NAN, INF = float("nan"), float("inf")

BAD_HYPERPARAMETERS = [
  # (factory, bad keyword arguments, the parameter the message must name)
  (optax_extras.scale_by_momentum_lookahead, dict(decay=NAN), "decay"),
  (
    optax_extras.scale_by_momentum_lookahead,
    dict(lookahead=(0.5, -1.0)),
    "lookahead",
  ),
  (optax_extras.nesterov_lookahead, dict(learning_rate=NAN), "learning_rate"),
  (optax_extras.nesterov_lookahead, dict(learning_rate=INF), "learning_rate"),
  (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.1, decay=1.0),
    "decay",
  ),
  (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.1, decay=-0.1),
    "decay",
  ),
  (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.1, decay=NAN),
    "decay",
  ),
  (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.1, lookahead=()),
    "lookahead",
  ),
  (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.1, lookahead=(-0.5,)),
    "lookahead",
  ),
  (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.1, lookahead=(1.0, INF)),
    "lookahead",
  ),
  (optax_extras.scale_by_adadelta_bigstart, dict(rho=1.0), "rho"),
  (optax_extras.scale_by_adadelta_bigstart, dict(eps=-1e-6), "eps"),
  (
    optax_extras.scale_by_adadelta_bigstart,
    dict(initial_delta_sq=-1.0),
    "initial_delta_sq",
  ),
  (optax_extras.adadelta_bigstart, dict(learning_rate=NAN), "learning_rate"),
  (optax_extras.scale_by_adam_calibrated, dict(b1=1.0), "b1"),
  (optax_extras.scale_by_adam_calibrated, dict(b2=1.5), "b2"),
  (optax_extras.scale_by_adam_calibrated, dict(eps=-1.0), "eps"),
  (optax_extras.scale_by_adam_calibrated, dict(eps_root=-1.0), "eps_root"),
  (
    optax_extras.scale_by_adam_calibrated,
    dict(bias_correction="kingma"),
    "bias_correction",
  ),
  (optax_extras.adam_calibrated, dict(learning_rate=INF), "learning_rate"),
  (optax_extras.scale_by_adagrad_family, dict(power=0.0), "power"),
  (optax_extras.scale_by_adagrad_family, dict(order=-2.0), "order"),
  (optax_extras.scale_by_adagrad_family, dict(eps=-1e-7), "eps"),
  (
    optax_extras.scale_by_adagrad_family,
    dict(initial_accumulator_value=-0.1),
    "initial_accumulator_value",
  ),
  (optax_extras.adagrad_family, dict(learning_rate=NAN), "learning_rate"),
  # An array hyperparameter is checked element by element.
  (
    optax_extras.scale_by_adagrad_family,
    dict(power=np.array([0.5, -1.0])),
    "power",
  ),
]


@pytest.mark.parametrize(
  "factory,kwargs,parameter",
  BAD_HYPERPARAMETERS,
  ids=[
    f"{f.__name__}-{p}-{i}" for i, (f, _, p) in enumerate(BAD_HYPERPARAMETERS)
  ],
)
def test_bad_hyperparameter_raises_value_error_naming_it(
  factory, kwargs, parameter
):
  with pytest.raises(ValueError, match=rf"`{re.escape(parameter)}`"):
    factory(**kwargs)


@pytest.mark.parametrize(
  "kwargs,parameter",
  [
    (dict(learning_rate=0.1, lookahead=1.0), "lookahead"),
    (dict(learning_rate=0.1, lookahead="1.0"), "lookahead"),
    (dict(learning_rate="fast"), "learning_rate"),
    (dict(learning_rate=0.1, decay="0.9"), "decay"),
  ],
)
def test_wrong_type_raises_type_error_naming_it(kwargs, parameter):
  with pytest.raises(TypeError, match=rf"`{parameter}`"):
    optax_extras.nesterov_lookahead(**kwargs)


@pytest.mark.parametrize(
  "bias_correction", [1, (lambda m, d, t: m,), ("none", "none")]
)
def test_bias_correction_of_wrong_type(bias_correction):
  with pytest.raises(ValueError, match="`bias_correction`"):
    optax_extras.scale_by_adam_calibrated(bias_correction=bias_correction)


def test_traced_hyperparameters_are_not_checked():
  # Under vmap the values are unknown: building must not fail or sync.
  build = lambda decay: optax_extras.nesterov_lookahead(0.1, decay).init(
    jnp.ones(2)
  )
  jax.vmap(build)(jnp.array([0.5, 0.9]))


PARAMS = {"w": np.ones(3, np.float32), "b": np.zeros(2, np.float32)}
GRADS = {"w": np.ones(3, np.float32), "b": np.ones(2, np.float32)}


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_missing_grad_fn_raises_type_error(jit):
  transform = optax_extras.nesterov_lookahead(0.1)
  update = jax.jit(transform.update) if jit else transform.update
  with pytest.raises(TypeError, match="pass `grad_fn="):
    update(GRADS, transform.init(PARAMS), PARAMS)


def test_missing_params_raises_value_error_as_optax_does():
  transform = optax_extras.nesterov_lookahead(0.1)
  with pytest.raises(ValueError, match="needs the current `params`"):
    transform.update(
      GRADS, transform.init(PARAMS), None, grad_fn=lambda p: GRADS
    )


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_grad_fn_of_the_wrong_structure_raises_value_error(jit):
  transform = optax.chain(optax_extras.nesterov_lookahead(0.1))
  wrong = lambda params: {"w": params["w"]}  # Forgets "b".

  def update(grads, state, params):
    return transform.update(grads, state, params, grad_fn=wrong)

  update = jax.jit(update) if jit else update
  with pytest.raises(ValueError, match="tree structure"):
    update(GRADS, transform.init(PARAMS), PARAMS)


def test_heavy_ball_needs_neither_grad_fn_nor_params():
  transform = optax_extras.nesterov_lookahead(0.1, lookahead=(0.0,))
  updates, _ = transform.update(GRADS, transform.init(PARAMS))
  assert jax.tree.structure(updates) == jax.tree.structure(GRADS)


# --- What only init and update can check: the parameters themselves. ---

FACTORIES = [
  lambda: optax_extras.scale_by_momentum_lookahead(decay=0.9),
  lambda: optax_extras.nesterov_lookahead(0.1),
  optax_extras.scale_by_adadelta_bigstart,
  optax_extras.adadelta_bigstart,
  optax_extras.scale_by_adam_calibrated,
  lambda: optax_extras.adam_calibrated(0.1),
  optax_extras.scale_by_adagrad_family,
  lambda: optax_extras.adagrad_family(0.1),
]
FACTORY_IDS = [
  "scale_by_momentum_lookahead",
  "nesterov_lookahead",
  "scale_by_adadelta_bigstart",
  "adadelta_bigstart",
  "scale_by_adam_calibrated",
  "adam_calibrated",
  "scale_by_adagrad_family",
  "adagrad_family",
]


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_])
@pytest.mark.parametrize("make", FACTORIES, ids=FACTORY_IDS)
def test_integer_params_refused_naming_the_leaf(make, dtype):
  # Their updates would round to zero: refused when init sees them.
  params = {"w": jnp.ones(3), "steps": jnp.zeros(2, dtype)}
  with pytest.raises(TypeError, match=r"`params`.*\['steps'\]"):
    make().init(params)


@pytest.mark.parametrize(
  "make,name",
  [
    (lambda v: optax_extras.scale_by_momentum_lookahead(decay=v), "decay"),
    (lambda v: optax_extras.nesterov_lookahead(v), "learning_rate"),
    (lambda v: optax_extras.scale_by_adadelta_bigstart(rho=v), "rho"),
    (lambda v: optax_extras.adadelta_bigstart(v), "learning_rate"),
    (lambda v: optax_extras.scale_by_adam_calibrated(b2=v), "b2"),
    (lambda v: optax_extras.adam_calibrated(0.1, eps=v), "eps"),
    (lambda v: optax_extras.scale_by_adagrad_family(power=v), "power"),
    (
      lambda v: optax_extras.adagrad_family(0.1, initial_accumulator_value=v),
      "initial_accumulator_value",
    ),
  ],
  ids=lambda x: x if isinstance(x, str) else "",
)
@pytest.mark.parametrize(
  "values,params",
  [
    (np.array([0.5, 0.6]), jnp.ones(())),  # A scalar parameter grows to (2,).
    (np.array([[0.5], [0.6]]), jnp.ones(3)),  # (3,) grows to (2, 3).
    (np.array([0.5, 0.6]), jnp.ones(3)),  # Cannot broadcast at all.
  ],
  ids=["scalar", "grows", "clash"],
)
def test_array_hyperparameter_that_would_broadcast_refused(
  make, name, values, params
):
  transform = make(values)  # Built: a grid axis is checked elementwise.
  with pytest.raises(ValueError, match=rf"`{name}` has shape"):
    transform.init({"p": params})
  with pytest.raises(ValueError, match=rf"`{name}` has shape"):
    state = make(0.5).init({"p": params})  # A state of the right shapes.
    transform.update({"p": params}, state, {"p": params}, grad_fn=lambda p: p)


def test_array_hyperparameter_of_the_parameters_shape_accepted():
  # One value per coordinate: the shapes stay as they are.
  transform = optax_extras.adam_calibrated(0.1, b1=np.array([0.0, 0.5, 0.9]))
  params = jnp.ones(3)
  updates, _ = transform.update(params, transform.init(params), params)
  assert updates.shape == (3,)


WRONG_GRADIENTS = [
  ("scalar", lambda p: jax.tree.map(lambda x: jnp.sum(x), p), r"shape \(\)"),
  (
    "broadcastable",
    lambda p: jax.tree.map(lambda x: jnp.ones((1,) + x.shape), p),
    r"shape \(1, 2\)",
  ),
  (
    "dtype",
    lambda p: jax.tree.map(lambda x: x.astype(jnp.bfloat16), p),
    "dtype bfloat16",
  ),
]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize(
  "grad_fn,message",
  [(f, m) for _, f, m in WRONG_GRADIENTS],
  ids=[name for name, _, _ in WRONG_GRADIENTS],
)
def test_grad_fn_of_the_wrong_shape_or_dtype_raises_value_error(
  grad_fn, message, jit
):
  # Today a scalar or a (1, 2) gradient would broadcast silently.
  transform = optax_extras.nesterov_lookahead(0.1, lookahead=(0.0, 1.0))
  params = {"w": jnp.ones(3, jnp.float32), "b": jnp.zeros(2, jnp.float32)}

  def update(grads, state, params):
    return transform.update(grads, state, params, grad_fn=grad_fn)

  update = jax.jit(update) if jit else update
  with pytest.raises(ValueError, match=rf"at \['b'\].*{message}"):
    update(params, transform.init(params), params)
