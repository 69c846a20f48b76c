"""The search stage's Ray-free parts: how the workers' time is shared among the families (and
the trials run in the driver before Ray started are told to the searcher), and what Ctrl-C does
to a search. :mod:`automl_guide.search` puts them behind Ray Tune's interfaces."""
from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator, Mapping, Sequence

from .specs import FamilyScores


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during the search: ``records`` holds every trial recorded until then, ``searcher``
    the searcher in its state at that moment (what it proposed, what it learnt), and
    ``untold`` the trials run in the driver that it has not yet proposed, as (config, result):
    a resumed search tells it of them when it does (``run_search``'s ``told``)."""

    def __init__(self, records: list, searcher: Any = None,
                 untold: Sequence[tuple[Mapping[str, Any], dict]] = ()):
        super().__init__("search interrupted")
        self.records = records
        self.searcher = searcher
        self.untold = [(config, without_outputs(result)) for config, result in untold]


def without_outputs(result: Mapping[str, Any]) -> dict:
    return {k: v for k, v in result.items() if k != "outputs"}


class SharedBudget:
    """A plugin searcher behind Ray Tune's Searcher interface (``search.SearcherAdapter`` is this
    and Tune's ``Searcher``), sharing the workers' time: with
    three or more families none may use more than ``2 / families`` of it, so a slow family (the
    SVM on large data, the ANN) cannot eat the budget, except that the two families with the
    best scores so far may use twice that, so the budget goes where the search is winning.
    Suggestions of a family over its share are declined (reported to the searcher as failed)
    and the searcher asked again."""

    FINISHED = "FINISHED"  # what a searcher with nothing left to try answers (Ray Tune's value)

    leaders = 2

    def __init__(self, inner: Any, families: int, worker_seconds: float | None,
                 mode: str = "max", done: list[tuple[Mapping[str, Any], dict]] | None = None):
        super().__init__()
        self.inner = inner
        self.done = list(done or [])  # (config, result) of trials run in the driver
        self.share = 1.0 if families < 3 else 2.0 / families
        self.worker_seconds = worker_seconds
        self.scores = FamilyScores(mode)
        self.spent: dict[str, float] = {}
        self.running: dict[str, tuple[str, float]] = {}
        self.inner_ids: dict[str, str] = {}

    def suggest(self, trial_id: str) -> dict | None:
        config = None
        for attempt in range(20):  # a declined suggestion gets a fresh id for the searcher
            inner_id = trial_id if attempt == 0 else f"{trial_id}-declined{attempt}"
            config = self.inner.suggest(inner_id)
            if config is None:
                return self.FINISHED
            if self._known(inner_id, config):
                continue
            if not self._over_share(config.get("model")):
                break
            self.inner.on_trial_complete(inner_id, result=None, error=True)
        self.inner_ids[trial_id] = inner_id
        self.running[trial_id] = (config.get("model"), time.monotonic())
        return config

    def _known(self, inner_id: str, config: Mapping[str, Any]) -> bool:
        """A suggestion the driver has already run: its result goes to the searcher (and its
        time to its family) as if Tune had run it, and the searcher is asked again."""
        for i, (ran, result) in enumerate(self.done):
            if dict(ran) == dict(config):
                del self.done[i]
                family, failed = config.get("model"), result.get("status") != "ok"
                self.spent[family] = self.spent.get(family, 0.0) + float(result["fit_seconds"])
                self.scores.record(family, result, failed)
                self.inner.on_trial_complete(inner_id, result=result, error=failed)
                return True
        return False

    def cap(self, family: str | None) -> float | None:
        """Worker seconds ``family`` may use; None: no cap."""
        if self.worker_seconds is None:
            return None
        share = self.share * (2.0 if family in self.scores.leading(self.leaders) else 1.0)
        return min(1.0, share) * self.worker_seconds

    def _over_share(self, family: str | None) -> bool:
        cap = self.cap(family)
        if cap is None:
            return False
        now = time.monotonic()
        used = self.spent.get(family, 0.0) + sum(now - t for f, t in self.running.values()
                                                 if f == family)
        return used > cap

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if hasattr(self.inner, "on_trial_result"):
            self.inner.on_trial_result(self.inner_ids.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        family, began = self.running.pop(trial_id, (None, time.monotonic()))
        if family is not None:
            self.spent[family] = self.spent.get(family, 0.0) + time.monotonic() - began
        failed = error or result is None or result.get("status") != "ok"
        self.scores.record(family, result, failed)
        self.inner.on_trial_complete(self.inner_ids.pop(trial_id, trial_id), result=result,
                                     error=failed)


@contextlib.contextmanager
def catch_ctrl_c(collector: Any) -> Iterator[None]:
    """The first Ctrl-C ends the search gracefully (running trials are stopped, what finished is
    kept: ``collector.interrupted`` is set); a second one interrupts at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def stop(signum: int, frame: Any) -> None:
        collector.interrupted = True
        # the second: Python's own KeyboardInterrupt, whatever handler was there before (one
        # that Ray or a host program installed may not interrupt at all)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
