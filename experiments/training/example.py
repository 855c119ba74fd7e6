"""The whole example: learning histories, the many-models sweep, their
tables and figures, and the flat arrays the gallery saves them as."""

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from flax import traverse_util

from experiments.training.data import load_digits
from experiments.training.loop import History, learning_histories, results_table
from experiments.training.many import (
  DEFAULT_SWEEP,
  RELATIVE_LEARNING_RATES,
  Sweep,
  learning_rate_sweep,
  sensitivity_table,
)
from experiments.training.optimizers import OPTIMIZERS


def plot_learning_histories(histories, path, **kwargs) -> Path:
  """`draw.learning_histories` with the catalogue's families."""
  from experiments import draw

  families = {n: OPTIMIZERS[n].family for n in histories if n in OPTIMIZERS}
  return draw.learning_histories(histories, path, families=families, **kwargs)


def plot_sweep(sweeps, path, **kwargs) -> Path:
  """`draw.learning_rate_sensitivity` with the catalogue's tuned rates."""
  from experiments import draw

  return draw.learning_rate_sensitivity(
    sweeps,
    path,
    families={n: OPTIMIZERS[n].family for n in sweeps},
    tuned_rates={n: OPTIMIZERS[n].learning_rate for n in sweeps},
    **kwargs,
  )


def results(
  quick: bool = False, *, show_progress: bool = True
) -> tuple[dict[str, History], dict[str, Sweep]]:
  """The learning histories and the vmapped learning-rate sweeps.

  ``quick=True`` trains fewer epochs and a smaller sweep (a smoke test, about
  15 s on two CPU cores; the full run takes about 50 s).
  """
  data = load_digits()
  if quick:
    names = (
      "sgd_nesterov",
      "nesterov_lookahead",
      "adam",
      "adam_calibrated",
      "adadelta_bigstart",
      "adagrad_family",
    )
    epochs, sweep_epochs, num_seeds = 3, 3, 2
    relative = RELATIVE_LEARNING_RATES[::3]
    sweep_names = ("nesterov_lookahead", "adam_calibrated")
  else:
    names, epochs, sweep_epochs, num_seeds = tuple(OPTIMIZERS), 30, 20, 8
    relative = RELATIVE_LEARNING_RATES
    sweep_names = DEFAULT_SWEEP
  histories = learning_histories(
    names, epochs, data=data, show_progress=show_progress
  )
  sweeps = learning_rate_sweep(
    sweep_names,
    num_seeds=num_seeds,
    relative_learning_rates=relative,
    epochs=sweep_epochs,
    data=data,
    show_progress=show_progress,
  )
  return histories, sweeps


def to_arrays(
  histories: Mapping[str, History], sweeps: Mapping[str, Sweep]
) -> dict[str, np.ndarray]:
  """Flat arrays (for ``np.savez``) of `results`; `from_arrays` inverts it.

  Keys are ``history/NAME/FIELD`` and ``sweep/NAME/FIELD``, where a sweep's
  fields are its learning rates, its seeds and its history's fields.
  """
  tree = {
    "history": {name: h._asdict() for name, h in histories.items()},
    "sweep": {
      name: {
        "learning_rates": s.learning_rates,
        "seeds": s.seeds,
        **s.history._asdict(),
      }
      for name, s in sweeps.items()
    },
  }
  flat = traverse_util.flatten_dict(tree, sep="/")
  return {key: np.asarray(value) for key, value in flat.items()}


def from_arrays(
  arrays: Mapping[str, np.ndarray],
) -> tuple[dict[str, History], dict[str, Sweep]]:
  """`results` back from the arrays of `to_arrays`."""
  tree = traverse_util.unflatten_dict(dict(arrays), sep="/")
  histories = {
    name: History(**fields) for name, fields in tree.get("history", {}).items()
  }
  sweeps = {
    name: Sweep(
      fields.pop("learning_rates"), fields.pop("seeds"), History(**fields)
    )
    for name, fields in tree.get("sweep", {}).items()
  }
  return histories, sweeps


def run(
  out_dir: str | Path = "figures",
  quick: bool = False,
  *,
  show_progress: bool = True,
) -> dict[str, Any]:
  """The whole example: learning histories, then the vmapped sweep.

  Writes ``training_histories.png`` and ``training_lr_sensitivity.png`` into
  `out_dir` and prints the tables.

  Returns:
    ``{"histories", "sweeps", "figures", "seconds"}``.
  """
  start = time.perf_counter()
  out_dir = Path(out_dir)
  histories, sweeps = results(quick, show_progress=show_progress)
  figures = [
    plot_learning_histories(histories, out_dir / "training_histories.png"),
    plot_sweep(sweeps, out_dir / "training_lr_sensitivity.png"),
  ]
  print(results_table(histories))
  print(sensitivity_table(sweeps))
  seconds = time.perf_counter() - start
  for figure in figures:
    print(f"wrote {figure}")
  print(f"done in {seconds:.1f} s")
  return {
    "histories": histories,
    "sweeps": sweeps,
    "figures": figures,
    "seconds": seconds,
  }
