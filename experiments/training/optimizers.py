"""The optimizers: a catalogue of this library's optimizers next to their
optax counterparts, each behind the same ``optax.chain(clip_by_global_norm,
add_decayed_weights, optimizer)`` with a cosine learning-rate schedule."""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import optax
from flax import nnx

import optax_extras
from experiments.training.model import MLP, create_model


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
  """One entry of the catalogue: an optimizer and its settings.

  Attributes:
    factory: ``schedule -> optax transform``; ``schedule(count)`` is the
      learning rate at step ``count``.
    learning_rate: the peak of the schedule, tuned for this example.
    weight_decay: coupled L2 (``optax.add_decayed_weights``) on the kernels.
    family: the optimizers that are compared with each other.
    description: one line for tables and legends.
  """

  factory: Callable[[optax.Schedule], optax.GradientTransformation]
  learning_rate: float
  weight_decay: float = 0.0
  family: str = ""
  description: str = ""


SMOOTHED_LOOKAHEAD = (0.25, 0.5, 0.75, 1.0)

# Weight decay (coupled L2) is used for the momentum family, where it is the
# usual weight decay; for the adaptive optimizers L2 in the gradient is not
# weight decay (AdamW decouples it), so they train without it.
_WEIGHT_DECAY = 1e-4

OPTIMIZERS: dict[str, OptimizerSpec] = {
  # Momentum.
  "momentum": OptimizerSpec(
    lambda lr: optax.sgd(lr, momentum=0.9),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "optax.sgd(momentum=0.9)",
  ),
  "sgd_nesterov": OptimizerSpec(
    lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "optax.sgd(momentum=0.9, nesterov=True)",
  ),
  "nesterov_lookahead": OptimizerSpec(
    lambda lr: optax_extras.nesterov_lookahead(lr, 0.9, (1.0,)),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "nesterov_lookahead, 1 point ahead",
  ),
  "smoothed_nesterov": OptimizerSpec(
    lambda lr: optax_extras.nesterov_lookahead(lr, 0.9, SMOOTHED_LOOKAHEAD),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "nesterov_lookahead, 4 points ahead",
  ),
  # Adam.
  "adam": OptimizerSpec(
    optax.adam, 1e-2, family="adam", description="optax.adam"
  ),
  "adam_calibrated": OptimizerSpec(
    optax_extras.adam_calibrated,
    1e-2,
    family="adam",
    description="adam_calibrated, standard",
  ),
  "adam_first_gradient": OptimizerSpec(
    lambda lr: optax_extras.adam_calibrated(
      lr, bias_correction="first_gradient"
    ),
    1e-2,
    family="adam",
    description="adam_calibrated, first_gradient",
  ),
  "rmsprop": OptimizerSpec(
    optax.rmsprop, 1e-2, family="adam", description="optax.rmsprop"
  ),
  # Adadelta.
  "adadelta": OptimizerSpec(
    optax.adadelta,
    1.0,
    family="adadelta",
    description="optax.adadelta (starts from 0)",
  ),
  "adadelta_bigstart": OptimizerSpec(
    lambda lr: optax_extras.adadelta_bigstart(
      lr, rho=0.9, initial_delta_sq=1e-4
    ),
    1.0,
    family="adadelta",
    description="adadelta_bigstart, E[dx^2]_0 = 1e-4",
  ),
  # Adagrad.
  "adagrad": OptimizerSpec(
    optax.adagrad,
    0.3,
    family="adagrad",
    description="optax.adagrad (A_0 = 0.1)",
  ),
  "adagrad_family": OptimizerSpec(
    lambda lr: optax_extras.adagrad_family(lr, initial_accumulator_value=0.1),
    0.3,
    family="adagrad",
    description="adagrad_family, power 1/2",
  ),
  "adagrad_power1": OptimizerSpec(
    lambda lr: optax_extras.adagrad_family(
      lr, power=1.0, initial_accumulator_value=0.1
    ),
    0.3,
    family="adagrad",
    description="adagrad_family, power 1",
  ),
}
"""Name -> optimizer, this library's next to optax's (tuned learning rates)."""

LIBRARY_OPTIMIZERS = (
  "nesterov_lookahead",
  "smoothed_nesterov",
  "adam_calibrated",
  "adam_first_gradient",
  "adadelta_bigstart",
  "adagrad_family",
  "adagrad_power1",
)


def _kernels_only(params: optax.Params) -> Any:
  """Weight-decay mask: True on the weight matrices, False on the biases."""
  return jax.tree_util.tree_map_with_path(
    lambda path, _: getattr(path[-1], "key", None) == "kernel", params
  )


def _with_grad_fn_through(
  preprocess: optax.GradientTransformation,
  inner: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
  """`inner`, whose ``grad_fn`` gradients also pass through `preprocess`.

  In ``optax.chain(preprocess, lookahead)``, the gradients that
  ``grad_fn`` returns at the points ahead would skip `preprocess` (that is
  documented behaviour of `scale_by_momentum_lookahead`: with
  ``lookahead=(1.0,)`` the incoming gradient is not used at all, so clipping
  before it would clip nothing). This wrapper applies the same `preprocess`
  to them, so the look-ahead optimizers see clipped, decayed gradients like
  every other. `preprocess` must be stateless (clipping, weight decay are).
  Other optimizers ignore ``grad_fn``, and this wrapper with them.
  """

  def update_fn(updates, state, params=None, *, grad_fn=None, **extra_args):
    if grad_fn is not None:
      raw_grad_fn = grad_fn

      def grad_fn(point):
        grads = raw_grad_fn(point)
        return preprocess.update(grads, preprocess.init(point), point)[0]

      extra_args["grad_fn"] = grad_fn
    return inner.update(updates, state, params, **extra_args)

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def make_optimizer(
  spec: OptimizerSpec,
  learning_rate: float | jax.Array,
  total_steps: int,
  *,
  clip_norm: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
  """``chain(clip, weight decay, optimizer with a cosine schedule)``.

  The schedule decays from `learning_rate` to a tenth of it over
  `total_steps`. `learning_rate` (the peak) is an
  ``optax.inject_hyperparams`` hyperparameter: it lives in the optimizer
  state (``opt_state[1].hyperparams["learning_rate"]``), so it can be traced
  and vmapped (`train_many`).
  """
  shape = optax.cosine_decay_schedule(1.0, max(total_steps, 1), alpha=0.1)

  def scheduled(learning_rate):
    return spec.factory(lambda count: learning_rate * shape(count))

  preprocess = optax.chain(
    optax.clip_by_global_norm(clip_norm),
    optax.add_decayed_weights(spec.weight_decay, mask=_kernels_only),
  )
  return optax.chain(
    preprocess,
    _with_grad_fn_through(
      preprocess,
      optax.inject_hyperparams(scheduled)(learning_rate=learning_rate),
    ),
  )


def create(
  name: str,
  seed: int | jax.Array,
  learning_rate: float | jax.Array,
  total_steps: int,
  **optimizer_options: Any,
) -> tuple[MLP, nnx.Optimizer]:
  """A fresh model and its ``nnx.Optimizer`` for catalogue entry `name`."""
  spec = _spec(name)
  model = create_model(seed)
  tx = make_optimizer(spec, learning_rate, total_steps, **optimizer_options)
  return model, nnx.Optimizer(model, tx, wrt=nnx.Param)


def _spec(name: str) -> OptimizerSpec:
  if name not in OPTIMIZERS:
    raise KeyError(
      f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}."
    )
  return OPTIMIZERS[name]
