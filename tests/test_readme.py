"""The README's Python examples run as written."""

import pathlib
import re

import pytest

# What users run: their default precision.
pytestmark = pytest.mark.float32

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text(
  encoding="utf-8"
)
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_examples():
  assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
  exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
