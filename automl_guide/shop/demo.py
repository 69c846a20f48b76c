"""A generated shop for the demo and the tests: catalogue, customers, browsing events, orders.

It is synthetic, and says so in every table's name and in the demo's output; real shops are in
the benchmarks (MovieLens, Instacart, CDNOW). What it imitates: customers who prefer a few of eight
categories and have a budget; products whose popularity follows a long tail and rises or fades
over time, some launched late; sessions of views, some put in the cart, some bought; consumables
(coffee, tea, snacks, skincare) bought again, durable goods seldom.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = {  # name: (typical price, consumable)
    "coffee": (9.0, True), "tea": (7.0, True), "snacks": (4.0, True), "skincare": (18.0, True),
    "phones": (320.0, False), "books": (15.0, False), "toys": (25.0, False),
    "kitchen": (40.0, False)}
START = pd.Timestamp("2026-01-01")


def generate_shop(n_customers: int = 400, n_products: int = 240, days: int = 150,
                  seed: int = 0) -> dict[str, pd.DataFrame]:
    """Tables ``products``, ``customers``, ``events`` (views and carts) and ``orders``, valid
    against the shop schemas."""
    rng = np.random.RandomState(seed)
    products, catalogue = _catalogue(rng, n_products, days)
    customers, people = _customers(rng, n_customers, days)
    events, orders = _shopping(rng, catalogue, people, days)
    return {"products": products, "customers": customers, "events": events, "orders": orders}


def _catalogue(rng: np.random.RandomState, n_products: int, days: int
               ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The products table, and what the simulation needs of each product: its category, typical
    and own price, appeal, launch day and trend."""
    names = list(CATEGORIES)
    cat = rng.randint(len(names), size=n_products)
    base = np.array([CATEGORIES[names[c]][0] for c in cat])
    price = np.round(base * rng.lognormal(0.0, 0.35, n_products), 2)
    appeal = rng.pareto(1.2, n_products) + 0.05
    launch = np.where(rng.random_sample(n_products) < 0.2, rng.randint(days // 3, days, n_products),
                      0)
    trend = rng.normal(0.0, 1.0, n_products)  # popularity grows (>0) or fades (<0) over time
    products = pd.DataFrame({
        "product_id": [f"P{i:04d}" for i in range(n_products)],
        "category": [names[c] for c in cat], "price": price,
        "brand": [f"brand{b}" for b in rng.randint(30, size=n_products)],
        "rating": np.round(np.clip(rng.normal(4.1, 0.5, n_products), 1, 5), 1),
        "review_count": rng.poisson(appeal * 40)})
    consumable = np.array([CATEGORIES[names[c]][1] for c in cat])
    return products, {"cat": cat, "base": base, "price": price, "appeal": appeal,
                      "launch": launch, "trend": trend, "consumable": consumable}


def _customers(rng: np.random.RandomState, n_customers: int, days: int
               ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The customers table, and each customer's category preferences, budget, visit rate and
    first day."""
    preference = rng.dirichlet(np.full(len(CATEGORIES), 0.35), n_customers)
    budget = rng.lognormal(0.0, 0.5, n_customers)
    rate = rng.lognormal(np.log(0.12), 0.6, n_customers).clip(0.01, 0.8)
    joined = rng.randint(0, int(days * 0.7), n_customers)
    customers = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n_customers)],
        "segment": rng.choice(["new", "regular", "vip"], n_customers, p=[0.5, 0.4, 0.1]),
        "city": rng.choice(["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu"],
                           n_customers)})
    return customers, {"preference": preference, "budget": budget, "rate": rate,
                       "joined": joined}


def _shopping(rng: np.random.RandomState, catalogue: dict[str, np.ndarray],
              people: dict[str, np.ndarray], days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Day after day, the visiting customers' views, carts and orders."""
    cat, base, price = catalogue["cat"], catalogue["base"], catalogue["price"]
    consumable, budget = catalogue["consumable"], people["budget"]
    n_customers, n_categories = len(budget), len(CATEGORIES)
    by_category = [np.flatnonzero(cat == c) for c in range(n_categories)]
    events, orders = [], []
    owned: list[list[int]] = [[] for _ in range(n_customers)]
    for day in range(days):
        t = day / days
        popularity = (catalogue["appeal"] * np.exp(catalogue["trend"] * (t - 0.5))
                      * (catalogue["launch"] <= day))
        for c in np.flatnonzero((people["joined"] <= day)
                                & (rng.random_sample(n_customers) < people["rate"])):
            when = START + pd.Timedelta(days=day, seconds=int(rng.randint(8 * 3600, 23 * 3600)))
            session = f"S{day:03d}-{c:05d}"
            order = []
            restock = [p for p in owned[c] if consumable[p]]
            if restock and rng.random_sample() < 0.35:  # buys a consumable again
                order.append(int(rng.choice(restock)))
            pool = by_category[rng.choice(n_categories, p=people["preference"][c])]
            weights = popularity[pool] * np.exp(-np.abs(np.log(price[pool] / base[pool])
                                                       - np.log(budget[c])))
            if weights.sum() <= 0:
                continue
            n_views = min(int((weights > 0).sum()), 1 + rng.poisson(2))
            viewed = rng.choice(pool, n_views, replace=False, p=weights / weights.sum())
            for k, p in enumerate(viewed):
                at = when + pd.Timedelta(seconds=60 * k)
                events.append((f"C{c:05d}", f"P{p:04d}", "view", at, session))
                fit = np.exp(-abs(np.log(price[p] / base[p]) - np.log(budget[c])))
                if rng.random_sample() < 0.35 * fit + 0.05:
                    events.append((f"C{c:05d}", f"P{p:04d}", "cart", at + pd.Timedelta(seconds=20),
                                   session))
                    if rng.random_sample() < 0.6:
                        order.append(int(p))
            for j, p in enumerate(dict.fromkeys(order)):
                owned[c].append(p)
                orders.append((f"O{len(orders):06d}", f"C{c:05d}", f"P{p:04d}",
                               1 + int(consumable[p] and rng.random_sample() < 0.3),
                               float(price[p]), when + pd.Timedelta(minutes=15, seconds=j)))
    return (pd.DataFrame(events, columns=["customer_id", "product_id", "event_type", "timestamp",
                                          "session_id"]),
            pd.DataFrame(orders, columns=["order_id", "customer_id", "product_id", "quantity",
                                          "price", "timestamp"]))
