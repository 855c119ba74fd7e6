"""Drawing saved arrays: no optimizer runs here."""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.catalogue import SignalMethod  # noqa: E402


def signal_figure(
    method: SignalMethod,
    signal_name: str,
    signal: np.ndarray,
    responses: np.ndarray,
    path: pathlib.Path,
    dpi: int,
) -> None:
  """The seed's 1-D figure: the signal and the response for each swept value."""
  epochs = np.arange(signal.shape[0])
  fig, ax = plt.subplots(figsize=(16.0, 9.0))
  ax.plot(epochs, signal, label="gradient", color="0.6")
  for value, response in zip(method.values, responses):
    ax.plot(epochs, response, label=f"{method.swept} = {value}")
  ax.spines["bottom"].set_position("zero")
  ax.set_xticks(np.arange(0, signal.shape[0], 20))
  ax.grid(True)
  ax.set_title(f"{method.title}: {signal_name.replace('_', ' ')}")
  ax.set_xlabel("epoch")
  ax.set_ylabel("value")
  ax.legend()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=dpi)
  plt.close(fig)
