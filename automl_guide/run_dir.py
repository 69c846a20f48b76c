"""The write stage: a run's directory. What it holds (:data:`ARTIFACTS`), the refusal to
overwrite an earlier run's files, the interrupted search's options kept for ``--resume``
(:data:`STATE_DIR`), and the files of a finished run, each written atomically."""
from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from . import card as cards
from .errors import DataError, ExportError, SearchError
from .files import write_atomic
from .options import RESUMED, FitConfig

ARTIFACTS = ("model.onnx", "model_card.json", "leaderboard.csv", "schema.json",
             "single_best.onnx", "report.html")
STATE_DIR = ".search"  # an interrupted search's options, trials and searcher state


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse a directory holding an earlier run's files unless ``overwrite``."""
    existing = [name for name in ARTIFACTS if (out / name).exists()]
    if existing and not overwrite:
        raise ExportError(f"{out} already holds {', '.join(existing)}; choose another --out or "
                          "pass --overwrite to replace them.")


def start(config: FitConfig, frame: pd.DataFrame) -> FitConfig:
    """The run's configuration once its directory is known: an interrupted run's options when
    resuming, else ``config`` after the overwrite check (an earlier search's state removed)."""
    if config.resume:
        return resumed_config(config, frame)
    if config.out is not None:
        check_out_dir(config.out, config.overwrite)
        shutil.rmtree(config.out / STATE_DIR, ignore_errors=True)
    return config


def save_run_options(config: FitConfig, frame: pd.DataFrame) -> None:
    """The options ``--resume`` keeps, with the data's fingerprint, in ``STATE_DIR/run.json``."""
    options = {k: getattr(config, k) for k in RESUMED}
    for key in ("models", "codes"):
        options[key] = list(options[key]) if options[key] is not None else None
    options["data_fingerprint"] = cards.data_fingerprint(frame)
    write_atomic(config.out / STATE_DIR / "run.json", json.dumps(options, indent=1).encode())


def resumed_config(config: FitConfig, frame: pd.DataFrame) -> FitConfig:
    """The interrupted run's options, with this call's budget (its time budget, and its
    ``max_trials`` when given: the trials of both runs together); the data must be the same."""
    if config.out is None:
        raise SearchError("resume needs the directory of the interrupted run (--resume DIR).")
    path = config.out / STATE_DIR / "run.json"
    if not path.is_file() or not (config.out / STATE_DIR / "searcher.pkl").is_file():
        raise SearchError(f"{config.out} holds no interrupted search to resume (no "
                          f"{STATE_DIR}/ with the searcher's state).")
    options = json.loads(path.read_text())
    if options.pop("data_fingerprint") != cards.data_fingerprint(frame):
        raise DataError(f"The data differs from the data of the interrupted run in {config.out};"
                        " resume with the same file.")
    for key in ("models", "codes"):
        options[key] = tuple(options[key]) if options.get(key) is not None else None
    if config.max_trials is not None:
        options["max_trials"] = config.max_trials
    return replace(config, **options)


def keep_leaderboard(out: Path, board: pd.DataFrame) -> None:
    """The leaderboard of a run that did not finish: nothing is lost."""
    write_atomic(out / "leaderboard.csv", board.to_csv(index=False).encode())


def keep_interrupted(out: Path, board: pd.DataFrame, interrupted: Any) -> str:
    """An interrupted search's leaderboard, and its searcher's state when it has one; the
    command that resumes it (empty when it cannot)."""
    keep_leaderboard(out, board)
    if getattr(interrupted, "searcher", None) is None:
        return ""
    from . import search

    search.save_state(out / STATE_DIR, interrupted)
    return f"; continue with `automl-guide fit DATA --resume {out}`"


def end_search(out: Path) -> None:
    """A search that ended (finished or failed) leaves nothing to resume."""
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)


def write_run(out: Path, model_bytes: bytes, card_json: str, board: pd.DataFrame,
              schema_json: str, single_bytes: bytes | None = None) -> Path:
    """A finished run's files; ``single_best.onnx`` only beside an ensemble (an earlier run's
    would pass for this run's)."""
    out.mkdir(parents=True, exist_ok=True)
    if single_bytes is not None:
        write_atomic(out / "single_best.onnx", single_bytes)
    else:
        (out / "single_best.onnx").unlink(missing_ok=True)
    write_atomic(out / "leaderboard.csv", board.to_csv(index=False).encode())
    write_atomic(out / "schema.json", schema_json.encode())
    write_atomic(out / "model_card.json", card_json.encode())
    write_atomic(out / "model.onnx", model_bytes)
    end_search(out)  # finished: nothing left to resume
    return out / "model.onnx"


def write_report(path: Path, **inputs: Any) -> None:
    """report.html; a report that cannot be drawn costs a warning, never the run (the model
    files are already written)."""
    from .report import render

    try:
        page = render(**inputs)
    except Exception as exc:  # noqa: BLE001 - any plotting failure
        path.unlink(missing_ok=True)  # an earlier run's report would pass for this run's
        warnings.warn(f"report.html not written ({type(exc).__name__}: {exc}); the model files "
                      f"are complete.", RuntimeWarning, stacklevel=2)
        return
    write_atomic(path, page.encode())
