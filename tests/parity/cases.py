"""What the goldens hold: two problems, 100 steps, settings per optimizer.

A case is a framework's optimizer with keyword arguments, named by its
`optax_extras.compat` function and run with those same arguments there. The
problems are small and fixed by their data (stored in the golden files, so
the check never depends on a random generator's version): a random convex
quadratic in 6 dimensions and a 3 -> 5 -> 2 tanh MLP on 16 points with a
squared error. The parameters are a dict of arrays, the same in every
framework; trajectories are recorded at `SNAPSHOTS` (steps after the start).
"""

import numpy as np

NUM_STEPS = 100
SNAPSHOTS = (1, 2, 3, 5, 10, 20, 50, 100)
DTYPES = ("float64", "float32")
PROBLEMS = ("quadratic", "mlp")

TORCH_CASES = {
  "torch_sgd": [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    dict(lr=0.05, momentum=0.5, dampening=0.3),
  ],
  "torch_adam": [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
    dict(lr=0.01, amsgrad=True),
  ],
  "torch_adamw": [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1, amsgrad=True)],
  "torch_adagrad": [
    dict(lr=0.1),
    dict(
      lr=0.1,
      lr_decay=0.01,
      weight_decay=0.01,
      initial_accumulator_value=0.1,
      eps=1e-6,
    ),
  ],
  "torch_rmsprop": [
    dict(lr=0.001),
    dict(lr=0.001, alpha=0.9, momentum=0.9, centered=True),
    dict(lr=0.001, weight_decay=0.01, eps=1e-4),
  ],
  "torch_adadelta": [
    dict(lr=1.0),
    dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.01),
  ],
  "torch_adamax": [
    dict(lr=0.02),
    dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.01),
  ],
  "torch_nadam": [
    dict(lr=0.01),
    dict(lr=0.01, momentum_decay=0.1, weight_decay=0.01),
    dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
  ],
  "torch_radam": [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.01),
    dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
  ],
}

KERAS_CASES = {
  "keras_sgd": [
    dict(learning_rate=0.05),
    dict(learning_rate=0.05, momentum=0.9),
    dict(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
  ],
  "keras_adam": [
    dict(learning_rate=0.01),
    dict(
      learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, amsgrad=True
    ),
    dict(learning_rate=0.01, weight_decay=0.01),
  ],
  "keras_adamw": [
    dict(learning_rate=0.01),
    dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True),
  ],
  "keras_rmsprop": [
    dict(learning_rate=0.001),
    dict(learning_rate=0.001, rho=0.95, momentum=0.9, centered=True),
    dict(learning_rate=0.001, weight_decay=0.01),
  ],
  "keras_adagrad": [
    dict(learning_rate=0.1),
    dict(learning_rate=0.1, initial_accumulator_value=0.01, epsilon=1e-4),
  ],
  "keras_adadelta": [
    dict(learning_rate=1.0),
    dict(learning_rate=1.0, rho=0.9, epsilon=1e-6, weight_decay=0.01),
  ],
  "keras_adamax": [
    dict(learning_rate=0.02),
    dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-3),
  ],
  "keras_nadam": [
    dict(learning_rate=0.01),
    dict(learning_rate=0.01, beta_1=0.8, weight_decay=0.01),
  ],
}


def case_ids(cases: dict) -> list[tuple[str, str, dict]]:
  """(id, compat name, kwargs) for each setting: ``torch_adam-1``."""
  return [
    (f"{name}-{index}", name, kwargs)
    for name, settings in cases.items()
    for index, kwargs in enumerate(settings)
  ]


def make_problems(seed: int = 20261125) -> dict[str, dict[str, np.ndarray]]:
  """The problems' data and starting points, float64."""
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
  eigenvalues = np.geomspace(0.5, 5.0, 6)
  return {
    "quadratic": {
      "A": (q * eigenvalues) @ q.T,
      "b": rng.standard_normal(6),
      "x0": rng.standard_normal(6),
    },
    "mlp": {
      "X": rng.standard_normal((16, 3)),
      "Y": np.tanh(rng.standard_normal((16, 2))),
      "w1": 0.5 * rng.standard_normal((3, 5)),
      "b1": 0.1 * rng.standard_normal(5),
      "w2": 0.5 * rng.standard_normal((5, 2)),
      "b2": 0.1 * rng.standard_normal(2),
    },
  }


PARAM_KEYS = {"quadratic": ("x0",), "mlp": ("w1", "b1", "w2", "b2")}


def initial_params(problem: str, data: dict) -> dict[str, np.ndarray]:
  return {key: np.asarray(data[key]) for key in PARAM_KEYS[problem]}


def loss(problem: str, data: dict, params: dict, xp):
  """The loss in array namespace `xp` (jax.numpy or torch)."""
  if problem == "quadratic":
    x = params["x0"]
    return 0.5 * (x * (data["A"] @ x)).sum() - (data["b"] * x).sum()
  h = xp.tanh(data["X"] @ params["w1"] + params["b1"])
  out = h @ params["w2"] + params["b2"]
  return ((out - data["Y"]) ** 2).mean()


def flatten(params: dict, problem: str) -> np.ndarray:
  return np.concatenate(
    [np.asarray(params[k]).reshape(-1) for k in PARAM_KEYS[problem]]
  )
