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


def known_zero(value: Any) -> bool | None:
  """Which form of a rule a hyperparameter asks for, where that is known.

  True for a Python or NumPy value whose every element is 0, False for one
  with no element 0 (or a schedule); None for a JAX array, or a NumPy array
  that mixes 0 and other values: the rule must then compute both forms and
  select per element (`jnp.where`), which gives exactly the form's numbers.
  A JAX array is a value of the computation, traced or not: so
  `optax.inject_hyperparams`, which builds the rule with concrete arrays in
  `init` and traced ones in a jitted `update`, gets one form (one state).
  """
  if isinstance(value, jax.Array):  # Tracers too.
    return None
  if callable(value):
    return False
  zeros = np.asarray(value) == 0
  if np.all(zeros):
    return True
  return False if not np.any(zeros) else None


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


def _is_concrete_scalar(value: Any) -> bool:
  return not isinstance(value, jax.core.Tracer) and not np.ndim(value)


def _log(base: Any, dtype: jnp.dtype) -> jax.Array:
  """`log(base)` in `dtype`, as `log1p(base - 1)`: `base - 1` is exact for
  a base in [0.5, 2], so the digits of `1 - base` are kept."""
  return jnp.log1p(jnp.asarray(base, dtype) - 1)


def one_minus_power(base: Any, exponent: jax.Array) -> jax.Array:
  """`1 - base**exponent`, to the arithmetic's precision.

  The frameworks compute their bias corrections in float64 (Python floats)
  whatever the parameters' dtype; in float32, `1 - 0.999**t` loses 4 digits
  (0.999 itself rounds), `-expm1(t log(base))` keeps them: with the
  logarithm taken in float64 for a concrete scalar `base`, and in the
  arithmetic's dtype (from `log1p(base - 1)`) for a traced or array one, so
  that a sweep over `base` keeps them too. A `base` of 0 gives
  `1 - 0**exponent` whichever it is.
  """
  if _is_concrete_scalar(base):
    if not base:
      return 1 - base**exponent
    return -jnp.expm1(exponent * math.log(float(base)))
  dtype = jnp.result_type(base, exponent)
  base = jnp.asarray(base, dtype)
  return jnp.where(
    base == 0, 1 - base**exponent, -jnp.expm1(exponent * _log(base, dtype))
  )


def _radam_rho_series(
  t: jax.Array, log_b2: Any, rho_inf: Any, constant: Any
) -> jax.Array:
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


def radam_rho(b2: Any, t: jax.Array) -> jax.Array:
  """`rho_inf - 2 t b2^t / (1 - b2^t)`, RAdam's length of the moving average.

  The two terms are near `2 / (1 - b2)`, so float32 would lose most digits of
  their difference. With `L = -log(b2)` and `x = t L`,
  `2 t b2^t / (1 - b2^t) = (2 / L) x / expm1(x)`; the constant part,
  `rho_inf - 2 / L`, is taken apart and the rest from the series of
  `x / expm1(x)` (Bernoulli numbers) while x < 1/4. For a concrete scalar
  `b2` the constants are taken in float64; for a traced (or array) one in
  the arithmetic's dtype, the cancelling `L - (1 - b2)` from its series,
  so that a sweep over `b2` keeps the digits too. A `b2` outside (0, 1)
  gives the formula as written.
  """
  if _is_concrete_scalar(b2):
    if not 0 < b2 < 1:
      rho_inf = 2 / (1 - b2) - 1
      return rho_inf - 2 * t * b2**t / (1 - b2**t)
    log_b2 = -math.log(float(b2))  # L > 0
    rho_inf = 2 / (1 - float(b2)) - 1
    return _radam_rho_series(t, log_b2, rho_inf, rho_inf - 2 / log_b2)
  dtype = jnp.result_type(b2, t)
  b2 = jnp.asarray(b2, dtype)
  written = 2 / (1 - b2) - 1 - 2 * t * b2**t / (1 - b2**t)
  valid = (b2 > 0) & (b2 < 1)
  b2 = jnp.where(valid, b2, 0.5)  # Keeps the unused branch finite.
  gap = 1 - b2  # e, exact for b2 >= 1/2.
  log_b2 = -_log(b2, dtype)  # L = e + e^2/2 + e^3/3 + ...
  # L - e = e^2 (1/2 + e/3 + e^2/4 + ...), summed (Horner) where it cancels.
  tail = 1 / 58
  for k in range(55, -1, -1):  # Terms to e^56 / 58: below 1e-18 for e < 1/2.
    tail = tail * gap + 1 / (k + 2)
  excess = jnp.where(gap < 0.5, gap**2 * tail, log_b2 - gap)
  # rho_inf - 2 / L = 2 / e - 1 - 2 / L = 2 (L - e) / (e L) - 1.
  constant = 2 * excess / (gap * log_b2) - 1
  rho_inf = 2 / gap - 1
  return jnp.where(
    valid, _radam_rho_series(t, log_b2, rho_inf, constant), written
  )


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
    # Where weight_decay is 0 (traced), exactly `u`: `0 * p` could be -0.0
    # or NaN (p infinite), which would change the update.
    updates = jax.tree.map(
      lambda u, p: jnp.where(
        weight_decay == 0, u, (upcast(u) - rate * upcast(p)).astype(u.dtype)
      ),
      updates,
      params,
    )
    return updates, CountState(count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


def _map(fn: Callable, tree: Any, *rest: Any) -> Any:
  """`jax.tree.map` that keeps the None leaves of `tree` (as optax does)."""
  return jax.tree.map(
    lambda x, *r: None if x is None else fn(x, *r),
    tree,
    *rest,
    is_leaf=lambda x: x is None,
  )


def add_decayed_weights(
  weight_decay: jax.typing.ArrayLike,
) -> optax.GradientTransformation:
  """`g + weight_decay * p` (L2), and exactly `g` where `weight_decay` is 0.

  A concrete 0 is `optax.identity()`, a concrete nonzero value
  `optax.add_decayed_weights`; a traced value (or an array that mixes 0 and
  other values) selects between the two per element, so that a traced 0 is
  no decay at all, as in the frameworks (`0 * p` is -0.0 or NaN for some p).
  """
  zero = known_zero(weight_decay)
  if zero:
    return optax.identity()
  if zero is False:
    return optax.add_decayed_weights(weight_decay)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(
        "weight decay needs the parameters: call update(updates, state, "
        "params)."
      )
    updates = _map(
      lambda g, p: jnp.where(
        weight_decay == 0, g, (g + weight_decay * p).astype(g.dtype)
      ),
      updates,
      params,
    )
    return updates, state

  return optax.GradientTransformation(
    lambda params: optax.EmptyState(), update_fn
  )


def trace(
  momentum: jax.typing.ArrayLike, nesterov: bool = False
) -> optax.GradientTransformation:
  """`optax.trace(momentum, nesterov)`, and exactly `g` where `momentum` is 0.

  The frameworks keep no buffer at momentum 0 (and ignore `nesterov`): a
  concrete 0 is `optax.identity()`, a concrete nonzero value `optax.trace`;
  a traced value (or an array that mixes 0 and other values) runs the trace
  and selects `g` per element where the momentum is 0, so a traced 0 gives
  the concrete 0's numbers bit for bit.
  """
  zero = known_zero(momentum)
  if zero:
    return optax.identity()
  if zero is False:
    return optax.trace(decay=momentum, nesterov=nesterov)

  def init_fn(params):
    return optax.TraceState(trace=optax.tree.zeros_like(params))

  def update_fn(updates, state, params=None):
    del params
    f = lambda g, t: (g + momentum * t).astype(g.dtype)  # optax.trace's.
    new_trace = _map(f, updates, state.trace)
    traced = _map(f, updates, new_trace) if nesterov else new_trace
    updates = _map(lambda g, u: jnp.where(momentum == 0, g, u), updates, traced)
    return updates, optax.TraceState(trace=new_trace)

  return optax.GradientTransformation(init_fn, update_fn)


def rmsprop(
  learning_rate: ScalarOrSchedule,
  *,
  decay: jax.typing.ArrayLike,
  eps: jax.typing.ArrayLike,
  centered: bool,
  momentum: jax.typing.ArrayLike,
  initial_scale: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformation:
  """`optax.rmsprop`, with no momentum buffer where `momentum` is 0.

  A concrete 0 is optax's `momentum=None`; a traced `momentum` (or an array
  mixing 0 and other values) is `trace` after optax's rule without
  momentum, the same arithmetic, selecting the update itself where it is 0.
  """
  zero = known_zero(momentum)
  rule = optax.rmsprop(
    learning_rate,
    decay=decay,
    eps=eps,
    initial_scale=initial_scale,
    centered=centered,
    momentum=None if zero or zero is None else momentum,
  )
  return optax.chain(rule, trace(momentum)) if zero is None else rule


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


def scale_by_torch_sgd_momentum(
  momentum: jax.typing.ArrayLike,
  dampening: jax.typing.ArrayLike,
  nesterov: bool = False,
) -> optax.GradientTransformation:
  """`torch.optim.SGD`'s momentum, whatever `momentum` and `dampening` are.

  Where both are concrete, the form they ask for: none at momentum 0 (the
  update is the gradient: PyTorch keeps no buffer, whatever the dampening),
  `optax.trace(momentum, nesterov)` at dampening 0, else
  `scale_by_torch_momentum`. Where either is traced (a sweep's grid axis) or
  an array mixing zeros and other values, every form is computed, each as
  it is computed alone, and selected per element, so that a traced value
  gives the numbers of the same concrete value bit for bit. `nesterov` is
  static; its constraints (momentum > 0, dampening 0) are checked by
  `torch_sgd` on concrete values.
  """
  momentum_zero, dampening_zero = known_zero(momentum), known_zero(dampening)
  if momentum_zero:
    return optax.identity()
  if momentum_zero is False and dampening_zero:
    return optax.trace(decay=momentum, nesterov=nesterov)
  if momentum_zero is False and dampening_zero is False and not nesterov:
    return scale_by_torch_momentum(momentum, dampening)

  def init_fn(params):
    return TorchMomentumState(
      count=jnp.zeros([], jnp.int32), buffer=optax.tree.zeros_like(params)
    )

  def leaf(first, g, b):
    # optax.trace, in the gradient's dtype (dampening 0).
    plain = g + momentum * b
    plain_out = g + momentum * plain if nesterov else plain
    # scale_by_torch_momentum, upcast (dampening > 0).
    big_g, big_b = upcast(g), upcast(b)
    damped = jnp.where(first, big_g, momentum * big_b + (1 - dampening) * big_g)
    damped_out = big_g + momentum * damped if nesterov else damped
    undamped = dampening == 0
    buffer = jnp.where(undamped, plain.astype(b.dtype), damped.astype(b.dtype))
    out = jnp.where(
      undamped, plain_out.astype(g.dtype), damped_out.astype(g.dtype)
    )
    return jnp.where(momentum == 0, g, out), buffer

  def update_fn(updates, state, params=None):
    del params
    first = state.count == 0
    pairs = jax.tree.map(lambda g, b: leaf(first, g, b), updates, state.buffer)
    out, buffer = jax.tree.transpose(
      jax.tree.structure(updates), jax.tree.structure((0, 0)), pairs
    )
    new_state = TorchMomentumState(
      count=optax.safe_increment(state.count), buffer=buffer
    )
    return out, new_state

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
