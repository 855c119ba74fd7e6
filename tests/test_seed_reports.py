"""The gallery's path figures show what the original write-ups report.

Each claim (quoted where the test has one) is asserted on the computed
trajectories, not on pictures.
"""

import functools

import numpy as np
import pytest

from experiments import catalogue, compute
from optax_extras import landscapes

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

FIGURES = {figure.name: figure for figure in catalogue.PATH_FIGURES}


@functools.cache
def final_points(name: str) -> dict[str, np.ndarray]:
  """label -> path, for one catalogue figure."""
  figure = FIGURES[name]
  paths = compute.paths(figure)["paths"]
  return {o.label: path for o, path in zip(figure.optimizers, paths)}


def distance_to_global_minimum(name, path):
  surface = landscapes.get(FIGURES[name].landscape)
  return np.linalg.norm(
    path - np.array(surface.global_minima[0].location), axis=-1
  )


def first_step_within(distances, radius):
  inside = np.flatnonzero(distances < radius)
  return inside[0] if inside.size else np.inf


def oscillation(path, last=50):
  return np.linalg.norm(np.diff(path[-last:], axis=0), axis=1).sum()


def test_seed000_all_but_adam_end_in_a_local_minimum():
  name = "cross_method/hills_and_canyon"
  ends = {
    k: distance_to_global_minimum(name, p[-1])
    for k, p in final_points(name).items()
  }
  assert ends.pop("adam") < 0.1
  assert all(d > 1.0 for d in ends.values()), ends


def test_seed000_no_method_reaches_the_global_minimum_from_a_bad_start():
  name = "cross_method/two_minimums"
  for label, path in final_points(name).items():
    assert distance_to_global_minimum(name, path[-1]) > 2.0, label


@pytest.mark.parametrize("surface", ["wobbly", "hills_and_canyon"])
def test_seed000_nesterov_with_large_momentum_wanders_further(surface):
  paths = final_points(f"nesterov_suite/{surface}")
  lengths = [oscillation(p, last=len(p)) for p in paths.values()]
  assert lengths == sorted(lengths)  # 0.25 < 0.9 < 0.975


def test_seed002_nag_oscillates_less_around_a_local_minimum():
  paths = final_points("dl_notes/momentum_vs_nag")
  assert oscillation(paths["NAG"]) < 0.1 * oscillation(paths["momentum"])


def test_seed003_booth_nag_arrives_sooner_and_adaptive_methods_barely_move():
  name = "tf1_notebook/booth"
  paths = final_points(name)
  arrival = {
    k: first_step_within(distance_to_global_minimum(name, p), 0.1)
    for k, p in paths.items()
  }
  assert arrival["NAG"] < arrival["Momentum"] < np.inf
  assert oscillation(paths["NAG"]) < oscillation(paths["Momentum"])
  for label in ("Adagrad", "RMSProp", "Adam"):
    assert oscillation(paths[label], last=71) < 0.25 * oscillation(
      paths["GD"], last=71
    )


def test_seed003_saddle_adam_leaves_at_once_adagrad_slows_down():
  # With TF1's starts (Adagrad's accumulator 0.1, RMSProp's mean square 1)
  # only Adam leaves "at once"; Adagrad and RMSProp leave about when the
  # momentum methods do, and all before plain gradient descent.
  paths = final_points("tf1_notebook/hyperbolic_saddle")
  leave = {
    k: first_step_within(-np.abs(p[:, 0]), -0.5) for k, p in paths.items()
  }
  assert leave["Adam"] < 0.5 * min(v for k, v in leave.items() if k != "Adam")
  assert max(leave.values()) == leave["GD"]
  x = {k: np.abs(p[:, 0]) for k, p in paths.items()}
  assert (
    x["Adagrad"][30] / x["Adagrad"][20] < x["RMSProp"][30] / x["RMSProp"][20]
  )


def test_seed003_beale_adam_and_rmsprop_lead_adagrad_lags_momentum_stalls():
  name = "tf1_notebook/beale"
  paths = final_points(name)
  ends = {k: distance_to_global_minimum(name, p[-1]) for k, p in paths.items()}
  assert max(ends["Adam"], ends["RMSProp"]) < ends["Adagrad"]
  surface = landscapes.get("beale")
  assert surface(paths["Momentum"][-1]) > surface(paths["NAG"][-1])
  assert oscillation(paths["Momentum"]) < 0.1


def symmetry_break(path, threshold=0.1):
  return first_step_within(-np.abs(path[:, 1]), -threshold)


def test_seed002_adaptive_methods_break_the_symmetry_first():
  # "For small learning rates Adam and RMSProp are superior to Momentum and
  # SGD"; "the adaptive algorithms break off the symmetry earlier ..., except
  # at 0.1, where Momentum and NAG outperform AdaDelta".
  small = {
    k: symmetry_break(p)
    for k, p in final_points("dl_notes/coordinates_lr_0.01").items()
  }
  assert max(small["Adam"], small["RMSProp"]) < min(
    small["SGD"], small["momentum"]
  )
  at_0_1 = {
    k: symmetry_break(p)
    for k, p in final_points("dl_notes/coordinates_lr_0.1").items()
  }
  assert max(at_0_1[k] for k in ("Adagrad", "RMSProp", "Adam")) < min(
    at_0_1[k] for k in ("SGD", "momentum", "NAG")
  )
  assert max(at_0_1["momentum"], at_0_1["NAG"]) < at_0_1["AdaDelta"]


def test_seed002_rmsprop_oscillates_around_x_0_where_adam_settles():
  paths = final_points("dl_notes/coordinates_lr_0.3")
  flips = {
    k: np.sum(np.diff(np.sign(p[20:, 0])) != 0) for k, p in paths.items()
  }
  assert flips["RMSProp"] > 5 * max(flips["Adam"], 1)
