"""Float64 NumPy references of the update rules, written from the formulas alone."""

import math

import numpy as np


def seed_signals() -> dict[str, np.ndarray]:
  """The six seed signals over x = 0..299, noise from RandomState(413) drawn per element."""
  n = 300
  rng = np.random.RandomState(413)
  noise_a = np.array([rng.random_sample() for _ in range(n)], dtype=np.float64)
  noise_b = np.array([rng.random_sample() for _ in range(n)], dtype=np.float64)
  signals = {
    name: np.zeros(n, dtype=np.float64)
    for name in (
      "spikes",
      "rectangles",
      "noisy_sin",
      "very_noisy_sin",
      "uneven_sawtooth",
      "saturation",
    )
  }
  for x in range(n):
    signals["spikes"][x] = 1.0 if x % 60 == 0 else 0.0
    signals["rectangles"][x] = 2.0 * (x % 40 < 20) - 1.0
    signals["noisy_sin"][x] = math.sin(x / 20) + noise_a[x] - 0.5
    signals["very_noisy_sin"][x] = math.sin(x / 20) / 5 + noise_b[x] - 0.5
    signals["uneven_sawtooth"][x] = (x % 20) / (15 * (x > 80) + 5)
    signals["saturation"][x] = 1.0 if x % 80 < 40 else 0.0
  return signals


def interpolate(signal: np.ndarray, position: float) -> float:
  """Linear interpolation of X at a real position; X[0] before 0, a trailing 0 after the end."""
  n = len(signal)
  if position <= 0:
    return float(signal[0])
  if position >= n:
    return 0.0

  def sample(k):
    return float(signal[k]) if k < n else 0.0

  lo = math.floor(position)
  hi = math.ceil(position)
  frac = position - lo
  return (1.0 - frac) * sample(lo) + frac * sample(hi)


def signal_momentum_response(
  signal, learning_rate, decay, fractions
) -> np.ndarray:
  """v = decay*v + lr*mean_c X(i + c*decay*v), recorded for each i."""
  out = np.zeros(len(signal), dtype=np.float64)
  v = 0.0
  for i in range(len(signal)):
    g = np.mean([interpolate(signal, i + c * decay * v) for c in fractions])
    v = decay * v + learning_rate * g
    out[i] = v
  return out


def momentum_lookahead(
  grad_fn, theta0, learning_rates, decay, fractions
) -> tuple[np.ndarray, np.ndarray]:
  """v = decay*v - lr_t*mean_c grad(theta + c*decay*v); theta = theta + v.

  Nesterov's method in Sutskever et al.'s (2013) form, eq. (3)-(4), with
  the gradient averaged over the fractions c of the step ahead.
  """
  theta = np.asarray(theta0, dtype=np.float64).copy()
  v = np.zeros_like(theta)
  num_steps = len(learning_rates)
  thetas = np.zeros((num_steps,) + theta.shape, dtype=np.float64)
  velocities = np.zeros_like(thetas)
  for t in range(num_steps):
    g = np.mean(
      [
        np.asarray(grad_fn(theta + c * decay * v), dtype=np.float64)
        for c in fractions
      ],
      axis=0,
    )
    v = decay * v - np.float64(learning_rates[t]) * g
    theta = theta + v
    thetas[t] = theta
    velocities[t] = v
  return thetas, velocities


def momentum_lookahead_trace(
  grad_fn, theta0, learning_rates, decay, fractions
) -> tuple[np.ndarray, np.ndarray]:
  """m = decay*m + mean_c grad(theta + c*decay*(theta - theta_prev)); theta -= lr_t*m.

  The momentum in gradient units, as torch.optim.SGD and optax.sgd keep it,
  read ahead along the last step taken; with a constant rate it is
  `momentum_lookahead` (Sutskever et al., 2013) with v = -lr*m.
  """
  theta = np.asarray(theta0, dtype=np.float64).copy()
  theta_prev = theta.copy()
  m = np.zeros_like(theta)
  num_steps = len(learning_rates)
  thetas = np.zeros((num_steps,) + theta.shape, dtype=np.float64)
  steps = np.zeros_like(thetas)
  for t in range(num_steps):
    g = np.mean(
      [
        np.asarray(
          grad_fn(theta + c * decay * (theta - theta_prev)), dtype=np.float64
        )
        for c in fractions
      ],
      axis=0,
    )
    m = decay * m + g
    theta_prev, theta = theta, theta - np.float64(learning_rates[t]) * m
    thetas[t] = theta
    steps[t] = theta - theta_prev
  return thetas, steps


def heavy_ball_trace(grads, decay) -> np.ndarray:
  """t = decay*t + g."""
  grads = np.asarray(grads, dtype=np.float64)
  out = np.zeros_like(grads)
  trace = np.zeros_like(grads[0])
  for step, g in enumerate(grads):
    trace = decay * trace + g
    out[step] = trace
  return out


def nesterov_sgd_params(
  grad_fn, phi0, learning_rate, momentum, num_steps
) -> np.ndarray:
  """t = mu*t + g; phi = phi - lr*(g + mu*t), with g = grad(phi)."""
  phi = np.asarray(phi0, dtype=np.float64).copy()
  trace = np.zeros_like(phi)
  out = np.zeros((num_steps,) + phi.shape, dtype=np.float64)
  for step in range(num_steps):
    g = np.asarray(grad_fn(phi), dtype=np.float64)
    trace = momentum * trace + g
    phi = phi - learning_rate * (g + momentum * trace)
    out[step] = phi
  return out


def adadelta(grads, rho, eps, initial_delta_sq) -> np.ndarray:
  """E = rho*E + (1-rho)*g^2; u = sqrt(D+eps)/sqrt(E+eps)*g; D = rho*D + (1-rho)*u^2."""
  grads = np.asarray(grads, dtype=np.float64)
  out = np.zeros_like(grads)
  e = np.zeros_like(grads[0])
  d = np.full_like(grads[0], initial_delta_sq)
  for step, g in enumerate(grads):
    e = rho * e + (1 - rho) * g**2
    u = np.sqrt(d + eps) / np.sqrt(e + eps) * g
    d = rho * d + (1 - rho) * u**2
    out[step] = u
  return out


def adam(
  grads, b1, b2, eps, eps_root, bias_correction="standard", nesterov=False
) -> np.ndarray:
  """u = m_hat / (sqrt(s_hat + eps_root) + eps) with the chosen moment corrections."""
  if callable(bias_correction) or isinstance(bias_correction, tuple):
    first, second = (
      bias_correction
      if isinstance(bias_correction, tuple)
      else (bias_correction, bias_correction)
    )

    def c1(x, k):
      return first(x, b1, k)

    def c2(x, k):
      return second(x, b2, k)
  else:
    correct_first = bias_correction in ("standard", "first_moment_only")
    correct_second = bias_correction in ("standard", "second_moment_only")
    if bias_correction not in (
      "standard",
      "none",
      "first_moment_only",
      "second_moment_only",
      "first_gradient",
    ):
      raise ValueError(f"unknown bias_correction {bias_correction!r}")

    def c1(x, k):
      return x / (1 - b1**k) if correct_first else x

    def c2(x, k):
      return x / (1 - b2**k) if correct_second else x

  grads = np.asarray(grads, dtype=np.float64)
  out = np.zeros_like(grads)
  m = np.zeros_like(grads[0])
  s = np.zeros_like(grads[0])
  for index, g in enumerate(grads):
    t = index + 1
    if (
      isinstance(bias_correction, str)
      and bias_correction == "first_gradient"
      and t == 1
    ):
      m = g.copy()
      s = g**2
    else:
      m = b1 * m + (1 - b1) * g
      s = b2 * s + (1 - b2) * g**2
    if nesterov:
      m_hat = b1 * c1(m, t + 1) + (1 - b1) * c1(g, t)
    else:
      m_hat = c1(m, t)
    s_hat = c2(s, t)
    out[index] = m_hat / (np.sqrt(s_hat + eps_root) + eps)
  return out


def adagrad_family(
  grads, power, order, eps, initial_accumulator_value, eps_in_power=True
) -> np.ndarray:
  """A = A + |g|**order; u = g / (A + eps)**power (or g / (A**power + eps)); 0 where 0/0."""
  grads = np.asarray(grads, dtype=np.float64)
  out = np.zeros_like(grads)
  acc = np.full_like(grads[0], initial_accumulator_value)
  for step, g in enumerate(grads):
    acc = acc + np.abs(g) ** order
    denom = (acc + eps) ** power if eps_in_power else acc**power + eps
    safe = np.where(denom == 0, 1.0, denom)
    out[step] = np.where(denom == 0, 0.0, g / safe)
  return out


def tf1_adam(grads, learning_rate, b1, b2, eps) -> np.ndarray:
  """TF1/Lasagne Adam: lr_t = lr sqrt(1-b2^t)/(1-b1^t); update = -lr_t m/(sqrt(v) + eps)."""
  grads = np.asarray(grads, dtype=np.float64)
  out = np.zeros_like(grads)
  m = np.zeros_like(grads[0])
  v = np.zeros_like(grads[0])
  for index, g in enumerate(grads):
    t = index + 1
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    lr_t = learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t)
    out[index] = -lr_t * m / (np.sqrt(v) + eps)
  return out


# --- Older libraries' rules in parameter space (Lasagne 0.1, TensorFlow 1). ---
# Each returns the iterates w_1..w_T of the rule on `grad_fn` from `w0`.


def _iterate(step, grad_fn, w0, num_steps):
  w = np.asarray(w0, dtype=np.float64).copy()
  out = []
  for t in range(1, num_steps + 1):
    w = w + step(grad_fn(w), t)
    out.append(w.copy())
  return np.array(out)


def old_rule_iterates(rule: str, grad_fn, w0, num_steps, **hp) -> np.ndarray:
  """Iterates of a named old rule; `hp` holds its settings (lr, momentum, ...)."""
  state = {}
  zeros = np.zeros_like(np.asarray(w0, dtype=np.float64))

  def get(name, initial=0.0):
    return state.setdefault(name, zeros + initial)

  def lasagne_nesterov(g, t):  # v = mu v - lr g; w += mu v - lr g
    state["v"] = hp["momentum"] * get("v") - hp["lr"] * g
    return hp["momentum"] * state["v"] - hp["lr"] * g

  def lasagne_rmsprop(g, t):
    state["r"] = hp["rho"] * get("r") + (1 - hp["rho"]) * g * g
    return -hp["lr"] * g / np.sqrt(state["r"] + hp["eps"])

  def lasagne_adagrad(g, t):
    state["a"] = get("a") + g * g
    return -hp["lr"] * g / np.sqrt(state["a"] + hp["eps"])

  def lasagne_adadelta(g, t):
    state["r"] = hp["rho"] * get("r") + (1 - hp["rho"]) * g * g
    u = g * np.sqrt(get("s") + hp["eps"]) / np.sqrt(state["r"] + hp["eps"])
    state["s"] = hp["rho"] * state["s"] + (1 - hp["rho"]) * u * u
    return -hp["lr"] * u

  def tf1_adam(g, t):  # Lasagne's Adam is the same rule.
    state["m"] = hp["b1"] * get("m") + (1 - hp["b1"]) * g
    state["v"] = hp["b2"] * get("v") + (1 - hp["b2"]) * g * g
    lr_t = hp["lr"] * math.sqrt(1 - hp["b2"] ** t) / (1 - hp["b1"] ** t)
    return -lr_t * state["m"] / (np.sqrt(state["v"]) + hp["eps"])

  def tf1_momentum(g, t):  # a = mu a + g; w -= lr a, or lr (g + mu a)
    state["a"] = hp["momentum"] * get("a") + g
    if hp.get("nesterov"):
      return -hp["lr"] * (g + hp["momentum"] * state["a"])
    return -hp["lr"] * state["a"]

  def tf1_adagrad(g, t):
    state["a"] = get("a", 0.1) + g * g
    return -hp["lr"] * g / np.sqrt(state["a"])

  def tf1_rmsprop(g, t):  # Mean square starts at 1.
    state["ms"] = hp["decay"] * get("ms", 1.0) + (1 - hp["decay"]) * g * g
    return -hp["lr"] * g / np.sqrt(state["ms"] + hp["eps"])

  def seed002_adagrad(g, t):
    state["G"] = get("G") + g * g
    return -hp["lr"] * g / (np.sqrt(state["G"]) + 1e-8)

  def seed002_rmsprop(g, t):
    state["E"] = hp["decay"] * get("E") + (1 - hp["decay"]) * g * g
    return -hp["lr"] * g / (np.sqrt(state["E"]) + 1e-8)

  def seed002_adadelta(g, t):  # No learning rate at all.
    state["E"] = hp["decay"] * get("E") + (1 - hp["decay"]) * g * g
    delta = -np.sqrt(get("D") + 1e-8) / np.sqrt(state["E"] + 1e-8) * g
    state["D"] = hp["decay"] * state["D"] + (1 - hp["decay"]) * delta * delta
    return delta

  def seed002_adam(g, t):  # eps outside the root, correction from t = 1.
    state["m"] = 0.9 * get("m") + 0.1 * g
    state["v"] = 0.999 * get("v") + 0.001 * g * g
    m_hat = state["m"] / (1 - 0.9**t)
    v_hat = state["v"] / (1 - 0.999**t)
    return -hp["lr"] * m_hat / (np.sqrt(v_hat) + 1e-8)

  rules = {
    f.__name__: f
    for f in (
      lasagne_nesterov,
      lasagne_rmsprop,
      lasagne_adagrad,
      lasagne_adadelta,
      tf1_adam,
      tf1_momentum,
      tf1_adagrad,
      tf1_rmsprop,
      seed002_adagrad,
      seed002_rmsprop,
      seed002_adadelta,
      seed002_adam,
    )
  }
  return _iterate(rules[rule], grad_fn, w0, num_steps)


# --- TensorFlow 1 and Lasagne, every rule of optax_extras.compat. -----------
# Written from the published source, defaults included:
# - TF1: tensorflow/python/training/{gradient_descent,momentum,adagrad,
#   rmsprop,adam,adadelta}.py (the slots and their initial values) and the
#   kernels ApplyGradientDescent, ApplyMomentum, ApplyAdagrad, ApplyRMSProp,
#   ApplyCenteredRMSProp, ApplyAdam, ApplyAdadelta in
#   tensorflow/core/kernels/training_ops.cc;
# - Lasagne: lasagne/updates.py, functions sgd, momentum (apply_momentum),
#   nesterov_momentum (apply_nesterov_momentum), adagrad, rmsprop, adadelta,
#   adam, adamax.

TF1_LASAGNE_DEFAULTS = {
  "tf1_gradient_descent": {},
  "tf1_momentum": dict(use_nesterov=False),
  "tf1_adagrad": dict(initial_accumulator_value=0.1),
  "tf1_rmsprop": dict(decay=0.9, momentum=0.0, epsilon=1e-10, centered=False),
  "tf1_adam": dict(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8),
  "tf1_adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-8),
  "lasagne_sgd": {},
  "lasagne_momentum": dict(momentum=0.9),
  "lasagne_nesterov_momentum": dict(momentum=0.9),
  "lasagne_adagrad": dict(learning_rate=1.0, epsilon=1e-6),
  "lasagne_rmsprop": dict(learning_rate=1.0, rho=0.9, epsilon=1e-6),
  "lasagne_adadelta": dict(learning_rate=1.0, rho=0.95, epsilon=1e-6),
  "lasagne_adam": dict(
    learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8
  ),
  "lasagne_adamax": dict(
    learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8
  ),
}


def tf1_lasagne_iterates(rule: str, grad_fn, w0, num_steps, **kwargs):
  """Iterates w_1..w_T of a TF1 or Lasagne rule, named as in compat.

  `kwargs` are the compat function's arguments; missing ones take the
  framework's defaults (`TF1_LASAGNE_DEFAULTS`).
  """
  hp = {**TF1_LASAGNE_DEFAULTS[rule], **kwargs}
  lr = hp.get("learning_rate")
  state = {}
  zeros = np.zeros_like(np.asarray(w0, dtype=np.float64))

  def get(name, initial=0.0):
    return state.setdefault(name, zeros + initial)

  def tf1_gradient_descent(g, t):  # var -= alpha * delta
    return -lr * g

  def tf1_momentum(g, t):  # accum = accum * momentum + grad
    mu = hp["momentum"]
    state["a"] = get("a") * mu + g
    if hp["use_nesterov"]:  # var -= grad * lr + accum * momentum * lr
      return -(g * lr + state["a"] * mu * lr)
    return -lr * state["a"]

  def tf1_adagrad(g, t):  # accum += grad^2; var -= lr * grad * rsqrt(accum)
    state["a"] = get("a", hp["initial_accumulator_value"]) + g * g
    return -lr * g / np.sqrt(state["a"])

  def tf1_rmsprop(g, t):  # "rms" slot from ones, "momentum" and "mg" zeros
    rho, eps = hp["decay"], hp["epsilon"]
    state["ms"] = get("ms", 1.0) + (g * g - get("ms", 1.0)) * (1 - rho)
    denominator = state["ms"] + eps
    if hp["centered"]:
      state["mg"] = get("mg") + (g - get("mg")) * (1 - rho)
      denominator = denominator - state["mg"] ** 2
    state["mom"] = get("mom") * hp["momentum"] + lr * g / np.sqrt(denominator)
    return -state["mom"]

  def tf1_adam(g, t):  # lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
    b1, b2 = hp["beta1"], hp["beta2"]
    state["m"] = get("m") + (g - get("m")) * (1 - b1)
    state["v"] = get("v") + (g * g - get("v")) * (1 - b2)
    lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    return -lr_t * state["m"] / (np.sqrt(state["v"]) + hp["epsilon"])

  def tf1_adadelta(g, t):
    rho, eps = hp["rho"], hp["epsilon"]
    state["accum"] = get("accum") * rho + g * g * (1 - rho)
    update = (
      np.sqrt(get("accum_update") + eps) / np.sqrt(state["accum"] + eps) * g
    )
    state["accum_update"] = state["accum_update"] * rho + update**2 * (1 - rho)
    return -update * lr

  def lasagne_sgd(g, t):  # param - learning_rate * grad
    return -lr * g

  def lasagne_momentum(g, t):  # x = momentum * velocity + (param - lr g)
    state["v"] = hp["momentum"] * get("v") - lr * g
    return state["v"]

  def lasagne_nesterov_momentum(g, t):  # param + momentum * x - lr g
    state["v"] = hp["momentum"] * get("v") - lr * g
    return hp["momentum"] * state["v"] - lr * g

  def lasagne_adagrad(g, t):
    state["a"] = get("a") + g**2
    return -lr * g / np.sqrt(state["a"] + hp["epsilon"])

  def lasagne_rmsprop(g, t):
    state["a"] = hp["rho"] * get("a") + (1 - hp["rho"]) * g**2
    return -lr * g / np.sqrt(state["a"] + hp["epsilon"])

  def lasagne_adadelta(g, t):
    rho, eps = hp["rho"], hp["epsilon"]
    state["a"] = rho * get("a") + (1 - rho) * g**2
    update = g * np.sqrt(get("d") + eps) / np.sqrt(state["a"] + eps)
    state["d"] = rho * state["d"] + (1 - rho) * update**2
    return -lr * update

  def lasagne_adam(g, t):  # a_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
    b1, b2 = hp["beta1"], hp["beta2"]
    state["m"] = b1 * get("m") + (1 - b1) * g
    state["v"] = b2 * get("v") + (1 - b2) * g**2
    a_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    return -a_t * state["m"] / (np.sqrt(state["v"]) + hp["epsilon"])

  def lasagne_adamax(g, t):  # a_t = lr / (1 - beta1^t); u = max(b2 u, |g|)
    b1, b2 = hp["beta1"], hp["beta2"]
    state["m"] = b1 * get("m") + (1 - b1) * g
    state["u"] = np.maximum(b2 * get("u"), np.abs(g))
    return -lr / (1 - b1**t) * state["m"] / (state["u"] + hp["epsilon"])

  return _iterate(locals()[rule], grad_fn, w0, num_steps)


def momentum_rate(
  learning_rate: float, momentum: float, eigenvalues, *, nesterov: bool
) -> float:
  """The asymptotic convergence rate of heavy-ball momentum (Polyak 1964)
  or Nesterov's iteration on a quadratic with these Hessian eigenvalues: the
  largest spectral radius of the per-eigenvalue iteration matrix, the
  largest root modulus of

    heavy ball: z^2 - (1 + b - a l) z + b = 0,
    Nesterov:   z^2 - (1 + b)(1 - a l) z + b (1 - a l) = 0

  (G. Goh, "Why Momentum Really Works", Distill 2017). These are the
  iterations of ``optax.sgd(a, momentum=b, nesterov=...)``: with v the trace,
  v_t = b v_{t-1} + l x_t and x_{t+1} = x_t - a v_t (heavy ball) or
  x_t - a (l x_t + b v_t) (Nesterov)."""
  a, b = learning_rate, momentum
  rates = []
  for lam in eigenvalues:
    if nesterov:
      coefficients = [1.0, -(1 + b) * (1 - a * lam), b * (1 - a * lam)]
    else:
      coefficients = [1.0, -(1 + b - a * lam), b]
    rates.append(np.max(np.abs(np.roots(coefficients))))
  return float(max(rates))
