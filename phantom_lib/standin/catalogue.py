"""The stand-in's catalogues, page vocabulary and prices (part 4 of :mod:`phantom_lib.standin.rows`).

Three stores (hotel, airline, shop) with seeded catalogues (:func:`catalogues`), the strings a page
row may carry (names, referrers, user agents), the products an interaction refers to
(:func:`product_walk`) and the collection-time dynamic prices (:func:`prices_for`: the
surge/discount rule on the omega-weighted demand of the last 24 h).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.data import events
from phantom_lib.standin.model import (
    ADD,
    DEMAND_WINDOW_MS,
    HP,
    HT,
    LM,
    RHO_HIGH,
    RHO_LOW,
    RM,
    VI,
)


def uuids(rng: np.random.Generator, n: int) -> npt.NDArray[np.object_]:
    return np.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)], dtype=object)



ADJECTIVES = ("Harbour", "Old Town", "Garden", "Riverside", "Grand", "Sunset", "Alpine", "Central", "Royal", "Quiet")
HOTEL_NOUNS = ("Hotel", "Suites", "Inn", "Residences", "Lodge")
ROUTES = ("MAD-LHR", "MAD-CDG", "MAD-FCO", "BCN-AMS", "MAD-LIS", "BCN-BER")
SHOP_ITEMS = ("Travel adapter", "Packing cubes", "Neck pillow", "Luggage scale", "Passport wallet",
               "Toiletry bag", "Rain jacket", "Water bottle")
PARAGRAPHS = ("Free cancellation until 48 hours before arrival.", "Breakfast included in the rate.",
               "Prices include taxes and fees.", "Only a few left at this price.",
               "Non-refundable: changes are not possible after booking.", "Checked bag: 23 kg included.")
REFERRERS = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
SECTIONS = ("amenities", "policies", "reviews", "location")
HUMAN_UAS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
)
AGENT_UAS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
)


@dataclass(frozen=True)
class Catalogue:
    """One store's products: ids, names, base prices, popularity, room/cabin kind and fare rule."""

    ids: npt.NDArray[np.object_]
    names: npt.NDArray[np.object_]
    base: npt.NDArray[np.float64]
    popularity: npt.NDArray[np.float64]
    kind: npt.NDArray[np.object_]  # roomType (hotel) / cabinClass (airline) / "" (shop)
    fare: npt.NDArray[np.object_]  # fareRule (airline) / ""


def catalogues(rng: np.random.Generator) -> dict[str, Catalogue]:
    """Hotel (4 short ids htl-k and 6 UUIDs), airline (6 fares) and shop (8 items) catalogues."""
    out = {}
    for store, n, low, high in (("hotel", 10, 70, 260), ("airline", 6, 90, 420), ("shop", 8, 12, 90)):
        if store == "hotel":
            ids = np.concatenate([np.array([f"htl-{k}" for k in range(4)], dtype=object), uuids(rng, n - 4)])
            names = np.array([f"{ADJECTIVES[k]} {HOTEL_NOUNS[k % 5]}" for k in range(n)], dtype=object)
            kind = rng.choice(np.array(["standard", "deluxe", "suite"], dtype=object), size=n)
            fare = np.full(n, "", dtype=object)
        elif store == "airline":
            ids = np.array([f"flt-{k}" for k in range(n)], dtype=object)
            names = np.array([f"Flight {r}" for r in ROUTES[:n]], dtype=object)
            kind = rng.choice(np.array(["economy", "premium", "business"], dtype=object), size=n, p=[0.6, 0.25, 0.15])
            fare = rng.choice(np.array(["saver", "standard", "flex"], dtype=object), size=n)
        else:
            ids = np.array([f"sku-{k}" for k in range(n)], dtype=object)
            names = np.array(SHOP_ITEMS[:n], dtype=object)
            kind = fare = np.full(n, "", dtype=object)
        base = np.round(rng.uniform(low, high, size=n), 2)
        popularity = 1.0 / np.arange(1, n + 1) ** 1.1
        out[store] = Catalogue(ids, names, base, rng.permutation(popularity) / popularity.sum(), kind, fare)
    return out


def lookup(
    catalogues: dict[str, Catalogue], field: str, store: npt.NDArray[np.object_], product: npt.NDArray[np.int64]
) -> npt.NDArray[np.object_]:
    """``field`` of each (store, product) pair; "" where product is -1."""
    out = np.full(product.size, "", dtype=object)
    for name, cat in catalogues.items():
        rows = (store == name) & (product >= 0)
        out[rows] = getattr(cat, field)[product[rows]]
    return out


def dynamic_prices(
    store_catalogue: Catalogue,
    demand_product: npt.NDArray[np.int64],
    demand_ms: npt.NDArray[np.int64],
    demand_weight: npt.NDArray[np.float64],
    product: npt.NDArray[np.int64],
    at_ms: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Price of ``product`` at ``at_ms``: the surge/discount rule on the omega-weighted demand
    of that product's events in the preceding :data:`DEMAND_WINDOW_MS` (inclusive)."""
    q_hat = np.zeros(product.size)
    for p in np.unique(product):
        mine = demand_product == p
        order = np.argsort(demand_ms[mine], kind="stable")
        times, cum = demand_ms[mine][order], np.concatenate(([0.0], np.cumsum(demand_weight[mine][order])))
        ask = product == p
        upto = np.searchsorted(times, at_ms[ask], side="right")
        since = np.searchsorted(times, at_ms[ask] - DEMAND_WINDOW_MS, side="right")
        q_hat[ask] = cum[upto] - cum[since]
    base = store_catalogue.base[product]
    return np.round(events.surge_discount_prices(base, q_hat, RHO_LOW, RHO_HIGH), 2)


def product_walk(
    table: pd.DataFrame, code: npt.NDArray[np.int64], catalogues: dict[str, Catalogue], rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Catalogue index of the product of each interaction (-1 if none) and whether the event
    happens on an item page.

    Item views: agents walk the catalogue in order from a random offset; humans draw by
    popularity and, in 35% of later views, return to a product they viewed before. Details,
    cart adds and hovers on an item page refer to the current item; hovers elsewhere to a
    product card drawn by popularity; removals to the last product added.
    """
    n = len(table)
    experiment = table["experiment"].to_numpy()
    store = table["store"].to_numpy()
    is_agent = (table["actor"] == "agent").to_numpy()
    size = np.zeros(n, dtype=np.int64)
    fresh = np.zeros(n, dtype=np.int64)
    for name, cat in catalogues.items():
        rows = store == name
        size[rows] = cat.ids.size
        fresh[rows] = rng.choice(cat.ids.size, size=int(rows.sum()), p=cat.popularity)
    product = np.full(n, -1, dtype=np.int64)
    vi = np.flatnonzero(code == VI)
    rank = pd.Series(experiment[vi]).groupby(experiment[vi]).cumcount().to_numpy()
    offset = rng.integers(0, 1 << 30, size=experiment.max() + 1)[experiment[vi]]
    revisit = rng.random(vi.size) < 0.35
    back = np.floor(rng.random(vi.size) * rank).astype(np.int64)
    product[vi] = np.where(is_agent[vi], (offset + rank) % size[vi], fresh[vi])
    for k in range(1, int(rank.max(initial=0)) + 1):  # one pass per view rank, vectorised over experiments
        now = np.flatnonzero((rank == k) & revisit & ~is_agent[vi])
        product[vi[now]] = product[vi[now - k + back[now]]]

    def carried(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        """Last product set on a ``mask`` row of the same experiment, up to each row (NaN if none)."""
        values = pd.Series(np.where(mask, product, np.nan))
        return values.groupby(experiment).ffill().to_numpy()

    detail = np.isin(code, (LM, ADD))
    anchor = carried(code == VI)
    product[detail] = np.where(np.isnan(anchor[detail]), fresh[detail], anchor[detail]).astype(np.int64)
    current = carried(np.isin(code, (VI, LM, ADD)))
    hover = np.isin(code, (HT, HP))
    context = pd.Series(np.where(hover, np.nan, code)).groupby(experiment).ffill().to_numpy()
    on_item = hover & np.isin(context, (VI, LM, ADD)) & ~np.isnan(current)
    product[on_item] = current[on_item].astype(np.int64)
    product[hover & ~on_item] = fresh[hover & ~on_item]
    remove = code == RM
    added = carried(code == ADD)
    fallback = np.where(np.isnan(current), fresh, current)
    product[remove] = np.where(np.isnan(added[remove]), fallback[remove], added[remove]).astype(np.int64)
    return product, np.isin(code, (VI, LM, ADD)) | on_item


def prices_for(
    catalogues: dict[str, Catalogue],
    store: npt.NDArray[np.object_],
    product: npt.NDArray[np.int64],
    ts_ms: npt.NDArray[np.int64],
    demand: pd.DataFrame,
) -> npt.NDArray[np.float64]:
    """Dynamic prices of (store, product) at ``ts_ms``; ``demand`` holds the interactions
    (store, product, ts_ms, weight) that drive the rule."""
    price = np.full(product.size, np.nan)
    for name, cat in catalogues.items():
        ask = (store == name) & (product >= 0)
        mine = demand[demand["store"] == name]
        price[ask] = dynamic_prices(
            cat,
            mine["product"].to_numpy(),
            mine["ts_ms"].to_numpy(),
            mine["weight"].to_numpy(),
            product[ask],
            ts_ms[ask],
        )
    return price
