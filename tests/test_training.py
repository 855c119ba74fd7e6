"""The Flax training example: the optimizers inside nnx, on the digits."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx, serialization

import optax_extras
from experiments import training

# The users' default precision; one test compares it with float64.
pytestmark = pytest.mark.float32

DATA = training.load_digits()
BATCH = (DATA.x_train[:128], DATA.y_train[:128])


def _params(model: nnx.Module) -> list[np.ndarray]:
  return [
    np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))
  ]


def _run_steps(model, optimizer, batches) -> list[float]:
  return [
    float(training.train_step(model, optimizer, x, y)) for x, y in batches
  ]


def test_data_is_float32_and_stratified():
  assert DATA.x_train.dtype == np.float32 and DATA.y_train.dtype == np.int32
  assert DATA.x_train.shape == (1437, 64) and DATA.x_val.shape == (360, 64)
  assert 0.0 <= DATA.x_train.min() and DATA.x_train.max() <= 1.0
  train_share = np.bincount(DATA.y_train) / len(DATA.y_train)
  val_share = np.bincount(DATA.y_val) / len(DATA.y_val)
  np.testing.assert_allclose(train_share, val_share, atol=0.01)


def _steps_in(x64: bool, name: str):
  with jax.enable_x64(x64):
    rate = training.OPTIMIZERS[name].learning_rate
    model, optimizer = training.create(name, 0, rate, total_steps=3)
    losses = _run_steps_raw(model, optimizer, [BATCH] * 3)
    return losses, jax.tree.leaves(nnx.state((model, optimizer), nnx.Param))


def _run_steps_raw(model, optimizer, batches) -> list[jax.Array]:
  return [training.train_step(model, optimizer, x, y) for x, y in batches]


@pytest.mark.parametrize("name", ["nesterov_lookahead", "adam_calibrated"])
def test_the_example_is_float32_with_or_without_x64(name):
  losses, params = _steps_in(False, name)
  losses64, params64 = _steps_in(True, name)
  for values in (losses, params, losses64, params64):
    assert {v.dtype for v in values} == {jnp.dtype("float32")}
  np.testing.assert_allclose(losses64, losses, rtol=1e-5)
  for a, b in zip(params64, params):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_catalogue_has_every_library_optimizer_and_counterparts():
  assert set(training.LIBRARY_OPTIMIZERS) <= set(training.OPTIMIZERS)
  for counterpart in (
    "sgd_nesterov",
    "adam",
    "adadelta",
    "adagrad",
    "momentum",
    "rmsprop",
  ):
    assert counterpart in training.OPTIMIZERS
  with pytest.raises(KeyError, match="Unknown optimizer 'nope'"):
    training.create("nope", 0, 0.1, 10)


@pytest.mark.parametrize("name", training.LIBRARY_OPTIMIZERS)
def test_library_optimizer_lowers_the_loss(name):
  model, optimizer = training.create(
    name, 0, training.OPTIMIZERS[name].learning_rate, total_steps=20
  )
  x, y = BATCH
  before = float(training.loss_fn(model, x, y))
  losses = _run_steps(model, optimizer, [BATCH] * 20)
  after = float(training.loss_fn(model, x, y))
  assert all(math.isfinite(loss) for loss in losses)
  assert losses[0] == pytest.approx(before)
  assert after < 0.5 * before, (name, before, after)


@pytest.mark.parametrize(
  "name",
  [
    "nesterov_lookahead",
    "adam_calibrated",
    "adadelta_bigstart",
    "adagrad_family",
  ],
)
def test_state_round_trips_and_training_resumes_identically(name):
  batches = [
    (DATA.x_train[i : i + 64], DATA.y_train[i : i + 64])
    for i in range(0, 6 * 64, 64)
  ]
  rate = training.OPTIMIZERS[name].learning_rate
  model, optimizer = training.create(name, 0, rate, total_steps=6)
  _run_steps(model, optimizer, batches[:3])
  saved = serialization.msgpack_serialize(
    nnx.to_pure_dict(nnx.state((model, optimizer)))
  )
  uninterrupted = _run_steps(model, optimizer, batches[3:])

  # A fresh model and optimizer (other initial values), restored from bytes.
  restored_model, restored_optimizer = training.create(
    name, 1, rate, total_steps=6
  )
  state = nnx.state((restored_model, restored_optimizer))
  nnx.replace_by_pure_dict(state, serialization.msgpack_restore(saved))
  nnx.update((restored_model, restored_optimizer), state)
  assert int(restored_optimizer.step[...]) == 3
  resumed = _run_steps(restored_model, restored_optimizer, batches[3:])

  assert resumed == uninterrupted  # Bitwise.
  for a, b in zip(_params(restored_model), _params(model)):
    np.testing.assert_array_equal(a, b)
  for a, b in zip(
    jax.tree.leaves(nnx.state(restored_optimizer)),
    jax.tree.leaves(nnx.state(optimizer)),
  ):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.both_precisions
@pytest.mark.parametrize(
  "factory",
  [optax_extras.adam_calibrated, optax_extras.nesterov_lookahead],
  ids=["adam_calibrated", "nesterov_lookahead"],
)
def test_inject_hyperparams_schedule_inside_nnx_optimizer(factory, precision):
  schedule = optax.linear_schedule(0.05, 0.01, transition_steps=4)
  injected_model = training.create_model(0)
  injected = nnx.Optimizer(
    injected_model,
    optax.inject_hyperparams(factory)(learning_rate=schedule),
    wrt=nnx.Param,
  )
  plain_model = training.create_model(0)
  plain = nnx.Optimizer(plain_model, factory(schedule), wrt=nnx.Param)
  np.testing.assert_allclose(
    injected.opt_state.hyperparams["learning_rate"][...], schedule(0)
  )
  for step in range(1, 7):
    training.train_step(injected_model, injected, *BATCH)
    training.train_step(plain_model, plain, *BATCH)
    # The state holds the rate that the last step used, schedule(step - 1).
    np.testing.assert_allclose(
      injected.opt_state.hyperparams["learning_rate"][...],
      schedule(step - 1),
      rtol=1e-6,
    )
    assert int(injected.opt_state.count[...]) == step
  # Equal up to rounding: the parameters are float32, and without x64 the
  # two ways of applying the rate round differently (Adam divides by the
  # root of tiny second moments, which magnifies it).
  atol = 1e-6 if precision == "float64" else 1e-5
  for a, b in zip(_params(injected_model), _params(plain_model)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol)


def test_catalogue_learning_rate_is_an_injected_peak():
  model, optimizer = training.create("adam_calibrated", 0, 0.02, 10)
  hyperparams = optimizer.opt_state[1].hyperparams
  np.testing.assert_allclose(hyperparams["learning_rate"][...], 0.02)
  training.train_step(model, optimizer, *BATCH)
  np.testing.assert_allclose(hyperparams["learning_rate"][...], 0.02)


def _functional_lookahead(lookahead, steps):
  """The same training with plain optax on the split parameters."""
  graphdef, params = nnx.split(training.create_model(0), nnx.Param)
  params = nnx.as_pure(params)
  x, y = BATCH

  def loss(p):
    return training.loss_fn(nnx.merge(graphdef, p), x, y)

  tx = optax_extras.nesterov_lookahead(0.1, 0.9, lookahead)
  state = tx.init(params)
  for _ in range(steps):
    updates, state = tx.update(
      jax.grad(loss)(params), state, params, grad_fn=jax.grad(loss)
    )
    params = optax.apply_updates(params, updates)
  return [np.asarray(leaf) for leaf in jax.tree.leaves(params)]


def _nnx_lookahead(lookahead, steps):
  model = training.create_model(0)
  optimizer = nnx.Optimizer(
    model, optax_extras.nesterov_lookahead(0.1, 0.9, lookahead), wrt=nnx.Param
  )
  _run_steps(model, optimizer, [BATCH] * steps)
  return _params(model)


def test_lookahead_in_jitted_nnx_step_uses_grad_fn():
  nesterov = _nnx_lookahead((1.0,), 5)
  for a, b in zip(nesterov, _functional_lookahead((1.0,), 5)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  heavy_ball = _nnx_lookahead((0.0,), 5)
  difference = max(np.max(np.abs(a - b)) for a, b in zip(nesterov, heavy_ball))
  assert difference > 1e-3  # The look-ahead gradients were really used.


def test_lookahead_gradients_are_clipped_like_the_others():
  # The first look-ahead point is the parameters themselves (zero velocity),
  # so one step of Nesterov equals one of momentum -- if the look-ahead
  # gradient went through the same clipping and weight decay.
  x, y = BATCH
  params = {}
  for name in ("nesterov_lookahead", "momentum"):
    model, optimizer = training.create(name, 0, 0.3, 10, clip_norm=1e-3)
    training.train_step(model, optimizer, x, y)
    params[name] = _params(model)
  for a, b in zip(params["nesterov_lookahead"], params["momentum"]):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  unclipped_model, unclipped = training.create(
    "nesterov_lookahead", 0, 0.3, 10, clip_norm=1e3
  )
  training.train_step(unclipped_model, unclipped, x, y)
  difference = max(
    np.max(np.abs(a - b))
    for a, b in zip(_params(unclipped_model), params["momentum"])
  )
  assert difference > 1e-3


@pytest.mark.parametrize("name", ["nesterov_lookahead", "adam_calibrated"])
def test_train_many_equals_a_loop_over_its_models(name):
  """Model (seed, rate) of the sweep equals an optax loop with the sweep's
  documented keys: fold_in(fold_in(key, lane), step)."""
  seeds, rates = [0, 3], [0.5, 2.0]
  rates = [r * training.OPTIMIZERS[name].learning_rate for r in rates]
  many = training.train_many(name, seeds, rates, epochs=1, data=DATA)
  assert many.val_loss.shape == (2, 2, 2)
  steps = len(DATA.x_train) // 128
  starts = training.initial_params(seeds)
  loss = functools.partial(training.minibatch_loss, data=DATA, batch_size=128)
  key = jax.random.key(training.many.SWEEP_KEY)

  @jax.jit  # Compiled once for the four models (rate and lane traced).
  def reference(params, rate, lane):
    """The optax loop, one step at a time (fori_loop, not the sweep's
    vmapped scan)."""
    tx = training.make_optimizer(training.OPTIMIZERS[name], rate, steps)

    def step(t, carry):
      params, state = carry
      k = jax.random.fold_in(jax.random.fold_in(key, lane), t)
      grad_fn = lambda p: jax.grad(loss)(p, k)
      updates, state = tx.update(
        grad_fn(params), state, params, grad_fn=grad_fn
      )
      return optax.apply_updates(params, updates), state

    return jax.lax.fori_loop(0, steps, step, (params, tx.init(params)))[0]

  for j, rate in enumerate(rates):
    for i in range(len(seeds)):
      lane = j * len(seeds) + i  # Rates are the grid, seeds the starts.
      params = reference(
        jax.tree.map(lambda a, i=i: a[i], starts), np.float32(rate), lane
      )
      expected = training.metrics(params, data=DATA)
      for field in training.History._fields:
        np.testing.assert_allclose(
          getattr(many, field)[i, j, -1],
          expected[field],
          rtol=2e-5,
          atol=2e-5,
          err_msg=f"{field} of seed {seeds[i]}, rate {rate}",
        )
  # The models differ: seeds and rates matter.
  assert np.unique(many.train_loss[..., -1]).size == 4


def test_train_many_compiles_once_for_the_same_shapes():
  compiles = []
  listener = lambda event, duration, **kw: compiles.append(event)
  jax.monitoring.register_event_duration_secs_listener(listener)
  first = training.train_many("adam", [0, 1], [0.01, 0.02], epochs=2, data=DATA)
  # The sweep trains: every model learns the digits.
  assert (first.val_accuracy[..., -1] > 0.8).all(), first.val_accuracy
  assert (first.train_loss[..., -1] < 0.5 * first.train_loss[..., 0]).all()
  count = compiles.count("/jax/core/compile/backend_compile_duration")
  again = training.train_many("adam", [2, 3], [0.03, 0.01], epochs=2, data=DATA)
  new = compiles.count("/jax/core/compile/backend_compile_duration") - count
  # Other seeds and rates: nothing is compiled again.
  assert new == 0, new
  assert count > new
  assert not np.array_equal(first.val_loss, again.val_loss)


def test_results_round_trip_through_flat_arrays():
  history = training.History(*(np.arange(3.0) + k for k in range(4)))
  many = training.History(*(np.ones((2, 3, 4)) * k for k in range(4)))
  sweep = training.Sweep(np.array([0.1, 0.2, 0.4]), np.arange(2), many)
  arrays = training.to_arrays({"adam": history}, {"adam_calibrated": sweep})
  assert "history/adam/val_loss" in arrays  # The gallery's saved keys.
  assert "sweep/adam_calibrated/learning_rates" in arrays
  assert "sweep/adam_calibrated/val_accuracy" in arrays
  histories, sweeps = training.from_arrays(arrays)
  assert list(histories) == ["adam"] and list(sweeps) == ["adam_calibrated"]
  for a, b in zip(histories["adam"], history):
    np.testing.assert_array_equal(a, b)
  got = sweeps["adam_calibrated"]
  np.testing.assert_array_equal(got.learning_rates, sweep.learning_rates)
  np.testing.assert_array_equal(got.seeds, sweep.seeds)
  for a, b in zip(got.history, many):
    np.testing.assert_array_equal(a, b)


def test_tables_and_figures(tmp_path):
  epochs = np.arange(4)
  history = training.History(
    train_loss=2.0 / (1 + epochs),
    val_loss=2.2 / (1 + epochs),
    train_accuracy=1 - 0.5 / (1 + epochs),
    val_accuracy=1 - 0.6 / (1 + epochs),
  )
  histories = {"adam": history, "nesterov_lookahead": history}
  table = training.results_table(histories)
  assert "nesterov_lookahead" in table and "85.00%" in table
  path = training.plot_learning_histories(histories, tmp_path / "h.png")
  assert path.stat().st_size > 10_000

  relative = 2.0 ** np.arange(-2, 3)
  accuracy = np.array([0.8, 0.9, 0.95, 0.94, 0.1])
  stacked = lambda v: np.broadcast_to(v[None, :, None], (3, 5, 4))
  sweep = training.Sweep(
    learning_rates=0.1 * relative,
    seeds=np.arange(3),
    history=training.History(
      stacked(1 - accuracy),
      stacked(1 - accuracy),
      stacked(accuracy),
      stacked(accuracy),
    ),
  )
  table = training.sensitivity_table({"momentum": sweep})
  assert "95.00%" in table and "2x" in table  # Good range: 0.1 to 0.2.
  # The best rate is the shared robust rule's: once the rate after the best
  # diverges on a seed, the best (0.1) borders it and 0.05 wins.
  loss = np.array(sweep.history.val_loss)
  loss[0, 3, -1] = np.nan
  edged = sweep._replace(history=sweep.history._replace(val_loss=loss))
  table = training.sensitivity_table({"momentum": edged})
  assert table.splitlines()[1].split()[1] == "0.05"
  path = training.plot_sweep({"momentum": sweep}, tmp_path / "s.png")
  assert path.stat().st_size > 10_000
