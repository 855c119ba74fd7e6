"""Other frameworks' exact update rules, as optax transforms.

Porting a model to JAX, the optimizer that is "the same" often is not:
PyTorch adds Adagrad's and RMSprop's eps outside the root, Keras 3, TF1 and
Lasagne correct Adam's step size instead of its moments, TF1 starts
RMSProp's mean square at 1, weight decay is L2 in one framework and
decoupled in the next. Each function here returns an
``optax.GradientTransformationExtraArgs`` (applied with
``optax.apply_updates``) whose update is exactly the named framework's, with
its keyword names and defaults, composed from optax's and this library's
transforms:

- ``torch_<name>``: ``torch.optim``'s SGD, Adam, AdamW, Adagrad, RMSprop,
  Adadelta, Adamax, NAdam, RAdam (a complex parameter stepped as its real
  and imaginary parts, as torch does; its state is real, of shape
  ``(2, *shape)``);
- ``keras_<name>``: Keras 3's SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta,
  Adamax, Nadam;
- ``tf1_<name>``: ``tf.compat.v1.train``'s GradientDescent, Momentum,
  Adagrad, RMSProp, Adam, Adadelta;
- ``lasagne_<name>``: ``lasagne.updates``' sgd, momentum,
  nesterov_momentum, adagrad, rmsprop, adadelta, adam, adamax.

``from_torch(optimizer, params, scheduler)`` continues a live
``torch.optim`` run (param groups, per-parameter state, LR scheduler) in
optax, ``to_torch_state_dict(optimizer, state, params)`` takes it back, and
``schedule_from_torch(scheduler)`` is a torch LR scheduler as an optax
schedule (torch is imported only when they are called).

PyTorch's and Keras's are checked against the frameworks themselves, TF1's
and Lasagne's against their published source.

  >>> import jax.numpy as jnp, optax
  >>> from optax_extras import compat
  >>> tx = compat.torch_adagrad(lr=0.1)
  >>> params = jnp.array([1.0, -2.0])
  >>> updates, state = tx.update(jnp.array([0.5, 0.0]), tx.init(params), params)
  >>> optax.apply_updates(params, updates)
  Array([ 0.9, -2. ], dtype=float32)
"""

from optax_extras._src.compat.keras3 import (
  keras_adadelta,
  keras_adagrad,
  keras_adam,
  keras_adamax,
  keras_adamw,
  keras_nadam,
  keras_rmsprop,
  keras_sgd,
)
from optax_extras._src.compat.lasagne import (
  lasagne_adadelta,
  lasagne_adagrad,
  lasagne_adam,
  lasagne_adamax,
  lasagne_momentum,
  lasagne_nesterov_momentum,
  lasagne_rmsprop,
  lasagne_sgd,
)
from optax_extras._src.compat.pytorch import (
  torch_adadelta,
  torch_adagrad,
  torch_adam,
  torch_adamax,
  torch_adamw,
  torch_nadam,
  torch_radam,
  torch_rmsprop,
  torch_sgd,
)
from optax_extras._src.compat.tf1 import (
  tf1_adadelta,
  tf1_adagrad,
  tf1_adam,
  tf1_gradient_descent,
  tf1_momentum,
  tf1_rmsprop,
)
from optax_extras._src.compat.torch_port import from_torch, to_torch_state_dict
from optax_extras._src.compat.torch_schedules import schedule_from_torch

__all__ = (
  "from_torch",
  "keras_adadelta",
  "keras_adagrad",
  "keras_adam",
  "keras_adamax",
  "keras_adamw",
  "keras_nadam",
  "keras_rmsprop",
  "keras_sgd",
  "lasagne_adadelta",
  "lasagne_adagrad",
  "lasagne_adam",
  "lasagne_adamax",
  "lasagne_momentum",
  "lasagne_nesterov_momentum",
  "lasagne_rmsprop",
  "lasagne_sgd",
  "schedule_from_torch",
  "tf1_adadelta",
  "tf1_adagrad",
  "tf1_adam",
  "tf1_gradient_descent",
  "tf1_momentum",
  "tf1_rmsprop",
  "to_torch_state_dict",
  "torch_adadelta",
  "torch_adagrad",
  "torch_adam",
  "torch_adamax",
  "torch_adamw",
  "torch_nadam",
  "torch_radam",
  "torch_rmsprop",
  "torch_sgd",
)
