"""The cases where the first engine returned silently wrong numbers (issue
20), each a test: host callbacks, shape-reading optimizers and
per-coordinate hyperparameters, processes given other arguments, and
trajectory requests that cannot fit. (Traced zeros in the transforms and
presets: tests/test_value_branches.py.)"""

import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import landscapes, sweep
from tests.test_sweep_checkpoint import count_compilations
from tests.test_sweep_distributed import free_port

pytestmark = pytest.mark.float32

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOTH = landscapes.get("booth")
KWARGS = dict(
  grid={"learning_rate": np.array([0.01, 0.1])},
  starts=np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.2]]),
  num_steps=7,
)


def vmapped(make, loss, grid, starts, num_steps):
  """The reference: `run_lane` under plain jax.vmap, configuration-major."""
  names = list(grid)
  mesh = np.meshgrid(*grid.values(), indexing="ij")
  configs = {n: jnp.asarray(m.reshape(-1)) for n, m in zip(names, mesh)}
  starts = jnp.asarray(starts, jnp.float32)

  def one(config, start):
    return optax_extras.run_lane(
      make(**config), loss, start, num_steps=num_steps
    ).final_params

  per_config = jax.vmap(lambda c: jax.vmap(lambda s: one(c, s))(starts))
  return np.asarray(per_config(configs)).reshape(*mesh[0].shape, *starts.shape)


# --- 1. Host callbacks ----------------------------------------------------


def differentiable_host_loss(scale):
  @jax.custom_jvp
  def loss(params):
    return jax.pure_callback(
      lambda p: np.float32(scale * np.sum(np.asarray(p) ** 2)),
      jax.ShapeDtypeStruct((), jnp.float32),
      params,
      vmap_method="sequential",
    )

  @loss.defjvp
  def _(primals, tangents):
    (p,), (dp,) = primals, tangents
    return loss(p), jnp.sum(2 * scale * p * dp)

  return loss


def test_two_callback_losses_give_their_own_results():
  one, two = differentiable_host_loss(1.0), differentiable_host_loss(3.0)
  first = sweep(optax.sgd, one, **KWARGS)
  second = sweep(optax.sgd, two, **KWARGS)
  expected = sweep(optax.sgd, lambda p: 3.0 * jnp.sum(p**2), **KWARGS)
  np.testing.assert_allclose(second.final_loss, expected.final_loss, rtol=1e-5)
  assert not np.allclose(first.final_loss, second.final_loss)


def test_a_callback_loss_with_a_checkpoint_is_refused_unless_vouched(tmp_path):
  loss = differentiable_host_loss(1.0)
  with pytest.raises(ValueError, match="pure_callback.*checkpoint_key"):
    sweep(optax.sgd, loss, checkpoint_dir=tmp_path / "a", **KWARGS)
  assert not (tmp_path / "a").exists()  # Refused before claiming it.
  vouched = sweep(
    optax.sgd,
    loss,
    checkpoint_dir=tmp_path / "b",
    checkpoint_key="sum of squares, v1",
    **KWARGS,
  )
  # Another key is another computation: the folder is refused.
  with pytest.raises(ValueError, match="differing: checkpoint_key"):
    sweep(
      optax.sgd,
      differentiable_host_loss(3.0),
      checkpoint_dir=tmp_path / "b",
      checkpoint_key="sum of squares times 3",
      **KWARGS,
    )
  np.testing.assert_allclose(
    vouched.final_loss, sweep(optax.sgd, loss, **KWARGS).final_loss
  )


def test_an_optimizer_calling_python_is_refused_for_a_checkpoint(tmp_path):
  def make(learning_rate):
    def scale(updates, state, params=None):
      del params
      halved = jax.pure_callback(
        lambda u: (np.asarray(u) * 0.5).astype(np.float32),
        jax.ShapeDtypeStruct((2,), jnp.float32),
        updates,
        vmap_method="sequential",
      )
      return halved, state

    return optax.chain(
      optax.sgd(learning_rate),
      optax.GradientTransformation(lambda p: optax.EmptyState(), scale),
    )

  with pytest.raises(ValueError, match="pure_callback"):
    sweep(make, BOOTH, checkpoint_dir=tmp_path, **KWARGS)


# --- 3. What user code sees -----------------------------------------------


def size_scaled_sgd(learning_rate):
  """An optimizer that reads its leaf's size (as layer-wise rules do)."""

  def update(updates, state, params=None):
    del params
    return jax.tree.map(lambda u: -learning_rate * u / u.size, updates), state

  return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


def per_coordinate_sgd(learning_rate):
  """A per-coordinate array hyperparameter: a rate for x, another for y."""
  rates = learning_rate * jnp.array([1.0, 0.1])
  return optax.GradientTransformation(
    lambda p: optax.EmptyState(),
    lambda u, s, p=None: (jax.tree.map(lambda g: -rates * g, u), s),
  )


@pytest.mark.parametrize("make", [size_scaled_sgd, per_coordinate_sgd])
@pytest.mark.parametrize("loss", ["landscape", "plain"])
def test_user_code_sees_what_it_sees_under_vmap(make, loss):
  loss = BOOTH if loss == "landscape" else lambda p: BOOTH.fn(p[0], p[1])
  result = sweep(make, loss, **KWARGS)
  expected = vmapped(
    make, loss, KWARGS["grid"], KWARGS["starts"], KWARGS["num_steps"]
  )
  np.testing.assert_array_equal(result.final_params, expected)


@pytest.mark.parametrize("name", sorted(landscapes.names()))
def test_every_surface_equals_the_vmapped_lane_bit_for_bit(name):
  surface = landscapes.get(name)
  starts = np.asarray(surface.start, np.float32)[None] + np.array(
    [[0.0, 0.0], [0.1, -0.2]], np.float32
  )
  grid = {"learning_rate": np.array([1e-3, 1e-2], np.float32)}
  result = sweep(optax.adam, surface, grid=grid, starts=starts, num_steps=5)
  expected = vmapped(optax.adam, surface, grid, starts, 5)
  np.testing.assert_array_equal(result.final_params, expected)


# --- 4. Processes given other arguments -----------------------------------

PROCESS = """
import sys, time
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize("127.0.0.1:{port}", num_processes=2,
                           process_id={process_id})
import numpy as np, optax
from optax_extras import landscapes, sweep
rates = {rates}
try:
  sweep(optax.sgd, landscapes.get("booth"), grid={{"learning_rate": rates}},
        starts=np.zeros((3, 2)), num_steps=5, progress=False)
except Exception as error:
  print("REFUSED", type(error).__name__, error, flush=True)
  sys.exit(3)
print("RAN", flush=True)
"""


def run_two(rates_0, rates_1):
  port = free_port()
  processes = [
    subprocess.Popen(
      [
        sys.executable,
        "-c",
        PROCESS.format(port=port, process_id=i, rates=rates),
      ],
      cwd=REPO,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
    for i, rates in enumerate((rates_0, rates_1))
  ]
  start = time.monotonic()
  outputs = [p.communicate(timeout=120)[0] for p in processes]
  return outputs, [p.returncode for p in processes], time.monotonic() - start


@pytest.mark.slow
def test_processes_given_other_arguments_both_fail_clearly():
  outputs, codes, _ = run_two("np.array([0.1, 0.2])", "np.array([0.1, 0.3])")
  assert codes == [3, 3], outputs
  for output in outputs:
    assert "REFUSED ValueError" in output, output
    assert "same computation" in output and "grid" in output, output


@pytest.mark.slow
def test_a_process_refused_brings_the_other_down_within_seconds():
  outputs, codes, seconds = run_two(
    "np.array([0.1, 0.2])", "np.array([0.1, np.nan])"
  )
  assert codes == [3, 3], outputs
  assert "grid['learning_rate']" in outputs[1], outputs[1]
  assert "process 1 of 2 failed" in outputs[0], outputs[0]
  assert "grid['learning_rate']" in outputs[0], outputs[0]
  assert seconds < 25, seconds  # Not a collective's 30 s timeout.


# --- 5. Trajectory requests that cannot fit -------------------------------


@pytest.mark.parametrize(
  "request_",
  [
    dict(record_params=False),  # Losses alone.
    dict(record_params=False, metrics_fn=lambda p: {"norm": jnp.sum(p**2)}),
    dict(
      starts={"w": np.zeros((4, 3)), "b": np.zeros((4,))},
      record_params=True,
    ),
  ],
  ids=["loss", "metrics", "pytree"],
)
def test_an_oversize_trajectory_request_fails_before_compiling(request_):
  compiles, listener = count_compilations()
  starts = request_.pop("starts", np.zeros((4, 2)))
  loss = lambda p: sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(p))
  try:
    with pytest.raises(MemoryError, match="record_every"):
      sweep(
        optax.sgd,
        loss,
        grid={"learning_rate": np.linspace(0.01, 1, 2**14)},
        starts=starts,
        num_steps=2**20,
        record_every=1,
        **request_,
      )
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
  assert not compiles


# --- Step 0, as on a CPU and as on an accelerator ---------------------------


def test_step_zero_inside_or_before_the_loop_gives_the_same_lane(monkeypatch):
  """On a CPU the loop's body evaluates the start (a conditional skips its
  update); elsewhere the start is evaluated before the loop. Same lanes."""
  loss = lambda p: BOOTH.fn(p[0], p[1])
  rates = jnp.array([0.01, 0.1, 1e3])  # The last diverges.
  starts = jnp.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.2]])

  def run():
    return jax.vmap(
      lambda lr, x: optax_extras.run_lane(
        optax.sgd(lr, momentum=0.5),
        loss,
        x,
        num_steps=9,
        tol=1.0,
        record_every=2,
        metrics_fn=lambda p: {"norm": jnp.sum(p**2)},
      )
    )(rates, starts)

  on_cpu = run()
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  elsewhere = run()
  assert int(on_cpu.divergence_step[2]) > 0
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6),
    on_cpu,
    elsewhere,
  )
