"""Progress lines on the terminal: trials done, budget left, best so far."""
from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from .metrics import Metric


class Progress:
    """Prints one line per finished trial to ``stream`` (stderr by default) unless ``quiet``."""

    def __init__(self, metric: Metric, deadline: float | None, quiet: bool = False,
                 stream: TextIO | None = None):
        self.metric, self.deadline, self.quiet = metric, deadline, quiet
        self.stream = stream  # None: sys.stderr at print time (Ray Tune pickles callbacks)
        self.done = 0
        self.best: tuple[float, str] | None = None

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream or sys.stderr, flush=True)

    def trial(self, record) -> None:
        self.done += 1
        ok = record.status == "ok" and math.isfinite(record.score)
        if ok and (self.best is None or self.metric.better(record.score, self.best[0])):
            self.best = (record.score, record.model)
        left = "" if self.deadline is None else f" | {max(0, self.deadline - time.monotonic()):4.0f}s left"
        if ok:
            outcome = f"{self.metric.name}={record.score:.4f}"
            outcome += " (stopped early)" if getattr(record, "early_stopped", False) else ""
        else:
            verb = "stopped" if record.status == "timeout" else "failed"
            outcome = f"{verb}: {record.error[:60]}"
        best = f" | best {self.best[0]:.4f} ({self.best[1]})" if self.best else ""
        self.say(f"  trial {self.done:3d}{left} | {record.model:<14} {outcome}{best}")
