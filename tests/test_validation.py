"""Every bad input gets a clear error, raised early, naming the parameter."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras

NAN, INF = float("nan"), float("inf")

BAD_HYPERPARAMETERS = [
  # (factory, bad keyword arguments, the parameter the message must name)
  (
    optax_extras.scale_by_momentum_lookahead,
    dict(learning_rate=NAN),
    "learning_rate",
  ),
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


PARAMS = {"w": jnp.ones(3), "b": jnp.zeros(2)}
GRADS = {"w": jnp.ones(3), "b": jnp.ones(2)}


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_missing_grad_fn_raises_type_error(jit):
  transform = optax_extras.nesterov_lookahead(0.1)
  update = jax.jit(transform.update) if jit else transform.update
  with pytest.raises(TypeError, match="pass `grad_fn="):
    update(GRADS, transform.init(PARAMS), PARAMS)


def test_missing_params_raises_type_error():
  transform = optax_extras.nesterov_lookahead(0.1)
  with pytest.raises(TypeError, match="needs the current `params`"):
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
