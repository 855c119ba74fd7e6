"""1-D gradient signals, and the updates a transform makes in response.

Feeding a synthetic gradient sequence straight into an update rule, with no
loss function, shows how the rule reacts to spikes, square waves, noise and
saturation. `seed_signals` makes six such signals with a fixed random seed;
`response` feeds any signal through any optax transform.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

SIGNAL_NAMES = (
  "spikes",
  "rectangles",
  "noisy_sin",
  "very_noisy_sin",
  "uneven_sawtooth",
  "saturation",
)


def seed_signals(length: int = 300) -> dict[str, np.ndarray]:
  """Six gradient signals over the epochs `x = 0 .. length-1`.

  spikes `[x % 60 == 0]`; rectangles `2 [x % 40 < 20] - 1`; noisy sin
  `sin(x/20) + U - 1/2`; very noisy sin `sin(x/20)/5 + U - 1/2`; uneven
  sawtooth `(x % 20) / (15 [x > 80] + 5)`; saturation `[x % 80 < 40]`. `U`
  is uniform on [0, 1) from NumPy's legacy generator seeded 413
  (``np.random.RandomState(413)``), drawn for all of noisy sin, then all of
  very noisy sin.

  Returns:
    A dict from each name of `SIGNAL_NAMES`, in that order, to a float64
    array of shape ``(length,)``.
  """
  x = np.arange(length)
  uniform = np.random.RandomState(413)
  noise = uniform.random_sample(length)
  more_noise = uniform.random_sample(length)
  return {
    "spikes": (x % 60 == 0).astype(np.float64),
    "rectangles": 2.0 * (x % 40 < 20) - 1.0,
    "noisy_sin": np.sin(x / 20) + noise - 0.5,
    "very_noisy_sin": np.sin(x / 20) / 5 + more_noise - 0.5,
    "uneven_sawtooth": (x % 20) / (15.0 * (x > 80) + 5.0),
    "saturation": (x % 80 < 40).astype(np.float64),
  }


def interpolate(signal: jax.Array, position: jax.Array) -> jax.Array:
  """The signal at a real position, linearly interpolated between samples.

  Between samples `lo` and `hi = lo + 1` it is `(1 - frac) X[lo] + frac
  X[hi]` (not `X[lo] + frac X[hi]`, which earlier versions of these figures
  used and which is not an interpolation). Before 0 it holds its first
  sample; after its last sample it falls linearly to 0 at `len(signal)` and
  stays 0: past its end a signal is 0.
  """
  signal = jnp.asarray(signal)
  samples = jnp.append(signal, jnp.zeros((), signal.dtype))
  positions = jnp.arange(samples.shape[0], dtype=samples.dtype)
  return jnp.interp(position, positions, samples, left=signal[0], right=0.0)


def response(
  transform: optax.GradientTransformation, signal: jax.Array
) -> jax.Array:
  """The updates `transform` makes when fed `signal` as its gradient.

  Step `i` feeds the gradient `signal[i]`. The parameter starts at 0 and
  moves by the updates; during step `i`, at the parameter `theta_i`, the
  gradient at a point `theta` is the signal read at the epoch
  `i + (theta_i - theta)`, so a look-ahead transform reads the signal at
  fractional epochs, and a step down a positive gradient looks forward in
  time, as Nesterov momentum on a signal does, `v = gamma v + lr g(i + gamma
  v)`. Scale-by transforms return the rescaled signal; full optimizers,
  which include the descent sign, return its negative. Traceable: `jax.jit`
  or `jax.vmap` it over signals or hyperparameters.
  """
  signal = jnp.asarray(signal)
  transform = optax.with_extra_args_support(transform)

  def step(carry, epoch):
    state, theta = carry

    def grad_fn(point: jax.Array) -> jax.Array:
      return interpolate(signal, epoch + (theta - point))

    updates, state = transform.update(
      signal[epoch], state, theta, grad_fn=grad_fn
    )
    return (state, optax.apply_updates(theta, updates)), updates

  theta = jnp.zeros((), signal.dtype)
  _, updates = jax.lax.scan(
    step, (transform.init(theta), theta), jnp.arange(signal.shape[0])
  )
  return updates
