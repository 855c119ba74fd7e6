"""Training a Flax (nnx) network with every optimizer of this library.

The example reads top to bottom like a Flax tutorial:

1. **Data**: scikit-learn's 8x8 handwritten digits (shipped with the package,
   no download), scaled to [0, 1], split 80/20 with stratification.
2. **Model**: a small MLP, 64 -> 64 -> 10 with a ReLU.
3. **Optimizers**: a catalogue, `OPTIMIZERS`, of this library's optimizers
   next to their optax counterparts, each behind the same
   ``optax.chain(clip_by_global_norm, add_decayed_weights, optimizer)`` with a
   cosine learning-rate schedule, inside ``nnx.Optimizer``.
4. **Train step**: one ``@nnx.jit`` step for all of them. The look-ahead
   momentum (`optax_extras.nesterov_lookahead`) reads gradients at points
   ahead of the parameters, so the step hands it
   ``grad_fn = gradient of the mini-batch loss at given parameters``
   through ``optimizer.update(model, grads, grad_fn=...)``; the others ignore
   it.
5. **Loop**: `train` runs one optimizer and returns its `History`;
   `learning_histories` runs several; `plot_learning_histories` draws them.

Then **many models at once**: `train_many` trains seeds x learning rates of
one optimizer as one `optax_extras.sweep` (the seeds' parameters are the
starts, the learning rate the grid, minibatches drawn with each model's
key, whole-set metrics through ``metrics_fn``), and `learning_rate_sweep` /
`plot_sweep` / `sensitivity_table` use it to test the seed article's claim
that Nesterov momentum is more sensitive to the learning rate than Adam.

`run(out_dir, quick=False)` does it all and writes two PNGs (``python -m
experiments training``). Modules: `data`, `model`, `optimizers`, `loop` (one
model), `many` (the sweep), `example` (the whole run); the figures are drawn
in `experiments.draw`.
"""

from experiments.training.data import Dataset, epoch_batches, load_digits
from experiments.training.example import (
  from_arrays,
  plot_learning_histories,
  plot_sweep,
  results,
  run,
  to_arrays,
)
from experiments.training.loop import (
  History,
  learning_histories,
  results_table,
  train,
  train_step,
  train_step_fn,
)
from experiments.training.many import (
  DEFAULT_SWEEP,
  RELATIVE_LEARNING_RATES,
  Sweep,
  initial_params,
  learning_rate_sweep,
  metrics,
  minibatch_loss,
  sensitivity_table,
  train_many,
)
from experiments.training.model import (
  MLP,
  create_model,
  evaluate,
  evaluate_fn,
  loss_fn,
)
from experiments.training.optimizers import (
  LIBRARY_OPTIMIZERS,
  OPTIMIZERS,
  SMOOTHED_LOOKAHEAD,
  OptimizerSpec,
  create,
  make_optimizer,
)

__all__ = (
  "DEFAULT_SWEEP",
  "LIBRARY_OPTIMIZERS",
  "MLP",
  "OPTIMIZERS",
  "RELATIVE_LEARNING_RATES",
  "SMOOTHED_LOOKAHEAD",
  "Dataset",
  "History",
  "OptimizerSpec",
  "Sweep",
  "create",
  "create_model",
  "epoch_batches",
  "evaluate",
  "evaluate_fn",
  "from_arrays",
  "initial_params",
  "learning_histories",
  "learning_rate_sweep",
  "load_digits",
  "loss_fn",
  "make_optimizer",
  "metrics",
  "minibatch_loss",
  "plot_learning_histories",
  "plot_sweep",
  "results",
  "results_table",
  "run",
  "sensitivity_table",
  "to_arrays",
  "train",
  "train_many",
  "train_step",
  "train_step_fn",
)
