"""The install for a service that only loads, predicts and serves models (``pip install
automl-guide``, no extras), in a fresh virtual environment: its size on disk, that none of the
training libraries came with it, and a model loaded, predicting (Python and CLI) and served
from it, with the predictions of the full install. ``make bench-slim``; docs/deployment.md
quotes what it printed. Needs PyPI (or the machine's package index) for the fresh install.

    .venv/bin/python benchmarks/slim_install.py [--model RUN_DIR] [--workdir DIR]

Without ``--model`` it first fits a small model on the bundled reviews with this install.
Exits 1 when a check fails or the install is over ``--limit-mb`` (400).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

from automl_guide.runtime import TRAINING_MODULES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "automl_guide" / "datasets" / "clothing_reviews.csv"
TARGET = "Recommended IND"
TRAINING = (*TRAINING_MODULES, "scipy")  # the train extra's modules, and what they bring


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a run directory (default: fit one)")
    parser.add_argument("--workdir", type=Path, help="where the venv goes (default: a temp dir)")
    parser.add_argument("--limit-mb", type=float, default=400.0)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="automl_guide_slim_"))
    work.mkdir(parents=True, exist_ok=True)
    run = args.model or fit_small_model(work / "run")
    venv = work / "venv"
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, cli = venv / "bin" / "python", venv / "bin" / "automl-guide"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-c",
                    str(ROOT / "constraints.txt"), str(ROOT)], check=True)
    print(f"pip install automl-guide (no extras) into a fresh venv: {time.monotonic() - began:.0f} s")
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; "
                                         "print(sysconfig.get_paths()['purelib'])"], text=True)
                .strip())
    total, largest = sizes(site)
    print(f"site-packages: {total / 2**20:.0f} MB; largest: " + ", ".join(
        f"{name} {size / 2**20:.0f} MB" for name, size in largest[:8]))
    failures = []
    present = json.loads(subprocess.check_output([str(python), "-c", (
        "import importlib.util, json; print(json.dumps([m for m in %r "
        "if importlib.util.find_spec(m)]))" % (TRAINING,))], text=True))
    print(f"training libraries in it: {', '.join(present) or 'none'}")
    failures += [f"{name} installed" for name in present]
    failures += check_predict(python, cli, run, work)
    failures += check_serve(cli, run)
    refused = subprocess.run([str(cli), "fit", str(DATA), "--target", TARGET],
                             capture_output=True, text=True)
    print(f"fit in the slim install: exit {refused.returncode}: {refused.stderr.strip()}")
    if refused.returncode != 2 or "automl-guide[train]" not in refused.stderr:
        failures.append("fit was not refused with the command to install the training extra")
    if total / 2**20 > args.limit_mb:
        failures.append(f"{total / 2**20:.0f} MB is over {args.limit_mb:.0f} MB")
    print(f"slim install: {total / 2**20:.0f} MB (limit {args.limit_mb:.0f} MB); " + (
        "every check passed" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


def fit_small_model(out: Path) -> Path:
    import automl_guide

    automl_guide.fit_and_export(str(DATA), TARGET, time_budget=None, max_trials=3,
                                models=["linear", "lightgbm", "decision_tree"], out=out,
                                quiet=True)
    return out


def sizes(site: Path) -> tuple[int, list[tuple[str, int]]]:
    """Bytes under ``site`` in all, and per top-level entry, largest first (a package's
    ``.libs`` folder counted with it)."""
    per: dict[str, int] = {}
    for path in site.rglob("*"):
        if path.is_file() and not path.is_symlink():
            top = path.relative_to(site).parts[0].removesuffix(".libs")
            per[top] = per.get(top, 0) + path.stat().st_size
    return sum(per.values()), sorted(per.items(), key=lambda item: -item[1])


def check_predict(python: Path, cli: Path, run: Path, work: Path) -> list[str]:
    """The slim install's predictions (Python and CLI) against this install's."""
    import automl_guide

    rows = pd.read_csv(DATA).drop(columns=TARGET).head(200)
    rows.to_csv(work / "rows.csv", index=False)
    expected = automl_guide.load(run).predict_proba(rows)
    code = ("import sys, json, pandas as pd, automl_guide; "
            "p = automl_guide.load(sys.argv[1]); "
            "print(json.dumps(p.predict_proba(pd.read_csv(sys.argv[2])).tolist()))")
    got = json.loads(subprocess.check_output([str(python), "-c", code, str(run),
                                              str(work / "rows.csv")], text=True))
    diff = float(abs(pd.DataFrame(got).to_numpy() - expected).max())
    print(f"load + predict_proba on 200 rows: max difference from the full install {diff:.2g}")
    out = work / "predictions.csv"
    done = subprocess.run([str(cli), "predict", str(run), str(work / "rows.csv"), "--out",
                           str(out), "--overwrite"], capture_output=True, text=True)
    print(f"automl-guide predict: exit {done.returncode}, "
          f"{len(pd.read_csv(out)) if out.exists() else 0} rows written")
    return ([f"predictions differ by {diff:.2g}"] if diff > 1e-6 else []) + (
        [f"predict failed: {done.stderr}"] if done.returncode else [])


def check_serve(cli: Path, run: Path) -> list[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(cli), "serve", str(run), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        row = pd.read_csv(DATA).drop(columns=TARGET).head(1)
        body = json.dumps({"rows": json.loads(row.to_json(orient="records"))}).encode()
        for _ in range(120):
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", body,
                                                 {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as answer:
                    print(f"automl-guide serve: POST /predict answered {answer.status}: "
                          f"{answer.read().decode()[:120]}")
                    return [] if answer.status == 200 else [f"serve answered {answer.status}"]
            except OSError:
                if server.poll() is not None:
                    return [f"serve exited: {server.stderr.read().decode()[-500:]}"]
                time.sleep(0.5)
        return ["serve did not answer within a minute"]
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
