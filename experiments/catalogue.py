"""The figures, as data: what to compute and how to caption it.

A figure family here is a small frozen record. `compute` turns a record into
arrays (saved to disk), `draw` turns arrays into pictures; nothing here runs.
"""

import dataclasses
from collections.abc import Callable

import optax

import optax_extras

# --- FIGURES.md section A: 1-D gradient-signal responses (seed 000) ---------


@dataclasses.dataclass(frozen=True)
class SignalMethod:
  """One update rule fed the six seed signals, for three values of one knob.

  `make(value)` builds the transform for one value of the swept knob; the
  plotted response is its update, negated when `negate` (full optimizers,
  whose updates carry the descent sign).
  """

  name: str
  title: str
  make: Callable[[float | str], optax.GradientTransformation]
  swept: str
  values: tuple[float | str, ...]
  settings: str
  negate: bool = False
  seed_figure: bool = True  # False: described in the seed's text, not drawn.


def _scaled(transform: optax.GradientTransformation, factor: float):
  return optax.chain(transform, optax.scale(factor))


_GAMMAS = (0.25, 0.9, 0.975)

SIGNAL_METHODS = (
    SignalMethod(
        "simple_momentum", "Simple momentum",
        lambda g: optax_extras.nesterov_lookahead(0.25, g, (0.0,)),
        "γ", _GAMMAS, "v = γv + lr·g, lr 0.25", negate=True),
    SignalMethod(
        "nesterov", "Nesterov",
        lambda g: optax_extras.nesterov_lookahead(0.25, g, (1.0,)),
        "γ", _GAMMAS, "v = γv + lr·g(i + γv), lr 0.25", negate=True),
    SignalMethod(
        "smoothed_nesterov", "Smoothed Nesterov",
        lambda g: optax_extras.nesterov_lookahead(0.25, g, (0.25, 0.5, 0.75, 1.0)),
        "γ", _GAMMAS, "g averaged at i + cγv, c ∈ {1/4, 1/2, 3/4, 1}, lr 0.25",
        negate=True),
    SignalMethod(
        "adagrad", "Adagrad",
        lambda e: _scaled(optax_extras.scale_by_adagrad_family(eps=e), 2.5),
        "ε", (1e-7, 0.1, 10.0), "G += g²; v = lr·g/√(G + ε), lr 2.5"),
    SignalMethod(
        "rmsprop", "RMSProp",
        lambda g: _scaled(optax.scale_by_rms(decay=g, eps=1e-5), 0.25),
        "γ", _GAMMAS, "E = γE + (1-γ)g²; v = lr·g/√(E + ε), lr 0.25, ε 1e-5"),
    SignalMethod(
        "adadelta_zero_start", "Adadelta, zero start",
        lambda g: optax_extras.scale_by_adadelta_bigstart(g, 1e-3, 0.0),
        "γ", _GAMMAS, "D₀ = 0, ε 1e-3"),
    SignalMethod(
        "adadelta_big_start", "Adadelta, big start",
        lambda g: optax_extras.scale_by_adadelta_bigstart(g, 1e-3, 50.0),
        "γ", _GAMMAS, "D₀ = 50, ε 1e-3"),
    SignalMethod(
        "adam", "Adam",
        lambda b: _scaled(optax_extras.scale_by_adam_calibrated(
            b, 0.999, eps=0.0, eps_root=1e-7), 0.25),
        "β1", _GAMMAS, "β2 0.999, lr 0.25, ε 1e-7 inside the root"),
    # Described in the seed's text without a figure.
    SignalMethod(
        "adagrad_without_root", "Adagrad without the root",
        lambda e: _scaled(optax_extras.scale_by_adagrad_family(1.0, eps=e), 2.5),
        "ε", (1e-7, 0.1, 10.0), "v = lr·g/(G + ε), lr 2.5", seed_figure=False),
    SignalMethod(
        "adagrad_moduli", "Adagrad accumulating |g|",
        lambda e: _scaled(optax_extras.scale_by_adagrad_family(order=1.0, eps=e), 2.5),
        "ε", (1e-7, 0.1, 10.0), "G += |g|; v = lr·g/√(G + ε), lr 2.5",
        seed_figure=False),
    SignalMethod(
        "adamax", "Adamax",
        lambda b: _scaled(optax.scale_by_adamax(b, 0.999, eps=1e-7), 0.25),
        "β1", _GAMMAS, "optax.scale_by_adamax, β2 0.999, lr 0.25, ε 1e-7",
        seed_figure=False),
    SignalMethod(
        "adam_nesterov", "Adam with Nesterov look-ahead (NAdam)",
        lambda b: _scaled(optax_extras.scale_by_adam_calibrated(
            b, 0.999, eps=0.0, eps_root=1e-7, nesterov=True), 0.25),
        "β1", _GAMMAS, "β2 0.999, lr 0.25, ε 1e-7 inside the root",
        seed_figure=False),
    # Beyond the seed: its "virtual history" argument, made visible.
    SignalMethod(
        "adam_calibrations", "Adam: initial calibration rules",
        lambda c: _scaled(optax_extras.scale_by_adam_calibrated(
            0.9, 0.999, eps=0.0, eps_root=1e-7, bias_correction=c), 0.25),
        "calibration", optax_extras.BIAS_CORRECTIONS,
        "β1 0.9, β2 0.999, lr 0.25, ε 1e-7 inside the root",
        seed_figure=False),
)
