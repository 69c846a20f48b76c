"""Mutation testing: `make mutation` runs mutmut over the modules named in pyproject.toml's
[tool.mutmut] (those whose unit tests run in seconds) and prints the score of each module: the
share of mutants the tests kill, leaving out the mutants listed as equivalent (with a reason) in
benchmarks/mutation_equivalent.txt. It exits non-zero when a module scores under 85 % or the list
names a mutant that no longer survives.

    .venv/bin/python benchmarks/mutation.py            # run mutmut (about 15 min), then score
    .venv/bin/python benchmarks/mutation.py --no-run   # score the last run
"""
from __future__ import annotations

import argparse
import collections
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")
BAR = 0.85
DETECTED = {"killed", "timeout"}  # a mutant that makes the tests hang is caught too


def equivalent_mutants() -> dict[str, str]:
    """Mutant name -> why the program behaves the same with it."""
    listed = {}
    for line in EQUIVALENT.read_text().splitlines():
        name, _, reason = line.partition("#")
        if name.strip():
            listed[name.strip()] = reason.strip()
    return listed


def results() -> dict[str, str]:
    """Mutant name -> status of the last mutmut run (killed, survived, no tests, ...)."""
    done = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    statuses = {}
    for line in done.stdout.splitlines():
        if ": " in line:
            name, status = line.strip().rsplit(": ", 1)
            statuses[name] = status
    return statuses


def module_of(mutant: str) -> str:
    return mutant.split(".x", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-run", action="store_true", help="score the last run only")
    args = parser.parse_args()
    if not args.no_run:
        with open(ROOT / "mutants.log", "w") as log:  # mutmut's progress: not for the console
            subprocess.run([sys.executable, "-m", "mutmut", "run"], cwd=ROOT, stdout=log,
                           stderr=subprocess.STDOUT, check=True)
    statuses, equivalent = results(), equivalent_mutants()
    stale = sorted(n for n in equivalent if statuses.get(n) in DETECTED or n not in statuses)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for name, status in statuses.items():
        kind = ("equivalent" if name in equivalent and status not in DETECTED
                else "killed" if status in DETECTED else "survived")
        counts[module_of(name)][kind] += 1
        if kind == "survived":
            survivors.append(f"{name}: {status}")
    print(f"{'module':28} {'mutants':>8} {'equivalent':>11} {'killed':>7} {'survived':>9} "
          f"{'score':>7}")
    low = []
    for module in sorted(counts):
        c = counts[module]
        judged = c["killed"] + c["survived"]
        score = c["killed"] / judged if judged else 1.0
        low += [module] if score < BAR else []
        print(f"{module:28} {sum(c.values()):>8} {c['equivalent']:>11} {c['killed']:>7} "
              f"{c['survived']:>9} {score:>7.1%}")
    if survivors:
        print(f"\n{len(survivors)} surviving mutants (`mutmut show NAME` shows one):")
        print("\n".join(f"  {s}" for s in survivors))
    if stale:
        print("\nListed as equivalent but killed or gone (remove them from "
              f"{EQUIVALENT.name}):\n" + "\n".join(f"  {n}" for n in stale))
    return 1 if low or stale else 0


if __name__ == "__main__":
    sys.exit(main())
