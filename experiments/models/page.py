"""`python -m experiments models`: the protocol on every workload, the
rankings against the atlas's, a page (models.html), its figures, and a
manifest of SHA-256 hashes that `load` checks.

Cost (measured on 2 cores; see docs/guide/models.md): quick mode, 5
sweeps of 12 rates x 5 seeds x 300 steps of the digits MLP, 22 s of wall
time, mostly compilation. Full mode, 41 optimizers x 3 workloads = 123
sweeps of 12 rates x 5 seeds x 600 steps, each a compilation (about 2 s)
plus lanes x steps at the workload's cost per lane-step: 17.4 minutes in
one process (digits 186 s, the MNIST-1D CNN 782 s, diabetes 71 s; 1,901
CPU-seconds, 1.5 GB resident at most). Each sweep frees its program
(`protocol.run`), else ~80 sweeps exhaust the process's memory maps."""

from __future__ import annotations

import hashlib
import html
import json
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from experiments import tuning
from experiments.atlas import OPTIMIZERS
from experiments.models import protocol
from experiments.models.workloads import WORKLOADS, get
from optax_extras.io import atomic_write

QUICK_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "nesterov_lookahead")
QUICK_WORKLOADS = ("digits_mlp",)
QUICK = protocol.Settings(num_rates=12, min_rate=1e-4, max_rate=3.0, budget=300)
FILES = ("models.json", "models.html", "models_tuned.png", "models_rank.png")
DPI = 100


def _sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def build(
  out: pathlib.Path,
  *,
  quick: bool = False,
  optimizers: Sequence[str] | None = None,
  workload_names: Sequence[str] | None = None,
  settings: protocol.Settings | None = None,
  atlas: pathlib.Path | None = None,
  show_progress: bool = True,
) -> dict[str, Any]:
  """Runs the protocol for each optimizer on each workload and writes
  models.json, models.html, two figures and manifest.json into `out`.
  `atlas`: an ``atlas.json`` to correlate with (default
  ``atlas/atlas.json`` where it exists; else no atlas correlation, said so
  on the page)."""
  from tqdm.auto import tqdm

  settings = settings or (QUICK if quick else protocol.Settings())
  optimizers = tuple(
    optimizers or (QUICK_OPTIMIZERS if quick else tuple(OPTIMIZERS))
  )
  workload_names = tuple(
    workload_names or (QUICK_WORKLOADS if quick else tuple(WORKLOADS))
  )
  for name in optimizers:
    if name not in OPTIMIZERS:
      raise ValueError(f"optimizers: unknown {name!r}")
  workloads = [get(name) for name in workload_names]
  out.mkdir(parents=True, exist_ok=True)
  start = time.perf_counter()
  records = []
  pairs = [(w, o) for w in workloads for o in optimizers]
  for workload, optimizer in tqdm(
    pairs, desc="models", unit="sweep", disable=not show_progress
  ):
    records.append(protocol.run(optimizer, workload, settings))
  atlas = atlas or pathlib.Path("atlas/atlas.json")
  atlas_doc = json.loads(atlas.read_text()) if atlas.is_file() else None
  document = {
    "settings": {
      **{k: getattr(settings, k) for k in settings.__dataclass_fields__},
      "rates": [float(r) for r in settings.rates],
      "seeds": [int(s) for s in settings.seeds],
    },
    "rule": tuning.RULE,
    "interval": protocol.INTERVAL,
    "bootstrap": protocol.BOOTSTRAP,
    "workloads": {
      w.name: {
        "title": w.title,
        "kind": w.kind,
        "metric": w.metric,
        "metric_title": w.metric_title,
        "higher_is_better": w.higher_is_better,
        "baseline": w.baseline,
        "target": w.target,
        "budget": settings.budget or w.budget,
        "batch_size": w.batch_size,
        "split": w.split,
      }
      for w in workloads
    },
    "atlas": None
    if atlas_doc is None
    else {"path": str(atlas), "sha256": _sha256(atlas)},
    "atlas_scores": {}
    if atlas_doc is None
    else protocol.atlas_scores(atlas_doc),
    "records": records,
    "correlations": correlations(records, atlas_doc, workload_names),
    "seconds": round(time.perf_counter() - start, 1),
  }
  write(out, document)
  print(
    f"models: {len(pairs)} sweeps in {document['seconds']:.0f} s; "
    f"wrote {out / 'models.html'}"
  )
  return document


def scores(records: list[dict[str, Any]], workload: str) -> dict[str, float]:
  """Each optimizer's score on `workload`, higher is better: its mean final
  validation metric at the tuned rate (negated where lower is better, as a
  regression's mean squared error)."""
  return {
    r["optimizer"]: _score(r)
    for r in records
    if r["workload"] == workload and r["val_metric"] is not None
  }


def _score(record: dict[str, Any]) -> float:
  """A record's final metric, higher is better (`Workload.score`'s rule);
  -inf where it has none."""
  if record["val_metric"] is None:
    return -np.inf
  sign = 1 if record["higher_is_better"] else -1
  return sign * record["val_metric"]


def _best_first(document: dict[str, Any], workload: str) -> list:
  """The records of `workload`, best final metric first, none last."""
  rows = [r for r in document["records"] if r["workload"] == workload]
  return sorted(rows, key=_score, reverse=True)


def correlations(
  records: list[dict[str, Any]],
  atlas_doc: dict[str, Any] | None,
  workload_names: Sequence[str],
) -> list[dict[str, Any]]:
  """Spearman (with its bootstrap interval) between the atlas's ranking and
  each workload's, and between each pair of workloads."""
  found = []
  named = {w: scores(records, w) for w in workload_names}
  if atlas_doc is not None:
    atlas = protocol.atlas_scores(atlas_doc)
    for w in workload_names:
      found.append(
        {"a": "atlas", "b": w, **protocol.correlate(atlas, named[w])}
      )
  for i, a in enumerate(workload_names):
    for b in workload_names[i + 1 :]:
      found.append({"a": a, "b": b, **protocol.correlate(named[a], named[b])})
  return found


def write(out: pathlib.Path, document: dict[str, Any]) -> None:
  """The JSON, the figures, the page, then the manifest of their hashes."""
  from experiments.draw import plt  # Agg, set by experiments.draw.

  atomic_write(
    out / "models.json",
    lambda f: f.write(json.dumps(document, indent=1, allow_nan=False).encode()),
  )
  for name, draw in (
    ("models_tuned.png", tuned_figure),
    ("models_rank.png", rank_figure),
  ):
    fig = draw(document, plt)
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
  atomic_write(
    out / "models.html", lambda f: f.write(to_html(document).encode())
  )
  manifest = {name: _sha256(out / name) for name in FILES}
  atomic_write(
    out / "manifest.json",
    lambda f: f.write(json.dumps(manifest, indent=1, allow_nan=False).encode()),
  )


def load(out: pathlib.Path) -> dict[str, Any]:
  """models.json, after checking every file against manifest.json; a
  missing or changed file raises `ValueError` naming it."""
  manifest = json.loads((out / "manifest.json").read_text())
  for name in FILES:
    if name not in manifest:
      raise ValueError(f"{out / 'manifest.json'} does not list {name}")
    path = out / name
    if not path.is_file() or _sha256(path) != manifest[name]:
      raise ValueError(f"{path} is missing or does not match manifest.json")
  return json.loads((out / "models.json").read_text())


def tuned_figure(document, plt):
  """Each optimizer's final metric at its tuned rate with its 95% interval
  over seeds, best at the top, one panel per workload, the target dotted;
  a filled marker where the median seed reaches the target within the
  budget, an open one where it does not."""
  names = list(document["workloads"])
  count = len({r["optimizer"] for r in document["records"]})
  fig, axes = plt.subplots(
    1,
    len(names),
    figsize=(max(9, 4.5 * len(names)), 1.5 + 0.17 * count),
    squeeze=False,
  )
  for ax, name in zip(axes[0], names):
    w = document["workloads"][name]
    rows = _best_first(document, name)
    y = np.arange(len(rows))[::-1]
    value = np.array([_finite(r["val_metric"], np.nan) for r in rows])
    low = np.array([_finite(r["ci_low"], np.nan) for r in rows])
    high = np.array([_finite(r["ci_high"], np.nan) for r in rows])
    reached = np.array([r["median_steps_to_target"] is not None for r in rows])
    ax.hlines(y, low, high, color="0.6", label="95% interval over seeds")
    for mask, label, face in (
      (reached, "median seed reaches the target", "C0"),
      (~reached, "median seed does not", "white"),
    ):
      ax.plot(
        value[mask], y[mask], "o", mfc=face, mec="C0", ms=4,
        label=label, ls="none",
      )  # fmt: skip
    ax.axvline(w["target"], color="k", ls=":", label="target")
    ax.set_yticks(y, [r["optimizer"] for r in rows], fontsize=7)
    better = "higher" if w["higher_is_better"] else "lower"
    ax.set(
      title=f"{name}\n{w['budget']} steps, {better} is better",
      xlabel=w["metric_title"],
      ylabel="optimizer",
    )
  handles, labels = axes[0][0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
  fig.suptitle("Each optimizer at its tuned rate: the final metric")
  fig.tight_layout(rect=(0, 0.04, 1, 1))
  return fig


def rank_figure(document, plt):
  """One panel per compared pair: each optimizer's rank on the first
  against its rank on the second (1 = best), the diagonal where they
  agree, Spearman's rho and its interval in the title; the three
  optimizers whose ranks differ most are named."""
  pairs = document["correlations"]
  columns = min(3, max(1, len(pairs)))
  rows = max(1, -(-len(pairs) // columns))
  fig, axes = plt.subplots(
    rows, columns, figsize=(3.6 * columns + 0.6, 3.6 * rows), squeeze=False
  )
  for ax in axes.flat[len(pairs) :]:
    ax.remove()
  if not pairs:
    fig.suptitle("Rankings compared: none (fewer than two rankings)")
    return fig
  for ax, c in zip(axes.flat, pairs):
    a = _ranks(document, c["a"], c["optimizers"])
    b = _ranks(document, c["b"], c["optimizers"])
    n = len(c["optimizers"])
    ax.plot([1, n], [1, n], color="0.7", ls="--", label="equal ranks")
    ax.plot(a, b, "o", ms=3.5, label="an optimizer")
    for i in np.argsort(-np.abs(a - b), kind="stable")[:3]:
      ax.annotate(c["optimizers"][i], (a[i], b[i]), fontsize=7)
    ax.set(
      title=f"{c['a']} vs {c['b']}\nρ = {_fmt(c['rho'], '.2f')} "
      f"[{_fmt(c['ci_low'], '.2f')}, {_fmt(c['ci_high'], '.2f')}]",
      xlabel=f"rank on {c['a']} (1 = best)",
      ylabel=f"rank on {c['b']}",
      aspect="equal",
    )
  axes.flat[0].legend(fontsize=7, loc="lower right")
  fig.suptitle("Rankings compared, Spearman's ρ [bootstrap 95% interval]")
  fig.tight_layout()
  return fig


def _ranks(document, source, optimizers) -> np.ndarray:
  """Ranks (1 = best) of `optimizers` on `source` (a workload or the atlas,
  whose scores are kept in the correlation's inputs)."""
  import scipy.stats

  if source == "atlas":
    found = document["atlas_scores"]
  else:
    found = scores(document["records"], source)
  return scipy.stats.rankdata([-found[o] for o in optimizers])


def _left_out(document: dict[str, Any]) -> str:
  """List items naming the workloads and optimizers this run left out (a
  quick run's subset), or nothing."""
  ran = {r["optimizer"] for r in document["records"]}
  items = []
  skipped = [w for w in WORKLOADS if w not in document["workloads"]]
  if skipped:
    items.append(f"Workloads not run: {', '.join(skipped)}.")
  missing = [o for o in OPTIMIZERS if o not in ran]
  if missing:
    items.append(
      f"Optimizers not run ({len(missing)} of {len(OPTIMIZERS)}): "
      f"{', '.join(missing)}."
    )
  return "".join(f"<li>{html.escape(item)}</li>" for item in items)


def _finite(x, default: float) -> float:
  """`x`, or `default` where it is None or NaN."""
  return default if x is None or not np.isfinite(x) else float(x)


def _winner(rows: list[dict[str, Any]], spec: str) -> str:
  """The winner (`rows` best first) and the spread of the tuned scores
  against the widest 95% interval over seeds, in a sentence."""
  best = rows[0]
  # Saved values are finite or None (`protocol.summarize`).
  values = [r["val_metric"] for r in rows if r["val_metric"] is not None]
  if not values:
    return "<b>No winner:</b> no optimizer trained at any rate."
  widths = [
    r["ci_high"] - r["ci_low"]
    for r in rows
    if r["ci_high"] is not None and r["ci_low"] is not None
  ]
  spread = max(values) - min(values)
  separated = "wider than" if widths and spread > max(widths) else "within"
  return (
    f"<b>Winner:</b> {best['optimizer']} at lr {best['learning_rate']:.3g}, "
    f"{best['val_metric']:{spec}}; spread of the tuned scores "
    f"{min(values):{spec}}–{max(values):{spec}} ({spread:{spec}}), "
    f"{separated} the widest 95% interval over seeds."
  )


def _fmt(x, spec=".3f") -> str:
  return (
    "–"
    if x is None or (isinstance(x, float) and np.isnan(x))
    else format(x, spec)
  )


def _reading(c: dict[str, Any]) -> str:
  """What one correlation shows, in a sentence."""
  head = f"{c['a']} vs {c['b']} ({c['n']} optimizers): "
  if c["rho"] is None or c["ci_low"] is None:
    return head + "too few optimizers for a rank correlation."
  if c["ci_low"] > 0:
    return head + (
      f"ρ = {c['rho']:.2f}, interval above 0: the rankings agree more than "
      "chance would make them."
    )
  if c["ci_high"] < 0:
    return head + f"ρ = {c['rho']:.2f}, interval below 0: the rankings oppose."
  return head + (
    f"ρ = {c['rho']:.2f}, but the interval includes 0: these data cannot "
    "tell whether one ranking predicts the other."
  )


def to_html(document: dict[str, Any]) -> str:
  """The page: the protocol, per workload a table and its winner, the
  correlations, and what was not measured."""
  s = document["settings"]
  parts = [
    "<!doctype html><meta charset=utf-8><title>Does the atlas predict "
    "training?</title><style>body{font-family:sans-serif;max-width:60em;"
    "margin:auto}td,th{padding:2px 8px;text-align:right}</style>",
    "<h1>Does the atlas predict training?</h1>",
    f"<p><b>Protocol.</b> Per optimizer and workload, one sweep: "
    f"{s['num_rates']} learning rates log-spaced from {s['min_rate']:g} to "
    f"{s['max_rate']:g} × {s['num_seeds']} seeds (seeds "
    f"{', '.join(map(str, s['seeds']))}), the other hyperparameters at "
    f"their defaults. The tuned rate is {html.escape(document['rule'])} "
    "(<code>experiments.tuning.robust_rate</code> on the final validation "
    "loss). Each workload names its metric: validation accuracy (higher "
    "is better) or, for a regression, validation mean squared error (lower "
    "is better). Steps to target: the median over seeds of the first "
    "recorded step whose metric reaches the target (at or above it; at or "
    "below it where lower is better); runs that never reach it (or "
    "diverge) are censored, counted, and make the median '&gt; budget' "
    "when they are half or more. Final metric: mean over seeds, "
    f"{html.escape(document['interval'])}. Tunability: the share of the "
    "rate grid whose median improvement over the trivial predictor "
    "(accuracy above chance; MSE below that of predicting the training "
    "mean) is at least half the best's. Correlations: Spearman's ρ between "
    "optimizers' scores (atlas: mean success rate over its surfaces; "
    "workload: mean final metric at the tuned rate, negated where lower is "
    f"better), {html.escape(document['bootstrap'])}.</p>",
  ]
  for name, w in document["workloads"].items():
    rows = _best_first(document, name)
    spec = ".1%" if w["higher_is_better"] else ".3f"
    better = "higher" if w["higher_is_better"] else "lower"
    parts.append(
      f"<h2>{html.escape(name)}: {html.escape(w['title'])}</h2><p>Target: "
      f"{html.escape(w['metric_title'])} {'≥' if w['higher_is_better'] else '≤'} "
      f"{w['target']:{spec}} ({better} is better; the trivial predictor "
      f"scores {w['baseline']:{spec}}); budget {w['budget']} steps of batch "
      f"{w['batch_size']}; split {html.escape(w['split'])}.</p>"
    )
    if rows:
      parts.append(f"<p>{_winner(rows, spec)}</p>")
    parts.append(
      f"<table><tr><th>optimizer<th>tuned lr<th>{html.escape(w['metric'])}"
      " [95% CI]<th>steps to target<th>censored<th>diverged runs<th>"
      "tunability</tr>"
    )
    for r in rows:
      steps = (
        f"{r['median_steps_to_target']:.0f}"
        if r["median_steps_to_target"] is not None
        else f"&gt; {r['budget']}"
      )
      parts.append(
        f"<tr><td style=text-align:left>{r['optimizer']}<td>"
        f"{r['learning_rate']:.3g}<td>{_fmt(r['val_metric'])} "
        f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]<td>{steps}<td>"
        f"{r['censored']}/{r['num_seeds']}<td>{r['diverged']}<td>"
        f"{r['tunability']:.2f}</tr>"
      )
    parts.append("</table>")
  parts.append("<h2>Rankings compared</h2>")
  if document["atlas"] is None:
    parts.append(
      "<p><b>No atlas results were given</b> (no atlas.json): the "
      "correlation with the atlas is not measured here. Run "
      "<code>python -m experiments atlas</code> first.</p>"
    )
  else:
    parts.append(
      f"<p>Atlas: {html.escape(document['atlas']['path'])} (SHA-256 "
      f"{document['atlas']['sha256'][:16]}…).</p>"
    )
  if document["correlations"]:
    parts.append(
      "<table><tr><th>ranking<th>vs<th>ρ<th>95% CI<th>optimizers<th>"
      "resamples used</tr>"
    )
    for c in document["correlations"]:
      parts.append(
        f"<tr><td>{c['a']}<td>{c['b']}<td>{_fmt(c['rho'], '.2f')}<td>"
        f"[{_fmt(c['ci_low'], '.2f')}, {_fmt(c['ci_high'], '.2f')}]<td>"
        f"{c['n']}<td>{c['resamples_used']}</tr>"
      )
    parts.append("</table>")
    parts.extend(f"<p>{_reading(c)}</p>" for c in document["correlations"])
  parts.append(
    '<p><img src="models_tuned.png" alt="tuned final metric per optimizer" '
    'style="max-width:100%"> <img src="models_rank.png" alt="ranks compared" '
    'style="max-width:100%"></p>'
    "<h2>What was not measured</h2><ul>"
    f"{_left_out(document)}<li>Hyperparameters other than the "
    "learning rate (momentum, betas, weight decay, schedules): defaults "
    "only.</li><li>Test sets: the validation split both tunes and scores "
    "the rate, so the tuned scores are optimistic.</li><li>Wall-clock "
    "time to target: steps only.</li><li>Larger models and data: three "
    "small workloads, so a ρ over a few optimizers has a wide interval."
    "</li></ul>"
    f"<p>{len(document['records'])} sweeps in {document['seconds']} s. "
    '<a href="models.json">models.json</a></p>'
  )
  return "\n".join(parts)
