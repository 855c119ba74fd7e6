"""Records the golden trajectories from PyTorch and Keras 3.

    pip install -e ".[parity]"   # torch (CPU build) and keras
    python -m tests.parity.record_goldens

Writes ``goldens_torch.npz`` and ``goldens_keras.npz`` beside this file:
each case of `cases` on each problem in float64 and float32, the
parameters at `cases.SNAPSHOTS`, with the problems' data, the case table
and the frameworks' versions, so `tests/test_compat_goldens.py` checks
`optax_extras.compat` against them with neither framework installed. Kept
here, beside the files it writes and the runners the live comparison
(``pytest -m parity``) shares, rather than in experiments/: it is test data.
"""

import json
import pathlib
import sys

import numpy as np

from tests.parity import cases, frameworks

HERE = pathlib.Path(__file__).parent
FILES = {
  "torch": HERE / "goldens_torch.npz",
  "keras": HERE / "goldens_keras.npz",
}


def record(framework: str) -> dict[str, np.ndarray]:
  """The arrays of one golden file."""
  table = cases.TORCH_CASES if framework == "torch" else cases.KERAS_CASES
  run = frameworks.run_torch if framework == "torch" else frameworks.run_keras
  problems = cases.make_problems()
  arrays = {
    "versions": np.array(json.dumps(frameworks.versions())),
    "cases": np.array(json.dumps(cases.case_ids(table))),
  }
  for problem, data in problems.items():
    for key, value in data.items():
      arrays[f"data/{problem}/{key}"] = value
  for case_id, name, kwargs in cases.case_ids(table):
    for problem in cases.PROBLEMS:
      for dtype in cases.DTYPES:
        arrays[f"{case_id}/{problem}/{dtype}"] = run(
          name, kwargs, problem, problems[problem], dtype
        )
    print(case_id, file=sys.stderr, flush=True)
  return arrays


def main(argv: list[str] | None = None) -> None:
  which = argv if argv else list(FILES)
  for framework in which:
    np.savez_compressed(FILES[framework], **record(framework))
    print(f"wrote {FILES[framework]}", file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv[1:])
