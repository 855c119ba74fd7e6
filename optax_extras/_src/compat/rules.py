"""The building blocks the frameworks need that optax does not have.

Each is a low-level transform in this library's conventions (arithmetic in at
least float32, state kept in its dtype, updates in the gradient's dtype, 0
where a denominator is 0). They are private: the public names are the
framework presets of `optax_extras.compat`.
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.numerics import safe_divide, upcast


def is_zero(value: Any) -> bool:
  """Whether a hyperparameter is a concrete 0 (a traced value is not)."""
  if isinstance(value, jax.core.Tracer) or callable(value):
    return False
  return bool(np.all(np.asarray(value) == 0))


def as_schedule(learning_rate: ScalarOrSchedule) -> Callable:
  """`learning_rate` as a function of the step count (0 at the first step)."""
  if callable(learning_rate):
    return learning_rate
  return lambda count: learning_rate


def check_betas(owner: str, betas: Any) -> tuple:
  """torch's `betas`: a pair of decay rates in [0, 1)."""
  if not isinstance(betas, (tuple, list)) or len(betas) != 2:
    raise ValueError(
      f"{owner}: `betas` must be a pair (beta1, beta2), got {betas!r}."
    )
  _validation.check_decay(owner, "betas[0]", betas[0])
  _validation.check_decay(owner, "betas[1]", betas[1])
  return tuple(betas)


def one_minus_power(base: Any, exponent: jax.Array) -> jax.Array:
  """`1 - base**exponent`, to float32's precision for a concrete `base`.

  The frameworks compute their bias corrections in float64 (Python floats)
  whatever the parameters' dtype; in float32, `1 - 0.999**t` loses 4 digits
  (0.999 itself rounds), `-expm1(t log(base))` with the logarithm taken in
  float64 keeps them.
  """
  if isinstance(base, jax.core.Tracer) or np.ndim(base) or not base:
    return 1 - base**exponent
  return -jnp.expm1(exponent * math.log(float(base)))


def radam_rho(b2: Any, t: jax.Array) -> jax.Array:
  """`rho_inf - 2 t b2^t / (1 - b2^t)`, RAdam's length of the moving average.

  The two terms are near `2 / (1 - b2)`, so float32 would lose most digits of
  their difference. For a concrete `b2`, with `L = -log(b2)` and `x = t L`,
  `2 t b2^t / (1 - b2^t) = (2 / L) x / expm1(x)`; the constant part is taken
  in float64 and the rest from the series of `x / expm1(x)` (Bernoulli numbers) while x < 1/4.
  """
  if isinstance(b2, jax.core.Tracer) or np.ndim(b2) or not 0 < b2 < 1:
    rho_inf = 2 / (1 - b2) - 1
    return rho_inf - 2 * t * b2**t / (1 - b2**t)
  log_b2 = -math.log(float(b2))  # L > 0
  rho_inf = 2 / (1 - float(b2)) - 1
  constant = rho_inf - 2 / log_b2
  x = t * log_b2
  series = (
    x**2 / 12
    - x**4 / 720
    + x**6 / 30240
    - x**8 / 1209600
    + x**10 / 47900160
    - x**12 * (691 / 1307674368000)
  )
  small = constant + t - (2 / log_b2) * series
  safe_x = jnp.maximum(x, 0.25)
  direct = rho_inf - (2 / log_b2) * safe_x / jnp.expm1(safe_x)
  return jnp.where(x < 0.25, small, direct)


def compute_dtype(tree: optax.Params) -> jnp.dtype:
  """The dtype of the arithmetic on `tree`: its leaves' promoted with float32."""
  leaves = jax.tree.leaves(tree)
  return jnp.result_type(*leaves, jnp.float32) if leaves else jnp.float32


class CountState(NamedTuple):
  """State of the transforms that only count steps."""

  count: jax.Array  # int32 scalar: steps taken.


def add_decayed_weights_at_rate(
  learning_rate: ScalarOrSchedule, weight_decay: jax.typing.ArrayLike
) -> optax.GradientTransformation:
  """`u - lr_t * weight_decay * params`: decoupled decay at its own rate.

  Keras 3 shrinks every variable by `lr * weight_decay` before its step, the
  step itself being any rule (one whose momentum holds the learning rate
  too), so the decay is added after the rest of the chain.
  """
  schedule = as_schedule(learning_rate)

  def init_fn(params):
    del params
    return CountState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(
        "decoupled weight decay needs the parameters: call "
        "update(updates, state, params)."
      )
    rate = schedule(state.count) * weight_decay
    updates = jax.tree.map(
      lambda u, p: (upcast(u) - rate * upcast(p)).astype(u.dtype),
      updates,
      params,
    )
    return updates, CountState(count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


class TorchMomentumState(NamedTuple):
  """State of `scale_by_torch_momentum`."""

  count: jax.Array  # int32 scalar: steps taken.
  buffer: optax.Updates  # The momentum buffer.


def scale_by_torch_momentum(
  momentum: jax.typing.ArrayLike, dampening: jax.typing.ArrayLike
) -> optax.GradientTransformation:
  """`b_1 = g_1`, `b_t = momentum b_{t-1} + (1 - dampening) g_t`.

  `torch.optim.SGD`'s buffer: the first gradient is copied in undamped,
  so with `dampening=0` this is `optax.trace`.
  """

  def init_fn(params):
    return TorchMomentumState(
      count=jnp.zeros([], jnp.int32), buffer=optax.tree.zeros_like(params)
    )

  def update_fn(updates, state, params=None):
    del params
    first = state.count == 0
    buffer = jax.tree.map(
      lambda g, b: jnp.where(first, g, momentum * b + (1 - dampening) * g),
      upcast(updates),
      upcast(state.buffer),
    )
    new_state = TorchMomentumState(
      count=optax.safe_increment(state.count),
      buffer=optax.tree.cast_like(buffer, state.buffer),
    )
    return optax.tree.cast_like(buffer, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)


class AmsgradState(NamedTuple):
  """State of `scale_by_amsgrad_of_raw_moment`."""

  count: jax.Array  # int32 scalar: steps taken.
  mu: optax.Updates  # First moment.
  nu: optax.Updates  # Second moment.
  nu_max: optax.Updates  # Largest second moment so far, not bias-corrected.


def scale_by_amsgrad_of_raw_moment(
  b1: jax.typing.ArrayLike,
  b2: jax.typing.ArrayLike,
  eps: jax.typing.ArrayLike,
  *,
  bias_correction: bool,
) -> optax.GradientTransformation:
  """AMSGrad with the maximum taken over the uncorrected second moment.

  `n_t = max(n_{t-1}, v_t)`. With `bias_correction` (PyTorch):
  `(m_t / (1 - b1^t)) / (sqrt(n_t) / sqrt(1 - b2^t) + eps)`; without
  (Keras 3, then scaled by `sqrt(1 - b2^t) / (1 - b1^t)`): `m_t / (sqrt(n_t)
  + eps)`. `optax.scale_by_amsgrad` takes the maximum of the corrected
  moments instead, which differs while the correction changes.
  """

  def init_fn(params):
    return AmsgradState(
      count=jnp.zeros([], jnp.int32),
      mu=optax.tree.zeros_like(params),
      nu=optax.tree.zeros_like(params),
      nu_max=optax.tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    del params
    grads = upcast(updates)
    count = optax.safe_increment(state.count)
    mu = optax.tree.update_moment(grads, upcast(state.mu), b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(grads, upcast(state.nu), b2, 2)
    nu_max = jax.tree.map(jnp.maximum, upcast(state.nu_max), nu)
    if bias_correction:
      t = count.astype(compute_dtype(mu))
      bc1, bc2 = one_minus_power(b1, t), one_minus_power(b2, t)
      scaled = jax.tree.map(
        lambda m, n: safe_divide(m / bc1, jnp.sqrt(n) / jnp.sqrt(bc2) + eps),
        mu,
        nu_max,
      )
    else:
      scaled = jax.tree.map(
        lambda m, n: safe_divide(m, jnp.sqrt(n) + eps), mu, nu_max
      )
    new_state = AmsgradState(
      count=count,
      mu=optax.tree.cast_like(mu, state.mu),
      nu=optax.tree.cast_like(nu, state.nu),
      nu_max=optax.tree.cast_like(nu_max, state.nu_max),
    )
    return optax.tree.cast_like(scaled, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def scale_by_epsilon_hat(
  b1: jax.typing.ArrayLike, b2: jax.typing.ArrayLike
) -> optax.GradientTransformation:
  """Multiplies by `sqrt(1 - b2^t) / (1 - b1^t)` (t from 1): the step size of
  Adam in its paper's algorithm (section 2), with eps left uncorrected."""

  def factor(count):
    t = count + 1
    return jnp.sqrt(one_minus_power(b2, t)) / one_minus_power(b1, t)

  return optax.scale_by_schedule(factor)


def scale_by_epsilon_hat_adam(
  b1: jax.typing.ArrayLike,
  b2: jax.typing.ArrayLike,
  eps: jax.typing.ArrayLike,
  amsgrad: bool = False,
) -> optax.GradientTransformation:
  """`sqrt(1 - b2^t) / (1 - b1^t) * m_t / (sqrt(v_t) + eps)`.

  The Adam of TF1, Lasagne and Keras 3 (their "epsilon hat"): the moments
  are not corrected, the step size is. With `amsgrad`, `v_t` is the running
  maximum of the second moments (Keras 3).
  """
  # Imported here: the transforms package imports nothing from compat.
  from optax_extras._src.transforms.adam import scale_by_adam_calibrated

  if amsgrad:
    moments = scale_by_amsgrad_of_raw_moment(b1, b2, eps, bias_correction=False)
  else:
    moments = scale_by_adam_calibrated(b1, b2, eps, bias_correction="none")
  return optax.chain(moments, scale_by_epsilon_hat(b1, b2))


class NadamScheduleState(NamedTuple):
  """State of `scale_by_nadam_schedule`."""

  count: jax.Array  # int32 scalar: steps taken.
  mu_product: jax.Array  # Product of the momentum schedule to date.
  mu: optax.Updates  # First moment.
  nu: optax.Updates  # Second moment.


def scale_by_nadam_schedule(
  b1: jax.typing.ArrayLike,
  b2: jax.typing.ArrayLike,
  eps: jax.typing.ArrayLike,
  momentum_decay: jax.typing.ArrayLike,
) -> optax.GradientTransformation:
  """NAdam with Dozat's momentum schedule, as PyTorch and Keras 3 apply it.

  `mu_t = b1 (1 - 0.96^(t psi) / 2)`, `P_t = mu_1 ... mu_t`,
  `u_t = ((1 - mu_t) / (1 - P_t) g_t + mu_{t+1} / (1 - P_t mu_{t+1}) m_t)
  / (sqrt(v_t / (1 - b2^t)) + eps)`, with `psi = momentum_decay` (PyTorch's
  default 0.004; Keras 3 uses 1).
  """

  def init_fn(params):
    return NadamScheduleState(
      count=jnp.zeros([], jnp.int32),
      mu_product=jnp.ones([], compute_dtype(params)),
      mu=optax.tree.zeros_like(params),
      nu=optax.tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    del params
    grads = upcast(updates)
    count = optax.safe_increment(state.count)
    dtype = state.mu_product.dtype
    t = count.astype(dtype)
    mu_t = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    product = state.mu_product * mu_t
    product_next = product * mu_next
    bc2 = one_minus_power(b2, t)
    mu = optax.tree.update_moment(grads, upcast(state.mu), b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(grads, upcast(state.nu), b2, 2)
    scaled = jax.tree.map(
      lambda g, m, v: (
        safe_divide((1 - mu_t) / (1 - product) * g, jnp.sqrt(v / bc2) + eps)
        + safe_divide(mu_next / (1 - product_next) * m, jnp.sqrt(v / bc2) + eps)
      ),
      grads,
      mu,
      nu,
    )
    new_state = NadamScheduleState(
      count=count,
      mu_product=product.astype(dtype),
      mu=optax.tree.cast_like(mu, state.mu),
      nu=optax.tree.cast_like(nu, state.nu),
    )
    return optax.tree.cast_like(scaled, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def scale_by_torch_radam(
  b1: jax.typing.ArrayLike, b2: jax.typing.ArrayLike, eps: jax.typing.ArrayLike
) -> optax.GradientTransformation:
  """RAdam as `torch.optim.RAdam` writes it: eps outside the uncorrected root.

  `rho_t = rho_inf - 2 t b2^t / (1 - b2^t)`; where `rho_t > 5`,
  `u = m_hat r_t sqrt(1 - b2^t) / (sqrt(v_t) + eps)`, else `u = m_hat`.
  `optax.scale_by_radam` divides by `sqrt(v_hat) + eps` instead (and switches
  at `rho_t >= 5`).
  """
  from optax_extras._src.transforms.adam import AdamCalibratedState

  def init_fn(params):
    return AdamCalibratedState(
      count=jnp.zeros([], jnp.int32),
      mu=optax.tree.zeros_like(params),
      nu=optax.tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    del params
    grads = upcast(updates)
    count = optax.safe_increment(state.count)
    mu = optax.tree.update_moment(grads, upcast(state.mu), b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(grads, upcast(state.nu), b2, 2)
    t = count.astype(compute_dtype(mu))
    bc1, bc2 = one_minus_power(b1, t), one_minus_power(b2, t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = radam_rho(b2, t)
    rectified = rho_t > 5.0
    safe_rho = jnp.where(rectified, rho_t, rho_inf)
    rect = jnp.sqrt(
      (safe_rho - 4)
      * (safe_rho - 2)
      * rho_inf
      / ((rho_inf - 4) * (rho_inf - 2) * safe_rho)
    )
    scaled = jax.tree.map(
      lambda m, v: jnp.where(
        rectified,
        safe_divide(m / bc1 * rect * jnp.sqrt(bc2), jnp.sqrt(v) + eps),
        m / bc1,
      ),
      mu,
      nu,
    )
    new_state = AdamCalibratedState(
      count=count,
      mu=optax.tree.cast_like(mu, state.mu),
      nu=optax.tree.cast_like(nu, state.nu),
    )
    return optax.tree.cast_like(scaled, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def scale_by_adamax_eps_outside(
  b1: jax.typing.ArrayLike, b2: jax.typing.ArrayLike, eps: jax.typing.ArrayLike
) -> optax.GradientTransformation:
  """`m_t / ((1 - b1^t) (u_t + eps))` with `u_t = max(b2 u_{t-1}, |g_t|)`.

  The AdaMax of Keras 3 and Lasagne; `optax.scale_by_adamax` (and PyTorch)
  put eps inside the maximum, `max(b2 u, |g| + eps)`.
  """
  from optax_extras._src.transforms.adam import AdamCalibratedState

  def init_fn(params):
    return AdamCalibratedState(
      count=jnp.zeros([], jnp.int32),
      mu=optax.tree.zeros_like(params),
      nu=optax.tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    del params
    grads = upcast(updates)
    count = optax.safe_increment(state.count)
    mu = optax.tree.update_moment(grads, upcast(state.mu), b1, 1)
    nu = jax.tree.map(
      lambda g, u: jnp.maximum(b2 * u, jnp.abs(g)), grads, upcast(state.nu)
    )
    bc1 = one_minus_power(b1, count.astype(compute_dtype(mu)))
    scaled = jax.tree.map(lambda m, u: safe_divide(m, bc1 * (u + eps)), mu, nu)
    new_state = AdamCalibratedState(
      count=count,
      mu=optax.tree.cast_like(mu, state.mu),
      nu=optax.tree.cast_like(nu, state.nu),
    )
    return optax.tree.cast_like(scaled, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)
