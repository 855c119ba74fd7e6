"""optax_extras: classic first-order optimizer variants as optax transforms.

Each family is a low-level ``scale_by_*`` transform, which only rescales the
gradient, and a full optimizer (learning rate and sign included), both
``optax.GradientTransformationExtraArgs``. The lab around them: `sweep` runs
an optimizer over a hyperparameter grid and a batch of starts (2-D points,
vectors or model parameters) in one compiled program, on the surfaces of
`landscapes` or any loss; `signals` feeds 1-D gradient signals through any
transform; `io` writes files whole or not at all.
"""

from optax_extras import compat, io, landscapes, signals
from optax_extras._src.sweep.lane import Lane, run_lane
from optax_extras._src.sweep.result import SweepResult
from optax_extras._src.sweep.result import load as load_sweep
from optax_extras._src.sweep.sweep import sweep
from optax_extras._src.transforms.adadelta import (
  AdadeltaBigstartState,
  adadelta_bigstart,
  scale_by_adadelta_bigstart,
)
from optax_extras._src.transforms.adagrad import (
  AdagradFamilyState,
  adagrad_family,
  scale_by_adagrad_family,
)
from optax_extras._src.transforms.adam import (
  BIAS_CORRECTIONS,
  AdamCalibratedState,
  BiasCorrection,
  BiasCorrectionName,
  Calibration,
  adam_calibrated,
  scale_by_adam_calibrated,
)
from optax_extras._src.transforms.lookahead import (
  MomentumLookaheadState,
  nesterov_lookahead,
  scale_by_momentum_lookahead,
)

__version__ = "0.1.0"

__all__ = (
  "AdadeltaBigstartState",
  "AdagradFamilyState",
  "AdamCalibratedState",
  "BIAS_CORRECTIONS",
  "BiasCorrection",
  "BiasCorrectionName",
  "Calibration",
  "Lane",
  "MomentumLookaheadState",
  "SweepResult",
  "adadelta_bigstart",
  "adagrad_family",
  "adam_calibrated",
  "compat",
  "io",
  "landscapes",
  "load_sweep",
  "nesterov_lookahead",
  "run_lane",
  "scale_by_adadelta_bigstart",
  "scale_by_adagrad_family",
  "scale_by_adam_calibrated",
  "scale_by_momentum_lookahead",
  "signals",
  "sweep",
)
