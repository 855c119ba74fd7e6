"""MkDocs hook: docstrings' math as MathML, their doctests as code blocks.

Browsers draw MathML natively, so the site needs no JavaScript and no network.
Block math is a ``.. math::`` line followed by its indented lines (the
reStructuredText form the library's docstrings use) or ``$$ ... $$`` on lines
of their own; inline math is ``:math:`...` `` or ``$...$``. A formula that
latex2mathml cannot convert is a warning, so ``mkdocs build --strict`` fails.
A doctest block (lines from ``>>>`` to a blank line, as in reStructuredText)
becomes a fenced ``pycon`` code block.
"""

import html
import logging
import re

import latex2mathml.converter
import markdown
import mkdocs.plugins

log = logging.getLogger("mkdocs.hooks.math")

_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_BLOCK = re.compile(r"^(\s*)\.\. math::\s*$")
_DOLLAR_BLOCK = re.compile(r"^(\s*)\$\$\s*$")


def _mathml(latex: str, display: str) -> str:
  try:
    mathml = latex2mathml.converter.convert(latex.strip(), display=display)
  except Exception as error:  # noqa: BLE001 (any failure: keep the source)
    log.warning("math: cannot convert %r: %s", latex, error)
    return f"<code>{html.escape(latex)}</code>"
  unknown = re.findall(r">(\\[A-Za-z]+)<", mathml)  # Passed through as text.
  if unknown:
    log.warning("math: unknown commands %s in %r", unknown, latex)
  return mathml


class _BlockMath(markdown.preprocessors.Preprocessor):
  """Replaces each block of math by a stashed ``<div class="math">``."""

  def run(self, lines: list[str]) -> list[str]:
    out, i, in_fence = [], 0, False
    while i < len(lines):
      line = lines[i]
      if _FENCE.match(line):
        in_fence = not in_fence
      if not in_fence and line.lstrip().startswith(">>>"):
        i = _doctest(lines, i, out)
        continue
      rst, dollars = _RST_BLOCK.match(line), _DOLLAR_BLOCK.match(line)
      if in_fence or not (rst or dollars):
        out.append(line)
        i += 1
        continue
      indent = (rst or dollars).group(1)
      body, i = [], i + 1
      if rst:  # The indented lines that follow (blank lines inside allowed).
        while i < len(lines) and (
          not lines[i].strip() or _indent(lines[i]) > len(indent)
        ):
          body.append(lines[i])
          i += 1
        while body and not body[-1].strip():
          body.pop()
          i -= 1
      else:  # Up to the closing $$.
        while i < len(lines) and not _DOLLAR_BLOCK.match(lines[i]):
          body.append(lines[i])
          i += 1
        i += 1
      latex = " ".join(part.strip() for part in body)
      div = f'<div class="math">{_mathml(latex, "block")}</div>'
      out += ["", indent + self.md.htmlStash.store(div), ""]
    return out


def _doctest(lines: list[str], i: int, out: list[str]) -> int:
  """Fences the doctest block at ``lines[i]`` (up to a blank line) as pycon."""
  indent = _indent(lines[i])
  out += ["", " " * indent + "```pycon"]
  while i < len(lines) and lines[i].strip():
    out.append(" " * indent + lines[i][indent:])
    i += 1
  out += [" " * indent + "```", ""]
  return i


def _indent(line: str) -> int:
  return len(line) - len(line.lstrip())


class _InlineMath(markdown.inlinepatterns.InlineProcessor):
  def handleMatch(self, m, data):  # noqa: N802 (Python-Markdown's name)
    return (
      self.md.htmlStash.store(_mathml(m.group(1), "inline")),
      m.start(0),
      m.end(0),
    )


class MathExtension(markdown.Extension):
  def extendMarkdown(self, md):  # noqa: N802 (Python-Markdown's name)
    md.preprocessors.register(_BlockMath(md), "math_block", 27)
    # Before code spans (190), since :math:`...` contains backticks.
    md.inlinePatterns.register(
      _InlineMath(r":math:`([^`]+)`", md), "math_rst", 195
    )
    # After code spans, so that $ inside code stays code; before escapes.
    md.inlinePatterns.register(
      _InlineMath(r"(?<![\w$\\])\$(?![\s$])([^$\n]+?)(?<!\s)\$(?![\w$])", md),
      "math_dollar",
      185,
    )


@mkdocs.plugins.event_priority(100)  # Before mkdocstrings reads the list.
def on_config(config):
  config.markdown_extensions.append(MathExtension())
  return config
