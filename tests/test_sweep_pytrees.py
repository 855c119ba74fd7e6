"""Sweeps beyond 2-D: vector and pytree starts, keyed losses, metrics,
recording, against per-lane optax loops; their bad inputs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import landscapes, load_sweep, sweep
from optax_extras._src.sweep import program as programs

pytestmark = pytest.mark.float64  # Compared with float64 loops.

RATES = np.array([0.01, 0.05, 0.2])
KEY = jax.random.key(7)


def model_starts(num_seeds: int):
  """A tiny two-layer model's parameters for several seeds (vmapped init)."""

  def init(key):
    k1, k2 = jax.random.split(key)
    return {
      "hidden": {
        "w": jax.random.normal(k1, (3, 4)),
        "b": jnp.zeros(4),
      },
      "out": jax.random.normal(k2, (4,)),
    }

  return jax.vmap(init)(jax.random.split(jax.random.key(0), num_seeds))


DATA_X = np.random.default_rng(1).normal(size=(32, 3))
DATA_Y = np.sin(DATA_X.sum(axis=1))


def model_loss(params, key=None):
  """Mean squared error, on a minibatch of 8 drawn with `key` when given."""
  x, y = jnp.asarray(DATA_X), jnp.asarray(DATA_Y)
  if key is not None:
    rows = jax.random.choice(key, len(x), (8,), replace=False)
    x, y = x[rows], y[rows]
  hidden = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
  return jnp.mean((hidden @ params["out"] - y) ** 2)


def keyed_model_loss(params, key):
  return model_loss(params, key)


def loop(factory, rate, loss, start, num_steps, lane=None):
  """One lane with optax, as a user writes it: the reference. Steps one by
  one (a fori_loop), compiled once per factory, loss and step count: the
  rate, the start and the lane are arguments."""
  return _compiled_loop(factory, loss, num_steps, lane is not None)(
    rate, start, lane
  )


@functools.cache
def _compiled_loop(factory, loss, num_steps, keyed):
  @jax.jit
  def run(rate, start, lane):
    optimizer = factory(rate)
    grad = jax.grad(lambda p, k: loss(p, k) if keyed else loss(p))

    def step(t, carry):
      params, state = carry
      key = (
        jax.random.fold_in(jax.random.fold_in(KEY, lane), t) if keyed else None
      )
      updates, state = optimizer.update(grad(params, key), state, params)
      return optax.apply_updates(params, updates), state

    return jax.lax.fori_loop(
      0, num_steps, step, (start, optimizer.init(start))
    )[0]

  return run


def tree_close(actual, expected, rtol=1e-10):
  jax.tree.map(
    lambda a, e: np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-12),
    actual,
    expected,
  )


def lane_of(tree, *index):
  return jax.tree.map(lambda leaf: leaf[index], tree)


def test_pytree_starts_equal_a_per_lane_optax_loop():
  starts = model_starts(2)
  result = sweep(
    optax.adam,
    model_loss,
    grid={"learning_rate": RATES},
    starts=starts,
    num_steps=20,
  )
  assert jax.tree.structure(result.final_params) == jax.tree.structure(starts)
  assert result.final_params["hidden"]["w"].shape == (3, 2, 3, 4)
  assert result.final_loss.shape == (3, 2)
  for i, rate in enumerate(RATES):
    for seed in range(2):
      expected = loop(optax.adam, rate, model_loss, lane_of(starts, seed), 20)
      tree_close(lane_of(result.final_params, i, seed), expected)
      np.testing.assert_allclose(
        result.final_loss[i, seed], model_loss(expected), rtol=1e-10
      )


@pytest.mark.parametrize("dim", [1, 3, 7])
def test_vector_starts_equal_a_per_lane_loop(dim):
  starts = np.random.default_rng(dim).uniform(-1, 1, (2, 2, dim))
  loss = landscapes.get_nd("rosenbrock")
  result = sweep(
    optax.sgd,
    loss,
    grid={"learning_rate": RATES[:2] / 100},
    starts=starts,
    num_steps=15,
    record_every=5,
  )
  assert result.final_params.shape == (2, 2, 2, dim)
  assert not result.diverged.any()
  # Small lanes (<= 16 numbers) record their parameters by default.
  assert result.trajectories.shape == (2, 2, 2, 4, dim)
  for i, rate in enumerate(RATES[:2] / 100):
    for j in range(2):
      for k in range(2):
        expected = loop(optax.sgd, rate, loss, jnp.asarray(starts[j, k]), 15)
        np.testing.assert_allclose(
          result.final_params[i, j, k], expected, rtol=1e-10
        )
  np.testing.assert_array_equal(
    result.trajectories[..., 0, :], np.broadcast_to(starts, (2, 2, 2, dim))
  )


PER_LEAF = {  # Rules that act on each leaf as a whole.
  "lamb": optax.lamb,
  "lars": optax.lars,
  "fromage": optax.fromage,
  "novograd": optax.novograd,
  "adafactor": optax.adafactor,
  "sm3": optax.sm3,
  "block_rms": lambda learning_rate: optax.chain(
    optax.clip_by_block_rms(0.5), optax.sgd(learning_rate)
  ),
}
ELEMENTWISE = {
  "sgd": optax.sgd,
  "adam": optax.adam,
  "lion": optax.lion,
  "madgrad": optax.contrib.madgrad,
  "nesterov_lookahead": optax_extras.nesterov_lookahead,
}
GLOBAL = {"dog": optax.contrib.dog, "prodigy": optax.contrib.prodigy}


@pytest.mark.parametrize("name", sorted(PER_LEAF))
@pytest.mark.parametrize("surface", ["plain", "landscape"])
def test_per_leaf_rules_see_the_vector_the_user_gave(name, surface):
  # Holding a 2-D start as two scalars (the fast path) would change these
  # rules: the sweep must equal a loop on the (2,) vector.
  booth = landscapes.get("booth")
  loss = booth if surface == "landscape" else lambda p: booth.fn(p[0], p[1])
  starts = np.random.default_rng(1).uniform(-4, 4, (3, 2))
  rates = np.array([0.01, 0.1])
  result = sweep(
    PER_LEAF[name],
    loss,
    grid={"learning_rate": rates},
    starts=starts,
    num_steps=12,
  )
  on_vector = lambda p: booth.fn(p[0], p[1])
  for i, rate in enumerate(rates):
    for j, start in enumerate(starts):
      expected = loop(PER_LEAF[name], rate, on_vector, jnp.asarray(start), 12)
      np.testing.assert_allclose(
        result.final_params[i, j], expected, rtol=1e-10
      )


def test_keyed_losses_equal_a_loop_with_the_documented_keys():
  starts = model_starts(3)
  result = sweep(
    optax.sgd,
    keyed_model_loss,
    grid={"learning_rate": RATES[:2]},
    starts=starts,
    num_steps=10,
    key=KEY,
  )
  for i, rate in enumerate(RATES[:2]):
    for seed in range(3):
      lane = i * 3 + seed  # Configuration-major.
      expected = loop(
        optax.sgd,
        rate,
        keyed_model_loss,
        lane_of(starts, seed),
        10,
        lane=lane,
      )
      tree_close(lane_of(result.final_params, i, seed), expected)
  # The key matters: another key, other minibatches, other parameters.
  other = sweep(
    optax.sgd,
    keyed_model_loss,
    grid={"learning_rate": RATES[:2]},
    starts=starts,
    num_steps=10,
    key=jax.random.key(8),
  )
  assert not np.allclose(other.final_loss, result.final_loss)


def test_keyed_losses_are_chunk_invariant_and_raw_keys_work():
  starts = model_starts(5)
  kwargs = dict(
    grid={"learning_rate": RATES},
    starts=starts,
    num_steps=6,
    key=jax.random.PRNGKey(3),
  )
  whole = sweep(optax.adam, keyed_model_loss, **kwargs)
  for chunk_size in (1, 4, 7):
    parts = sweep(optax.adam, keyed_model_loss, chunk_size=chunk_size, **kwargs)
    jax.tree.map(
      lambda a, b: np.testing.assert_array_equal(a, b),
      (parts.final_params, parts.final_loss),
      (whole.final_params, whole.final_loss),
    )


def test_metrics_are_evaluated_on_the_final_parameters():
  starts = model_starts(2)

  def metrics(params):
    return {
      "full_loss": model_loss(params),
      "norm": jnp.sum(params["out"] ** 2),
    }

  result = sweep(
    optax.adam,
    keyed_model_loss,
    grid={"learning_rate": RATES},
    starts=starts,
    num_steps=8,
    key=KEY,
    metrics_fn=metrics,
  )
  assert set(result.metrics) == {"full_loss", "norm"}
  assert result.trajectory_metrics == {}
  recorded = sweep(
    optax.adam,
    keyed_model_loss,
    grid={"learning_rate": RATES},
    starts=starts,
    num_steps=8,
    key=KEY,
    metrics_fn=metrics,
    record_every=4,
  )
  assert recorded.trajectory_metrics["norm"].shape == (3, 2, 3)
  np.testing.assert_array_equal(
    recorded.trajectory_metrics["full_loss"][..., -1],
    result.metrics["full_loss"],
  )
  np.testing.assert_allclose(
    recorded.trajectory_metrics["norm"][..., 0],
    np.broadcast_to(np.sum(starts["out"] ** 2, -1), (3, 2)),
    rtol=1e-12,
  )
  assert result.metrics["norm"].shape == (3, 2)
  for i in range(3):
    for seed in range(2):
      final = lane_of(result.final_params, i, seed)
      np.testing.assert_allclose(
        result.metrics["full_loss"][i, seed], model_loss(final), rtol=1e-10
      )


def test_large_lanes_record_the_loss_only_unless_asked():
  starts = model_starts(2)
  kwargs = dict(
    grid={"learning_rate": RATES[:1]},
    starts=starts,
    num_steps=6,
    record_every=3,
  )
  result = sweep(optax.adam, model_loss, **kwargs)
  assert result.trajectories is None
  assert result.trajectory_loss.shape == (1, 2, 3)
  asked = sweep(optax.adam, model_loss, record_params=True, **kwargs)
  assert asked.trajectories["hidden"]["w"].shape == (1, 2, 3, 3, 4)
  tree_close(
    jax.tree.map(lambda a: a[:, :, -1], asked.trajectories),
    asked.final_params,
  )


def test_a_pytree_result_saves_and_loads(tmp_path):
  starts = model_starts(2)
  result = sweep(
    optax.adam,
    keyed_model_loss,
    grid={"learning_rate": RATES[:2]},
    starts=starts,
    num_steps=4,
    key=KEY,
    metrics_fn=lambda p: {"loss": model_loss(p)},
  )
  result.save(tmp_path / "model")
  loaded = load_sweep(tmp_path / "model")
  np.testing.assert_array_equal(
    loaded.final_params["['hidden']['w']"], result.final_params["hidden"]["w"]
  )
  np.testing.assert_array_equal(loaded.metrics["loss"], result.metrics["loss"])
  np.testing.assert_array_equal(loaded.starts["['out']"], starts["out"])


def test_a_keyed_pytree_sweep_resumes_from_its_checkpoint(tmp_path):
  starts = model_starts(3)
  kwargs = dict(
    grid={"learning_rate": RATES},
    starts=starts,
    num_steps=5,
    key=KEY,
    chunk_size=4,
    checkpoint_dir=tmp_path / "ck",
  )
  first = sweep(optax.adam, keyed_model_loss, **kwargs)
  chunks = sorted((tmp_path / "ck").glob("lanes_*.npz"))
  assert len(chunks) == 3  # 9 lanes in chunks of 4.
  written = [path.stat().st_mtime_ns for path in chunks]
  again = sweep(optax.adam, keyed_model_loss, **kwargs)
  np.testing.assert_array_equal(again.final_loss, first.final_loss)
  assert [path.stat().st_mtime_ns for path in chunks] == written  # Read.
  with pytest.raises(ValueError, match="differing: key"):
    sweep(optax.adam, keyed_model_loss, **{**kwargs, "key": jax.random.key(1)})


def test_a_lane_alone_has_the_bits_it_has_in_a_large_sweep():
  """The block shrinks for small sweeps; a lane's code does not."""
  hills = landscapes.get("hills_and_canyon")
  starts = np.random.default_rng(0).uniform(-3, 3, (20000, 2))
  big = sweep(
    optax.adam,
    hills,
    grid={"learning_rate": RATES},
    starts=starts,
    num_steps=30,
  )
  assert programs.block_size("cpu", 3 * 20000, 2) == programs.BLOCK["cpu"]
  for index in (0, 12345):
    alone = sweep(
      optax.adam,
      hills,
      grid={"learning_rate": RATES[1:2]},
      starts=starts[index],
      num_steps=30,
    )
    assert programs.block_size("cpu", 1, 2) == programs.MIN_BLOCK
    assert alone.final_params.tobytes() == big.final_params[1, index].tobytes()


# --- Bad input, refused before compiling, naming the argument. ----------------


def refused(match, error=ValueError, **kwargs):
  arguments = dict(
    make_optimizer=optax.sgd,
    loss_fn=model_loss,
    grid={"learning_rate": RATES},
    starts=model_starts(2),
    num_steps=3,
  )
  arguments.update(kwargs)
  make, loss = arguments.pop("make_optimizer"), arguments.pop("loss_fn")
  with pytest.raises(error, match=match):
    sweep(make, loss, **arguments)


def test_leaves_with_different_leading_axes_are_refused():
  starts = {"a": np.zeros((3, 2)), "b": np.zeros((4,))}
  refused(r"one leading start axis, got \['a'\]: 3, \['b'\]: 4", starts=starts)


def test_a_structure_the_loss_rejects_is_refused():
  refused(
    r"`loss_fn` failed on one start's parameters.*KeyError",
    starts={"other": np.zeros((2, 3))},
  )


def test_a_key_for_a_loss_without_one_and_the_reverse_are_refused():
  refused(
    r"`key` was given.*loss\(params, key\)",
    error=TypeError,
    key=KEY,
    loss_fn=lambda params: model_loss(params),
  )
  refused(
    r"called as loss\(params\).*a key\? then give `key`",
    error=TypeError,
    loss_fn=keyed_model_loss,
  )
  refused(
    r"Landscape 'booth' takes no key",
    error=TypeError,
    loss_fn=landscapes.get("booth"),
    starts=np.zeros((2, 2)),
    key=KEY,
  )
  refused(r"`key` must be jax.random.key", error=TypeError, key=3)


def test_a_landscape_needs_2d_starts():
  refused(
    r"Landscape 'booth' is 2-D.*array \(3,\)",
    loss_fn=landscapes.get("booth"),
    starts=np.zeros((2, 3)),
  )


def test_metrics_must_be_a_dict_of_scalars():
  refused(
    r"name -> numeric scalar.*'w'", metrics_fn=lambda p: {"w": p["hidden"]["w"]}
  )
  refused(
    r"non-empty dict", error=TypeError, metrics_fn=lambda p: model_loss(p)
  )


def test_a_record_larger_than_memory_is_refused_with_its_size():
  refused(
    r"results would take [\d.]+ GiB .*`record_every`.*`record_params=False`",
    error=MemoryError,
    starts={"w": np.zeros((8, 10**5))},
    loss_fn=lambda p: jnp.sum(p["w"] ** 2),
    grid={"learning_rate": np.linspace(0.01, 1, 1000)},
    num_steps=10**4,
    record_every=1,
    record_params=True,
  )


def test_look_ahead_transforms_get_the_keyed_grad_fn():
  """nesterov_lookahead evaluates grad_fn: with the key in hand."""
  starts = model_starts(2)
  make = functools.partial(optax_extras.nesterov_lookahead, decay=0.9)
  result = sweep(
    make,
    keyed_model_loss,
    grid={"learning_rate": RATES[:1]},
    starts=starts,
    num_steps=4,
    key=KEY,
  )
  for seed in range(2):
    optimizer = make(RATES[0])
    params = lane_of(starts, seed)
    state = optimizer.init(params)
    for t in range(4):
      key = jax.random.fold_in(jax.random.fold_in(KEY, seed), t)
      grad_fn = lambda p, k=key: jax.grad(keyed_model_loss)(p, k)
      updates, state = optimizer.update(
        grad_fn(params), state, params, grad_fn=grad_fn
      )
      params = optax.apply_updates(params, updates)
    tree_close(lane_of(result.final_params, 0, seed), params)
