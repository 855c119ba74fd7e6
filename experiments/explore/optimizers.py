"""The optimizers the explorer offers, each with its steerable hyperparameters.

An `Optimizer` is a factory called with numeric hyperparameters only (traced
by the sweep program, so moving a slider never recompiles), the range and
scale of each, and the Python text of the factory, which "copy as Python"
writes into its `optax_extras.sweep` call. Adding one is one line:

  register(Optimizer("optax.lion", "optax", optax.lion, (RATE, B1, B2), "optax.lion"))

or, for a function whose numeric keyword defaults are its hyperparameters
(the parity presets), ``register(from_signature(name, family, fn, code))``.
"""

import dataclasses
import importlib
import inspect
import numbers
from collections.abc import Callable

import optax

import optax_extras


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
  """A slider: ``low <= value <= high``, on a log scale if `log`."""

  name: str
  default: float
  low: float
  high: float
  log: bool = False

  def __post_init__(self):
    if not self.low <= self.default <= self.high:
      raise ValueError(
        f"Hyperparameter {self.name!r}: default {self.default} outside "
        f"[{self.low}, {self.high}]."
      )
    if self.log and self.low <= 0:
      raise ValueError(
        f"Hyperparameter {self.name!r}: a log scale needs low > 0."
      )

  def with_default(self, default: float) -> "Hyperparameter":
    return dataclasses.replace(self, default=default)

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Optimizer:
  """``make(**hyperparameters) -> optax transform``, and how to show it.

  Attributes:
    name: the registry key, as the page and the API name it.
    family: "optax_extras", "optax" or "compat" (grouping on the page).
    make: called with a value for each of `hyperparameters`, by name.
    hyperparameters: the sliders, in order.
    code: a Python expression equal to `make`, given ``import optax,
      optax_extras`` (written into "copy as Python", never evaluated here).
    doc: one line for the page.
    module: a module "copy as Python" imports for `code`, if any.
  """

  name: str
  family: str
  make: Callable[..., optax.GradientTransformation]
  hyperparameters: tuple[Hyperparameter, ...]
  code: str
  doc: str = ""
  module: str = ""
  aliases: tuple[tuple[str, str], ...] = ()  # (old name, slider name)

  def hyperparameter(self, name: str) -> Hyperparameter | None:
    """The slider called `name`, or by an old name of it (`aliases`)."""
    name = dict(self.aliases).get(name, name)
    return next((h for h in self.hyperparameters if h.name == name), None)

  def to_json(self) -> dict:
    return {
      "name": self.name,
      "family": self.family,
      "hyperparameters": [h.to_json() for h in self.hyperparameters],
      "code": self.code,
      "doc": self.doc,
    }


# Slider ranges (the API refuses values outside them).
RATE = Hyperparameter("learning_rate", 0.01, 1e-5, 10.0, log=True)
DECAY = Hyperparameter("decay", 0.9, 0.0, 0.999)
MOMENTUM = Hyperparameter("momentum", 0.9, 0.0, 0.999)
B1 = Hyperparameter("b1", 0.9, 0.0, 0.999)
B2 = Hyperparameter("b2", 0.999, 0.0, 0.9999)
EPS = Hyperparameter("eps", 1e-8, 1e-16, 1.0, log=True)
RHO = Hyperparameter("rho", 0.9, 0.0, 0.999)

_REGISTRY: dict[str, Optimizer] = {}


def register(optimizer: Optimizer, *, overwrite: bool = False) -> Optimizer:
  """Adds `optimizer` under its name; a taken name is refused."""
  if optimizer.name in _REGISTRY and not overwrite:
    raise ValueError(f"an optimizer named {optimizer.name!r} already exists")
  _REGISTRY[optimizer.name] = optimizer
  return optimizer


def get(name: str) -> Optimizer:
  return _REGISTRY[name]


def names() -> tuple[str, ...]:
  """Registered names, in registration order (families together)."""
  return tuple(_REGISTRY)


def _guess(name: str, default: float) -> Hyperparameter:
  """A slider for a numeric keyword by its name (presets' signatures)."""
  lowered = name.lower()
  if "learning_rate" in lowered or lowered in ("lr", "eta"):
    low, high = min(1e-5, default / 100), max(10.0, default * 100)
    return Hyperparameter(name, default, low, high, log=True)
  if "eps" in lowered or "epsilon" in lowered:
    if default > 0:
      low, high = min(1e-12, default / 1e4), max(1.0, default * 100)
      return Hyperparameter(name, default, low, high, log=True)
    return Hyperparameter(name, default, 0.0, 1.0)
  if 0.0 <= default < 1.0 and any(
    key in lowered
    for key in (
      "momentum",
      "decay",
      "rho",
      "beta",
      "b1",
      "b2",
      "mu",
      "gamma",
      "alpha",
    )
  ):
    return Hyperparameter(name, default, 0.0, max(0.9999, default))
  if default > 0:
    return Hyperparameter(name, default, default / 1e4, default * 1e4, log=True)
  return Hyperparameter(name, default, min(default, 0.0), max(1.0, default))


# A preset's argument -> optax's name for the same hyperparameter, so that
# a slider is called the same for every family (the preset's own names stay
# in "copy as Python", where a porter looks for them, and the API still
# takes them: `Optimizer.aliases`).
_OPTAX_NAMES = {
  "lr": "learning_rate",
  "beta_1": "b1",
  "beta1": "b1",
  "betas_0": "b1",
  "beta_2": "b2",
  "beta2": "b2",
  "betas_1": "b2",
  "epsilon": "eps",
  "alpha": "decay",  # torch.optim.RMSprop's smoothing constant.
}


def _optax_name(argument: str, function: str) -> str:
  """optax's name of a preset's argument (RMSprop's ``rho`` is optax's
  ``decay``, Adadelta's stays ``rho`` as in `optax.adadelta`)."""
  if argument == "rho" and "rmsprop" in function:
    return "decay"
  return _OPTAX_NAMES.get(argument, argument)


def from_signature(
  name: str,
  family: str,
  make: Callable[..., optax.GradientTransformation],
  code: str,
  *,
  learning_rate: float = 0.01,
  module: str = "",
) -> Optimizer:
  """An `Optimizer` whose sliders are `make`'s numeric keyword parameters.

  A ``learning_rate`` without a default gets `learning_rate`; parameters of
  other kinds (booleans, strings, tuples) keep their defaults, unsteered. A
  parameter without a default other than the learning rate is refused.
  Sliders take optax's names (`_optax_name`: torch's ``lr`` is
  ``learning_rate``, ``betas`` are ``b1, b2``); the preset's own names stay
  in `code` and in `Optimizer.aliases`.
  """
  sliders = []
  arguments = []  # (keyword of `make`, its sliders' names, a tuple?)
  pairs = {}  # A tuple of numbers (torch's betas): one slider per entry.
  for parameter in inspect.signature(make).parameters.values():
    default = parameter.default
    if parameter.name == "learning_rate" and default is parameter.empty:
      default = learning_rate
    if default is parameter.empty:
      if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
        continue
      raise ValueError(
        f"from_signature: {name}: parameter {parameter.name!r} has no default"
      )
    if _is_real(default):
      sliders.append(_guess(parameter.name, float(default)))
      arguments.append((parameter.name, (parameter.name,), False))
    elif isinstance(default, tuple) and 0 < len(default) <= 4:
      if not all(_is_real(v) for v in default):
        continue
      parts = [f"{parameter.name}_{i}" for i in range(len(default))]
      pairs[parameter.name] = parts
      sliders += [_guess(p, float(v)) for p, v in zip(parts, default)]
      arguments.append((parameter.name, tuple(parts), True))
  doc = (inspect.getdoc(make) or "").split("\n")[0]
  own = [h.name for h in sliders]  # The preset's names (torch: betas_0).
  sliders = [
    dataclasses.replace(h, name=_optax_name(h.name, make.__name__))
    for h in sliders
  ]
  renamed = {h.name: o for h, o in zip(sliders, own) if h.name != o}
  if len({h.name for h in sliders}) != len(sliders):
    raise ValueError(f"from_signature: {name}: two sliders share an optax name")
  if pairs or renamed:
    factory = make

    def make(**values):
      values = {renamed.get(k, k): v for k, v in values.items()}
      for parameter, parts in pairs.items():
        values[parameter] = tuple(values.pop(p) for p in parts)
      return factory(**values)

    slider = {o: n for n, o in renamed.items()}
    texts = []
    for keyword, parts, is_tuple in arguments:
      shown = ", ".join(slider.get(p, p) for p in parts)
      if is_tuple:
        shown = f"({shown}{',' if len(parts) == 1 else ''})"
      texts.append(f"{keyword}={shown}")
    names_text = ", ".join(h.name for h in sliders)
    code = f"lambda {names_text}: {code}({', '.join(texts)})"
  aliases = tuple((old, new) for new, old in renamed.items())
  return Optimizer(
    name, family, make, tuple(sliders), code, doc, module, aliases
  )


def _is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --- This library's ------------------------------------------------------------

_NESTEROV = "lambda learning_rate, decay: optax_extras.nesterov_lookahead("
for _name, _lookahead, _doc in (
  ("heavy_ball", (0.0,), "momentum v = γv + g, gradient at θ"),
  ("nesterov_lookahead", (1.0,), "gradient really evaluated at θ + γ(θ - θ')"),
  (
    "smoothed_nesterov",
    (0.25, 0.5, 0.75, 1.0),
    "gradients averaged at θ + cγ(θ - θ'), c = 1/4, 1/2, 3/4, 1",
  ),
):
  register(
    Optimizer(
      _name,
      "optax_extras",
      lambda learning_rate, decay, _lookahead=_lookahead: (
        optax_extras.nesterov_lookahead(learning_rate, decay, _lookahead)
      ),
      (RATE, DECAY),
      f"{_NESTEROV}learning_rate, decay, {_lookahead!r})",
      f"optax_extras.nesterov_lookahead, lookahead {_lookahead}: {_doc}",
    )
  )
register(
  Optimizer(
    "adam_calibrated",
    "optax_extras",
    optax_extras.adam_calibrated,
    (RATE.with_default(0.1), B1, B2, EPS),
    "optax_extras.adam_calibrated",
    "Adam, standard bias correction",
  )
)
register(
  Optimizer(
    "adam_first_gradient",
    "optax_extras",
    lambda learning_rate, b1, b2, eps: optax_extras.adam_calibrated(
      learning_rate, b1, b2, eps, bias_correction="first_gradient"
    ),
    (RATE.with_default(0.1), B1, B2, EPS),
    "lambda learning_rate, b1, b2, eps: optax_extras.adam_calibrated("
    'learning_rate, b1, b2, eps, bias_correction="first_gradient")',
    "Adam whose moments start at the first gradient",
  )
)
register(
  Optimizer(
    "adadelta_bigstart",
    "optax_extras",
    optax_extras.adadelta_bigstart,
    (
      RATE.with_default(1.0),
      RHO,
      EPS.with_default(1e-6),
      Hyperparameter("initial_delta_sq", 1.0, 1e-6, 100.0, log=True),
    ),
    "optax_extras.adadelta_bigstart",
    "Adadelta whose average of squared updates starts big",
  )
)
register(
  Optimizer(
    "adagrad_family",
    "optax_extras",
    optax_extras.adagrad_family,
    (
      RATE.with_default(1.0),
      Hyperparameter("power", 0.5, 0.05, 1.0),
      Hyperparameter("order", 2.0, 0.5, 4.0),
      EPS.with_default(1e-7),
    ),
    "optax_extras.adagrad_family",
    "accumulate |g|^order, divide by (acc + eps)^power",
  )
)

# --- optax's -----------------------------------------------------------------

for _optimizer in (
  Optimizer(
    "optax.sgd", "optax", optax.sgd, (RATE,), "optax.sgd", "gradient descent"
  ),
  Optimizer(
    "optax.sgd_momentum",
    "optax",
    lambda learning_rate, momentum: optax.sgd(learning_rate, momentum),
    (RATE, MOMENTUM),
    "lambda learning_rate, momentum: optax.sgd(learning_rate, momentum)",
    "heavy-ball momentum",
  ),
  Optimizer(
    "optax.sgd_nesterov",
    "optax",
    lambda learning_rate, momentum: optax.sgd(
      learning_rate, momentum, nesterov=True
    ),
    (RATE, MOMENTUM),
    "lambda learning_rate, momentum: optax.sgd(learning_rate, momentum, "
    "nesterov=True)",
    "Nesterov momentum (Sutskever's form)",
  ),
  Optimizer(
    "optax.adam",
    "optax",
    optax.adam,
    (RATE.with_default(0.1), B1, B2, EPS),
    "optax.adam",
  ),
  Optimizer(
    "optax.nadam",
    "optax",
    optax.nadam,
    (RATE.with_default(0.1), B1, B2, EPS),
    "optax.nadam",
  ),
  Optimizer(
    "optax.adamax",
    "optax",
    optax.adamax,
    (RATE.with_default(0.1), B1, B2, EPS),
    "optax.adamax",
  ),
  Optimizer(
    "optax.rmsprop",
    "optax",
    optax.rmsprop,
    (RATE.with_default(0.1), DECAY, EPS),
    "optax.rmsprop",
  ),
  Optimizer(
    "optax.adagrad",
    "optax",
    optax.adagrad,
    (
      RATE.with_default(1.0),
      Hyperparameter("initial_accumulator_value", 0.1, 0.0, 10.0),
      EPS.with_default(1e-7),
    ),
    "optax.adagrad",
  ),
  Optimizer(
    "optax.adadelta",
    "optax",
    optax.adadelta,
    (RATE.with_default(1.0), RHO, EPS.with_default(1e-6)),
    "optax.adadelta",
  ),
  Optimizer(
    "optax.adabelief",
    "optax",
    optax.adabelief,
    (RATE.with_default(0.1), B1, B2, EPS.with_default(1e-16)),
    "optax.adabelief",
  ),
  Optimizer(
    "optax.lion",
    "optax",
    optax.lion,
    (RATE, B1, B2.with_default(0.99)),
    "optax.lion",
  ),
):
  register(_optimizer)


# --- The parity presets, where they exist ------------------------------------


def register_presets(module_name: str = "optax_extras.compat") -> list[str]:
  """Registers every public function of `module_name` with `from_signature`
  as ``compat.<name>``; returns their names (none if the module does not
  exist). The parity presets: PyTorch's, Keras 3's, TF1's, Lasagne's."""
  try:
    module = importlib.import_module(module_name)
  except ModuleNotFoundError:
    return []
  added = []
  for name in getattr(module, "__all__", dir(module)):
    function = getattr(module, name)
    if name.startswith("_") or not inspect.isfunction(function):
      continue
    try:
      optimizer = from_signature(
        f"compat.{name}",
        "compat",
        function,
        f"{module_name}.{name}",
        module=module_name,
      )
    except ValueError:
      continue  # A helper, not an optimizer.
    if f"compat.{name}" not in _REGISTRY:
      added.append(register(optimizer).name)
  return added


register_presets()
