"""A progress bar over units of work, advanced by worker processes as they go.

The gallery and the atlas compute in worker processes; a bar that moved only
when a whole job returned said nothing for the first minute. Here the bar
counts small units (a sweep of the gallery, an optimizer × surface pair of
the atlas), and whoever finishes one calls `report`: in a worker (started
with `Progress.initializer` / `Progress.initargs`) it goes through a
``multiprocessing.SimpleQueue`` to a thread of the parent that updates the
bar, so the bar moves while the first job is still computing, with tqdm's
estimate of the time left. In the parent, `report` goes through the same
queue. Outside a `Progress`, `report` does nothing.

A job whose units are known in advance runs in ``with job(units):``, which
reports at its end whatever it did not report itself (a job computed with
fewer sweeps than expected) and never more than `units`, so the bar ends at
its total.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from typing import Any

_sink: Any = None  # This process's queue, where a `Progress` is listening.
_budget: list[int] = []  # Per open `job`: the units it may still report.


def report(units: int = 1) -> None:
  """`units` more units done (nothing outside a `Progress`)."""
  if _budget:
    units = min(units, _budget[-1])
    _budget[-1] -= units
  if _sink is not None and units > 0:
    _sink.put(units)


@contextlib.contextmanager
def job(units: int) -> Iterator[None]:
  """A job of `units` units: reports what is left of them at its end."""
  _budget.append(units)
  try:
    yield
  finally:
    left = _budget.pop()
    report(left)


def _start_worker(queue, then: Callable[[], None] | None) -> None:
  global _sink
  _sink = queue
  if then is not None:
    then()


class Progress:
  """``with Progress(total, desc, unit) as progress:`` a tqdm bar of `total`
  units that `report` advances, from this process or from workers started
  with ``initializer=progress.initializer, initargs=progress.initargs``.

  `context`: the multiprocessing context of those workers (default spawn);
  `worker_init`: a further initializer for them; `disable`: no bar (the
  units are still counted, in `n`).
  """

  def __init__(
    self,
    total: int,
    desc: str,
    unit: str,
    *,
    disable: bool = False,
    context: Any = None,
    worker_init: Callable[[], None] | None = None,
  ):
    from tqdm.auto import tqdm

    self.total = total
    self.n = 0
    self.bar = tqdm(total=total, desc=desc, unit=unit, disable=disable)
    context = context or multiprocessing.get_context("spawn")
    self.queue = context.SimpleQueue()
    self.initializer = _start_worker
    self.initargs = (self.queue, worker_init)
    self._thread = threading.Thread(target=self._drain, daemon=True)
    self._changed = threading.Condition()

  def _drain(self) -> None:
    while True:
      units = self.queue.get()
      if units is None:
        return
      with self._changed:
        self.n += units
        self.bar.update(units)
        self._changed.notify_all()

  def wait_for(self, n: int, timeout: float) -> bool:
    """Waits until `n` units are done (True) or `timeout` seconds pass."""
    with self._changed:
      return self._changed.wait_for(lambda: self.n >= n, timeout)

  def __enter__(self) -> Progress:
    global _sink
    self._previous = _sink
    _sink = self.queue
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    global _sink
    _sink = self._previous
    self.queue.put(None)
    self._thread.join()
    self.bar.close()
    self.queue.close()
