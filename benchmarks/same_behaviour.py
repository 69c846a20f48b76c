"""Do two commits behave the same? Fits the same datasets with the same seed and trial count at
each commit and compares the leaderboards (every trial's family, configuration, status and
score) and the exported graphs' predictions, bit for bit.

    .venv/bin/python benchmarks/same_behaviour.py BEFORE AFTER [--datasets books toyota oj]

Each commit's tree is unpacked into a temporary folder (``git archive``) and imported from
there, its plugins and schemas included, in a process of its own; the datasets and this script
come from the working tree. Needs the benchmark data (``make bench-data``). Prints one line per
dataset and exits non-zero on any difference. A change meant to change nothing (a refactor)
runs it against the commit before it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = ("books", "toyota", "oj")


def unpack(commit: str, into: Path) -> Path:
    """The tree of ``commit`` in ``into``, with the import names the package installs
    (``automl_guide_plugins``, ``automl_guide_schemas``) beside it."""
    tree = into / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True,
                             check=True).stdout
    archive_path = into / "tree.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(tree, filter="data")
    names = into / "names"
    names.mkdir()
    (names / "automl_guide_plugins").symlink_to(tree / "plugins")
    (names / "automl_guide_schemas").symlink_to(tree / "schemas")
    return tree


def run_commit(commit: str, datasets: list[str], max_trials: int, work: Path) -> dict:
    """Fit ``datasets`` at ``commit`` in a fresh process; what each fit gave."""
    folder = work / commit.replace("/", "_")
    tree = unpack(commit, folder)
    out = folder / "result.json"
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(folder / "names"), str(tree),
                                          str(ROOT / "benchmarks")])}
    subprocess.run([sys.executable, __file__, "--child", str(out), "--max-trials",
                    str(max_trials), "--datasets", *datasets], env=env, check=True,
                   cwd=folder)
    return json.loads(out.read_text())


def child(out: Path, datasets: list[str], max_trials: int) -> None:
    """In the commit's process: each dataset's leaderboard and predictions."""
    import automl_guide
    from datasets import DATASETS  # the working tree's: the same data for both commits

    assert Path(automl_guide.__file__).resolve().is_relative_to(out.parent.resolve()), \
        f"automl_guide imported from {automl_guide.__file__}, not the commit's tree"
    results = {}
    for name in datasets:
        bench = DATASETS[name]
        frame = bench.load()
        fit = automl_guide.fit_and_export(frame, bench.target, task=bench.task, seed=0,
                                          max_trials=max_trials, time_budget=None, out=None,
                                          quiet=True)
        board = fit.leaderboard
        metric = board.columns[2]
        rows = frame.drop(columns=[bench.target]).head(500)
        output = (fit.predict(rows) if bench.task == "regression"  # through the ONNX graph
                  else fit.predict_proba(rows))
        results[name] = {
            "trials": [[r["model"], r["config"], r["status"], repr(float(r[metric]))]
                       for _, r in board.sort_values("trial_id").iterrows()],
            "exported": fit.card["best"]["model"],
            "ensemble": [m["model"] for m in fit.card.get("ensemble", {}).get("members", [])],
            "output": np.asarray(output, dtype=np.float64).tolist()}
    out.write_text(json.dumps(results))


def differences(before: dict, after: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in before:
        a, b = before[name], after[name]
        said = []
        if sorted(a["trials"]) != sorted(b["trials"]):
            said.append(f"leaderboards differ: {len(a['trials'])} and {len(b['trials'])} trials, "
                        f"{len({tuple(t) for t in a['trials']} ^ {tuple(t) for t in b['trials']})}"
                        " not in both")
        if (a["exported"], a["ensemble"]) != (b["exported"], b["ensemble"]):
            said.append(f"exported {a['exported']} {a['ensemble']} then {b['exported']} "
                        f"{b['ensemble']}")
        if not np.array_equal(np.asarray(a["output"]), np.asarray(b["output"])):
            gap = np.max(np.abs(np.asarray(a["output"]) - np.asarray(b["output"])))
            said.append(f"predictions differ (largest difference {gap:.3g})")
        found[name] = said
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commits", nargs="*", help="BEFORE AFTER (commits, branches or tags)")
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.datasets, args.max_trials)
        return 0
    if len(args.commits) != 2:
        parser.error("give two commits: BEFORE AFTER")
    with tempfile.TemporaryDirectory(prefix="automl_guide_same_") as work:
        before, after = (run_commit(c, args.datasets, args.max_trials, Path(work))
                         for c in args.commits)
    found = differences(before, after)
    for name, said in found.items():
        trials = len(before[name]["trials"])
        print(f"{name}: " + ("the same" if not said else "; ".join(said))
              + f" ({trials} trials, {before[name]['exported']} exported)")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
