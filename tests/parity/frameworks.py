"""Runs a case in PyTorch, in Keras 3 (JAX backend), or in optax_extras.

Each runner returns the parameters, flattened, at `cases.SNAPSHOTS`, in the
dtype of the run. PyTorch and Keras are imported only when called.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tests.parity import cases


def versions() -> dict[str, str]:
  """The frameworks' versions (and this side's), for the golden files."""
  import torch

  keras = _import_keras()
  return {
    "torch": torch.__version__,
    "keras": keras.__version__,
    "keras_backend": keras.backend.backend(),
    "jax": jax.__version__,
    "numpy": np.__version__,
  }


@functools.cache
def _compiled_grad(problem: str):
  """The loss's gradient, jitted once per problem: the data are arguments,
  not constants, so each dtype compiles once for every case and test."""
  return jax.jit(
    jax.grad(lambda p, arrays: cases.loss(problem, arrays, p, jnp))
  )


def _jax_grad(problem: str, data: dict, dtype: str):
  """The loss's gradient by JAX, as NumPy arrays of `dtype`.

  Every runner uses it, so the frameworks differ in their update rules
  only, not in how their autodiff rounds.
  """
  grad = _compiled_grad(problem)
  with jax.enable_x64(dtype == "float64"):
    arrays = {k: jnp.asarray(np.asarray(v, dtype)) for k, v in data.items()}

  def numpy_grad(params):
    with jax.enable_x64(dtype == "float64"):
      return {
        k: np.asarray(g, dtype)
        for k, g in grad(
          {k: jnp.asarray(v, dtype) for k, v in params.items()}, arrays
        ).items()
      }

  return numpy_grad


def _torch_kwargs(kwargs: dict) -> dict:
  return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def run_torch(name: str, kwargs: dict, problem: str, data: dict, dtype: str):
  """`torch.optim.<Name>(**kwargs)` on the CPU, `NUM_STEPS` steps."""
  import torch

  classes = {
    "torch_sgd": "SGD",
    "torch_adam": "Adam",
    "torch_adamw": "AdamW",
    "torch_adagrad": "Adagrad",
    "torch_rmsprop": "RMSprop",
    "torch_adadelta": "Adadelta",
    "torch_adamax": "Adamax",
    "torch_nadam": "NAdam",
    "torch_radam": "RAdam",
  }
  torch_dtype = getattr(torch, dtype)
  previous = torch.get_default_dtype()
  # A float64 user sets the default dtype: the optimizers' scalar state
  # (NAdam's mu_product) follows it.
  torch.set_default_dtype(torch_dtype)
  try:
    params = {
      k: torch.tensor(data[k], dtype=torch_dtype).requires_grad_(True)
      for k in cases.PARAM_KEYS[problem]
    }
    optimizer = getattr(torch.optim, classes[name])(
      list(params.values()), **_torch_kwargs(kwargs)
    )
    grad = _jax_grad(problem, data, dtype)
    snapshots = []
    for step in range(1, cases.NUM_STEPS + 1):
      grads = grad({k: p.detach().numpy() for k, p in params.items()})
      for key, p in params.items():
        p.grad = torch.from_numpy(np.array(grads[key]))
      optimizer.step()
      if step in cases.SNAPSHOTS:
        snapshots.append(
          cases.flatten(
            {k: p.detach().numpy() for k, p in params.items()}, problem
          )
        )
    return np.stack(snapshots)
  finally:
    torch.set_default_dtype(previous)


def _import_keras():
  os.environ["KERAS_BACKEND"] = "jax"
  import keras

  if keras.backend.backend() != "jax":
    raise RuntimeError(
      "Keras was imported with the backend "
      f"{keras.backend.backend()!r}; set KERAS_BACKEND=jax before it."
    )
  return keras


def run_keras(name: str, kwargs: dict, problem: str, data: dict, dtype: str):
  """`keras.optimizers.<Name>(**kwargs)` on its JAX backend, gradients by JAX."""
  keras = _import_keras()
  classes = {
    "keras_sgd": "SGD",
    "keras_adam": "Adam",
    "keras_adamw": "AdamW",
    "keras_rmsprop": "RMSprop",
    "keras_adagrad": "Adagrad",
    "keras_adadelta": "Adadelta",
    "keras_adamax": "Adamax",
    "keras_nadam": "Nadam",
  }
  previous = keras.config.floatx()
  with jax.enable_x64(dtype == "float64"):
    keras.config.set_floatx(dtype)
    try:
      arrays = {k: jnp.asarray(v, dtype) for k, v in data.items()}
      keys = cases.PARAM_KEYS[problem]
      variables = [keras.Variable(arrays[k], dtype=dtype, name=k) for k in keys]
      optimizer = getattr(keras.optimizers, classes[name])(**kwargs)
      optimizer.build(variables)
      grad = _compiled_grad(problem)
      # Keras's own update (`apply`, run in a stateless scope), compiled once
      # for the 100 steps instead of run op by op.
      apply = jax.jit(optimizer.stateless_apply)
      values = [v.value for v in variables]
      state = [v.value for v in optimizer.variables]
      snapshots = []
      for step in range(1, cases.NUM_STEPS + 1):
        grads = grad(dict(zip(keys, values)), arrays)
        values, state = apply(state, [grads[k] for k in keys], values)
        if step in cases.SNAPSHOTS:
          snapshots.append(
            cases.flatten(
              {k: np.asarray(v) for k, v in zip(keys, values)}, problem
            )
          )
      return np.stack(snapshots)
    finally:
      keras.config.set_floatx(previous)


def run_compat(
  transform: optax.GradientTransformation,
  problem: str,
  data: dict,
  dtype: str,
):
  """The same steps with `transform`, in the current JAX precision."""
  arrays = {k: jnp.asarray(v, dtype) for k, v in data.items()}
  params = {k: arrays[k] for k in cases.PARAM_KEYS[problem]}
  grad = jax.grad(lambda p: cases.loss(problem, arrays, p, jnp))

  def step(carry, _):
    params, state = carry
    updates, state = transform.update(grad(params), state, params)
    params = optax.apply_updates(params, updates)
    return (params, state), params

  _, trajectory = jax.jit(
    lambda p: jax.lax.scan(step, (p, transform.init(p)), length=cases.NUM_STEPS)
  )(params)
  picks = np.asarray(cases.SNAPSHOTS) - 1
  return np.stack(
    [
      cases.flatten(
        {k: np.asarray(v[i]) for k, v in trajectory.items()}, problem
      )
      for i in picks
    ]
  )
