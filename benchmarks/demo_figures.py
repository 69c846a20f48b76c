"""The figures the docs quote for `make demo` and `make demo-shop`, measured: each demo run as a
user runs it (a fresh process, its default budget), timed from the outside, and its model card
and leaderboard read back. docs/benchmarks.md, README.md and docs/getting-started.md quote what
this printed; rerun it after a change that moves them.

    .venv/bin/python benchmarks/demo_figures.py [--runs 1] [--skip-shop]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

CLI = str(Path(sys.executable).with_name("automl-guide"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each demo")
    parser.add_argument("--skip-shop", action="store_true")
    parser.add_argument("--only-shop", action="store_true")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {_cpus()} CPUs")
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as work:
            if not args.only_shop:
                print(demo(Path(work) / "demo"))
            if not args.skip_shop:
                print(shop_demo(Path(work) / "shop"))


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _timed(*args: str) -> tuple[float, str]:
    began = time.monotonic()
    done = subprocess.run([CLI, *args], capture_output=True, text=True, check=True)
    return time.monotonic() - began, done.stdout + done.stderr  # progress goes to stderr


def demo(out: Path) -> str:
    wall, _ = _timed("demo", "--out", str(out))
    card = json.loads((out / "model_card.json").read_text())
    board = pd.read_csv(out / "leaderboard.csv")
    search, metric = card["search"], card["metric"]["name"]
    ok = board[board["status"] == "ok"]
    best = (f"an ensemble of {', '.join(m['model'] for m in card['ensemble']['members'])}"
            if card.get("ensemble") else card["best"]["model"])
    return (f"make demo: {wall:.0f} s wall for the {search['time_budget_s']:.0f}-s budget; "
            f"{len(board)} trials ({len(board) - len(ok)} stopped or failed) over "
            f"{len(search['families'])} families, {ok['model'].nunique()} with a result; "
            f"exported {best}: validation {metric} {card['validation']['score']:.4f}, "
            f"test {metric} {card['test_metrics'][metric]:.4f}; parity max diff "
            f"{card['parity']['max_abs_diff']:.2g} on {card['parity']['rows']} rows")


def shop_demo(out: Path) -> str:
    wall, printed = _timed("demo", "--shop", "--out", str(out))
    rows = dict(re.findall(r"^\s*(model \(\w+\)|popularity \(all history\)|popularity \(last "
                           r"30 days\))\s+([0-9.]+)", printed, flags=re.M))
    model = next(k for k in rows if k.startswith("model"))
    return (f"make demo-shop: {wall:.0f} s wall; NDCG@10 {rows[model]} for the {model} "
            f"against {rows['popularity (all history)']} and "
            f"{rows['popularity (last 30 days)']} for the popularity baselines (all history, "
            "last 30 days)")


if __name__ == "__main__":
    main()
