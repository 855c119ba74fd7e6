"""Tests of the sweep's checkpoints: identity by content, damaged chunks,
exclusive folders, the compile cache, file permissions."""

import dataclasses
import functools
import os
import re
import stat
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optax_extras import landscapes, sweep
from optax_extras import load_sweep as load
from tests.test_sweep import assert_same, run_script

pytestmark = pytest.mark.float32  # The users' default.

HILLS = landscapes.get("hills_and_canyon")
KWARGS = dict(
  grid={"learning_rate": np.array([0.01, 0.1, 0.3])},
  starts=np.array([[-2.8, -2.5], [1.5, 2.0], [0.3, -1.7], [2.5, 0.5]]),
  num_steps=6,
  chunk_size=5,
  progress=False,
)  # 12 lanes: chunks of 5, 5, 2.


def sgd(learning_rate):
  return optax.sgd(learning_rate)


def adam_with(b1):
  return lambda learning_rate: optax.adam(learning_rate, b1=b1)


def shifted(shift):
  return lambda params: jnp.sum((params - shift) ** 2)


def weighted(params, weights):
  return jnp.mean(weights * (params[0] - 1.0) ** 2) + params[1] ** 2


WEIGHTS = np.linspace(1.0, 2.0, 4000)  # Large enough to tempt elision.
OTHER_WEIGHTS = WEIGHTS.copy()
OTHER_WEIGHTS[2000] += 1.0


def count_chunk_writes(monkeypatch):
  written = []
  replace = os.replace
  monkeypatch.setattr(
    os, "replace", lambda a, b: (written.append(b), replace(a, b))[1]
  )
  return lambda: len([path for path in written if "lanes_" in str(path)])


@pytest.mark.parametrize(
  "first, second",
  [
    (
      (lambda learning_rate: optax.sgd(learning_rate), HILLS),
      (lambda learning_rate: optax.adam(learning_rate), HILLS),
    ),
    ((adam_with(0.9), HILLS), (adam_with(0.5), HILLS)),
    ((sgd, shifted(0.0)), (sgd, shifted(1.0))),
    (
      (sgd, functools.partial(weighted, weights=WEIGHTS)),
      (sgd, functools.partial(weighted, weights=OTHER_WEIGHTS)),
    ),
    (
      (sgd, HILLS),
      (sgd, dataclasses.replace(HILLS, fn=lambda x, y: x**2 + y**2)),
    ),
  ],
  ids=["sgd_then_adam", "b1", "loss_shift", "partial_array", "landscape"],
)
def test_another_computation_with_the_same_names_is_refused(
  tmp_path, first, second
):
  sweep(*first, checkpoint_dir=tmp_path, **KWARGS)
  with pytest.raises(
    ValueError,
    match=re.escape(repr(str(tmp_path))) + ".*another computation.*program",
  ):
    sweep(*second, checkpoint_dir=tmp_path, **KWARGS)


@pytest.mark.parametrize(
  "change, differing",
  [
    (dict(grid={"learning_rate": np.array([0.01, 0.1, 0.4])}), "grid"),
    (dict(starts=KWARGS["starts"][::-1]), "starts_sha256"),
    (dict(starts=KWARGS["starts"].astype(np.float16)), "dtype"),
    (dict(tol=0.5), "tol"),
    (dict(record_every=2), "record_every"),
  ],
  ids=lambda value: value if isinstance(value, str) else "",
)
def test_other_settings_are_refused(tmp_path, change, differing):
  sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)
  with pytest.raises(ValueError, match=f"another computation.*{differing}"):
    sweep(sgd, HILLS, checkpoint_dir=tmp_path, **{**KWARGS, **change})


def test_the_same_computation_from_another_process_resumes(
  tmp_path, monkeypatch
):
  folder = tmp_path / "checkpoint"
  process = run_script(f"""
      import jax
      jax.config.update("jax_enable_x64", {jax.enable_x64.value})
      import numpy as np, optax
      from optax_extras import landscapes, sweep
      scale = 0.5
      sweep(lambda learning_rate: optax.adam(learning_rate * scale, b1=0.8),
            landscapes.get("hills_and_canyon"), checkpoint_dir={str(folder)!r},
            grid={{"learning_rate": np.array([0.01, 0.1, 0.3])}},
            starts=np.array({KWARGS["starts"].tolist()}), num_steps=6,
            chunk_size=5, progress=False)
  """)
  output = process.communicate(timeout=120)[0]
  assert process.returncode == 0, output
  writes = count_chunk_writes(monkeypatch)
  factor = 0.5  # Another name, another line, another process: same program.

  def make(learning_rate):
    return optax.adam(learning_rate * factor, b1=0.8)

  resumed = sweep(make, HILLS, checkpoint_dir=folder, **KWARGS)
  assert writes() == 0
  assert_same(resumed, sweep(make, HILLS, **KWARGS))


def damage_truncate(path):
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])


def damage_garbage(path):
  path.write_bytes(b"not a zip file")


def rewrite(path, change):
  with np.load(path) as data:
    arrays = change(dict(data))
  np.savez(path, **arrays)


def damage_drop_field(path):
  rewrite(
    path, lambda arrays: {k: v for k, v in arrays.items() if k != "best_loss"}
  )


def damage_change_value(path):
  def change(arrays):
    arrays["final_loss"] = arrays["final_loss"] + 1.0
    return arrays

  rewrite(path, change)


def damage_change_dtype(path):
  def change(arrays):
    arrays["final_loss"] = arrays["final_loss"].astype(np.float16)
    return arrays

  rewrite(path, change)


@pytest.mark.parametrize(
  "damage",
  [
    damage_truncate,
    damage_garbage,
    damage_drop_field,
    damage_change_value,
    damage_change_dtype,
    "from_another_sweep",
  ],
)
def test_a_damaged_chunk_is_recomputed_with_a_warning(
  tmp_path, monkeypatch, damage
):
  folder = tmp_path / "checkpoint"
  chunk = folder / "lanes_0000000005_0000000010.npz"
  sweep(sgd, HILLS, checkpoint_dir=folder, **KWARGS)
  if damage == "from_another_sweep":  # Same shapes, other settings.
    other = {**KWARGS, "grid": {"learning_rate": np.array([0.2, 0.4, 0.6])}}
    sweep(sgd, HILLS, checkpoint_dir=tmp_path / "other", **other)
    chunk.write_bytes((tmp_path / "other" / chunk.name).read_bytes())
  else:
    damage(chunk)
  writes = count_chunk_writes(monkeypatch)
  with pytest.warns(UserWarning, match=re.escape(repr(str(chunk)))):
    resumed = sweep(sgd, HILLS, checkpoint_dir=folder, **KWARGS)
  assert writes() == 1  # That chunk alone, rewritten whole.
  assert_same(resumed, sweep(sgd, HILLS, **KWARGS))
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    again = sweep(sgd, HILLS, checkpoint_dir=folder, **KWARGS)
  assert writes() == 1
  assert_same(again, resumed)


RACER = """
    import os, sys, time, jax
    jax.config.update("jax_enable_x64", {x64})
    import numpy as np, optax
    from optax_extras import landscapes, sweep
    replace = os.replace
    def slow_replace(source, target):  # A slow disk: a wide window for races.
      if str(target).endswith("settings.json"):
        time.sleep(2)
      replace(source, target)
    os.replace = slow_replace
    folder, me, other, rate = {folder!r}, {me!r}, {other!r}, {rate!r}
    open(me, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(other):  # Start together.
      assert time.monotonic() < deadline
      time.sleep(0.01)
    result = sweep(optax.sgd, landscapes.get("hills_and_canyon"),
                   checkpoint_dir=folder, grid={{"learning_rate": np.array([rate, 0.3])}},
                   starts=np.array({starts}), num_steps=6, chunk_size=1, progress=False)
    result.save(me + ".result")
"""


@pytest.mark.parametrize("rates", [(0.01, 0.02), (0.01, 0.01)])
def test_two_sweeps_started_together_in_one_folder(tmp_path, rates):
  folder, starts = str(tmp_path / "checkpoint"), KWARGS["starts"].tolist()
  ready = [str(tmp_path / f"ready_{i}") for i in (0, 1)]
  processes = [
    run_script(
      RACER.format(
        folder=folder,
        me=ready[i],
        other=ready[1 - i],
        rate=rate,
        starts=starts,
        x64=jax.enable_x64.value,
      )
    )
    for i, rate in enumerate(rates)
  ]
  outputs = [process.communicate(timeout=180)[0] for process in processes]
  succeeded = [i for i, p in enumerate(processes) if p.returncode == 0]
  kwargs = {**KWARGS, "chunk_size": 1, "starts": np.array(starts)}

  def expected(rate):
    grid = {"learning_rate": np.array([rate, 0.3])}
    return sweep(optax.sgd, HILLS, **{**kwargs, "grid": grid})

  if rates[0] == rates[1]:  # Same settings: both finish, both right.
    assert succeeded == [0, 1], outputs
  else:  # The folder belongs to one of them; the other is refused.
    assert len(succeeded) == 1, outputs
    loser = outputs[1 - succeeded[0]]
    assert "another computation" in loser and folder in loser, loser
  for i in succeeded:
    assert_same(load(ready[i] + ".result"), expected(rates[i]))
  # Every chunk in the folder is the winner's, intact (no warning).
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    winner = rates[succeeded[0]]
    grid = {"learning_rate": np.array([winner, 0.3])}
    resumed = sweep(
      optax.sgd, HILLS, checkpoint_dir=folder, **{**kwargs, "grid": grid}
    )
  assert_same(resumed, expected(winner))


def count_compilations():
  """A list that grows by one at each XLA compilation (unregister after)."""
  compiles = []

  def listener(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
      compiles.append(duration)

  jax.monitoring.register_event_duration_secs_listener(listener)
  return compiles, listener


def test_jit_semantics_the_same_functions_compile_once():
  compiles, listener = count_compilations()

  def make(learning_rate):
    return optax.adam(learning_rate, b1=0.7)

  try:
    first = sweep(make, HILLS, **KWARGS)
    assert compiles, "the listener heard no compilation"
    before = len(compiles)
    again = sweep(make, HILLS, **KWARGS)
    other = {
      **KWARGS,
      "grid": {"learning_rate": np.array([0.2, 0.4, 0.6, 0.8])},
      "starts": KWARGS["starts"] + 0.5,
      "num_steps": 9,  # A runtime value.
    }
    sweep(make, HILLS, **other)
    assert len(compiles) == before
    # A function defined anew is another static argument: compiled again.
    sweep(lambda learning_rate: make(learning_rate), HILLS, **KWARGS)
    assert len(compiles) == before + 1
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
  assert_same(again, first)


def test_a_checkpoint_is_labelled_with_the_program_that_ran(tmp_path):
  # jit reads a captured value when it traces: a function object reused
  # after its global changed runs the program traced first, and a
  # checkpoint is labelled with that program's fingerprint, not a new one.
  state = {"scale": 1.0}

  def loss(params):
    return state["scale"] * HILLS(params)

  first = sweep(sgd, loss, checkpoint_dir=tmp_path / "a", **KWARGS)
  state["scale"] = 2.0
  stale = sweep(sgd, loss, checkpoint_dir=tmp_path / "b", **KWARGS)
  assert stale.settings["program"] == first.settings["program"]
  assert_same(stale, first)
  fresh = sweep(sgd, lambda p: loss(p), checkpoint_dir=tmp_path / "c", **KWARGS)
  assert fresh.settings["program"] != first.settings["program"]
  assert_same(fresh, sweep(sgd, lambda p: 2.0 * HILLS(p), **KWARGS))


def test_a_folder_resumes_with_another_chunk_size(tmp_path, monkeypatch):
  folder = tmp_path / "checkpoint"
  sweep(sgd, HILLS, checkpoint_dir=folder, **{**KWARGS, "chunk_size": 5})
  (folder / "lanes_0000000005_0000000010.npz").unlink()  # Lanes 5..9 lost.
  writes = count_chunk_writes(monkeypatch)
  resumed = sweep(
    sgd, HILLS, checkpoint_dir=folder, **{**KWARGS, "chunk_size": 2}
  )
  assert writes() == 3  # Lanes 5-6, 7-8, 9.
  assert_same(resumed, sweep(sgd, HILLS, **KWARGS))
  again = sweep(
    sgd, HILLS, checkpoint_dir=folder, **{**KWARGS, "chunk_size": 7}
  )
  assert writes() == 3
  assert_same(again, resumed)


GOLDENS = os.path.join(os.path.dirname(__file__), "goldens", "sweep_v1")
V1 = dict(  # The sweep whose results and folder version 0.1.0 saved.
  grid={"learning_rate": np.array([0.01, 0.1, 0.5], np.float32)},
  starts=np.array([[-1.0, 2.0], [0.5, -0.5]], np.float32),
  num_steps=6,
  tol=0.5,
  record_every=2,
)


def test_results_saved_by_version_0_1_still_load():
  result = load(os.path.join(GOLDENS, "result"))
  assert result.final_loss.shape == (3, 2)
  assert result.trajectories.shape == (3, 2, 4, 2)
  again = sweep(optax.adam, landscapes.get("booth"), **V1)
  np.testing.assert_allclose(again.final_loss, result.final_loss, rtol=1e-5)
  np.testing.assert_array_equal(again.tol_step, result.tol_step)
  tree = load(os.path.join(GOLDENS, "pytree_result"))
  assert sorted(tree.final_params) == ["['b']", "['w']"]


def test_a_folder_written_by_version_0_1_is_refused(tmp_path):
  import shutil

  folder = tmp_path / "old"
  shutil.copytree(os.path.join(GOLDENS, "checkpoint"), folder)
  with pytest.raises(ValueError, match="written by an earlier version"):
    sweep(
      optax.adam,
      landscapes.get("booth"),
      chunk_size=4,
      checkpoint_dir=folder,
      **V1,
    )


def test_files_get_the_usual_permissions(tmp_path):
  umask = os.umask(0o022)
  try:
    result = sweep(sgd, HILLS, checkpoint_dir=tmp_path / "checkpoint", **KWARGS)
    result.save(tmp_path / "result")
  finally:
    os.umask(umask)
  files = sorted(tmp_path.rglob("*.*"))
  assert [path.name for path in files] == [
    "lanes_0000000000_0000000005.npz",
    "lanes_0000000005_0000000010.npz",
    "lanes_0000000010_0000000012.npz",
    "settings.json",
    "result.json",
    "result.npz",
  ]
  for path in files:
    assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_a_checkpoint_dir_that_is_a_file_or_a_dangling_link_is_refused(
  tmp_path,
):
  file = tmp_path / "file"
  file.write_text("")
  with pytest.raises(ValueError, match=re.escape(f"{str(file)!r} is a file")):
    sweep(sgd, HILLS, checkpoint_dir=file, **KWARGS)
  link = tmp_path / "link"
  link.symlink_to(tmp_path / "nowhere")
  with pytest.raises(ValueError, match="symbolic link to .*nowhere"):
    sweep(sgd, HILLS, checkpoint_dir=link, **KWARGS)


@pytest.mark.skipif(
  not os.path.isdir("/proc/self"), reason="needs Linux's /proc"
)
def test_a_checkpoint_dir_that_takes_no_files_is_refused():
  # Not even root can create a folder in /proc.
  with pytest.raises(OSError, match="cannot write .*/proc/self/sweep"):
    sweep(sgd, HILLS, checkpoint_dir="/proc/self/sweep", **KWARGS)


def _failing_write(monkeypatch, code, after):
  """Makes the checkpoint's writes fail with `code` after `after` files."""
  from optax_extras._src.sweep import checkpoint

  written, real = [], checkpoint.atomic_write

  def write(path, *args, **kwargs):
    if len(written) == after:
      raise OSError(code, os.strerror(code))
    written.append(path)
    return real(path, *args, **kwargs)

  monkeypatch.setattr(checkpoint, "atomic_write", write)
  return written


def test_a_read_only_checkpoint_dir_is_refused(tmp_path, monkeypatch):
  import errno

  _failing_write(monkeypatch, errno.EACCES, after=0)
  with pytest.raises(OSError, match="settings.json.*not writable") as error:
    sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)
  assert error.value.errno == errno.EACCES


def test_a_full_disk_names_the_file_and_keeps_the_saved_chunks(
  tmp_path, monkeypatch
):
  import errno

  written = _failing_write(monkeypatch, errno.ENOSPC, after=2)
  with pytest.raises(
    OSError, match="lanes_0000000005_0000000010.*disk is full"
  ):
    sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)
  assert [os.path.basename(p) for p in written] == [
    "settings.json",
    "lanes_0000000000_0000000005.npz",
  ]
  monkeypatch.undo()
  resumed = sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)
  assert_same(resumed, sweep(sgd, HILLS, **KWARGS))


def test_a_folder_where_a_chunk_file_belongs_is_refused(tmp_path):
  sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)
  chunk = tmp_path / "lanes_0000000005_0000000010.npz"
  chunk.unlink()
  chunk.mkdir()
  with pytest.raises(ValueError, match=re.escape(str(chunk)) + ".* a folder"):
    sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)


def test_temporary_files_of_killed_writes_are_removed_when_stale(tmp_path):
  from optax_extras._src.sweep import checkpoint

  old = tmp_path / ".lanes_0000000000_0000000005.npz.k1ll3d.tmp"
  young = tmp_path / ".lanes_0000000005_0000000010.npz.wr1t1n.tmp"
  other = tmp_path / "notes.tmp"  # Not ours: kept.
  for path in (old, young, other):
    path.write_bytes(b"half a file")
  past = time.time() - checkpoint.STALE_SECONDS - 1
  os.utime(old, (past, past))
  os.utime(other, (past, past))
  result = sweep(sgd, HILLS, checkpoint_dir=tmp_path, **KWARGS)
  assert not old.exists() and young.exists() and other.exists()
  # The chunks' own temporary files were renamed into place.
  assert sorted(p.name for p in tmp_path.glob("*.tmp")) == [
    young.name,
    "notes.tmp",
  ]
  assert_same(result, sweep(sgd, HILLS, **KWARGS))


def test_atomic_write_names_its_temporary_file_after_the_target(tmp_path):
  from optax_extras import io

  seen = []
  io.atomic_write(
    tmp_path / "a.npz", lambda file: seen.extend(os.listdir(tmp_path))
  )
  assert len(seen) == 1 and re.fullmatch(r"\.a\.npz\..+\.tmp", seen[0])
  assert os.listdir(tmp_path) == ["a.npz"]
