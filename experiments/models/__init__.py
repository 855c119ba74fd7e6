"""Does the atlas predict training? Every optimizer tuned on real models.

`workloads`: real models on real data (the digits MLP, a 1-D CNN on
MNIST-1D, a regression MLP on the diabetes data), each with its metric,
target, budget and split. `protocol`: per
optimizer and workload, a learning-rate grid x seeds as lanes of one
`optax_extras.sweep`, the rate picked by `experiments.tuning.robust_rate`,
steps to target with censored runs counted, a t interval over seeds, and
Spearman's rank correlation with a bootstrap interval. `page`: ``python -m
experiments models [--quick] [--out DIR] [--atlas FILE]`` writes
models.html, its figures, models.json and a manifest that `page.load`
checks.
"""

from experiments.models.page import QUICK_OPTIMIZERS, build, load
from experiments.models.protocol import Settings, run, spearman
from experiments.models.workloads import WORKLOADS, Workload

__all__ = (
  "QUICK_OPTIMIZERS",
  "WORKLOADS",
  "Settings",
  "Workload",
  "build",
  "load",
  "run",
  "spearman",
)
