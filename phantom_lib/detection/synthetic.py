"""Synthetic detection cohorts sampled from the fitted behaviour kernels.

The kernels of :mod:`phantom_lib.behaviour.kernels` model only the order of events. A detector also sees
timestamps, products, pages, user agents and price quotes, so a synthetic cohort needs a
documented way to produce them. :func:`fit_cohort_model` estimates, per class, from a real
trajectory table (one trajectory per experiment) and its price logs; :func:`sample_cohort` draws:

* events: the class's event-level kernel (:func:`kernels.sample_paths`, start from pi0, stop at
  ``session_end`` or after ``max_len`` events; checkout does not end a session, as in the data);
* store: the class's share of trajectories per store (store of the first event);
* product: only on events whose name carries a product in at least half of its real occurrences
  (:attr:`CohortModel.product_events`); drawn i.i.d. per event from the class's demand
  condition c (:func:`kernels.class_demand`) restricted to the session's store (uniform over the
  store's products if the class never touched one of them): the factorised expansion of
  Model reference, section 3, within a store;
* page: the product page ``/<store>/products/<product>`` for an event with a product, else the
  most frequent page of that (store, event) in the data (``/<store>`` if never seen);
* timestamps: a start time resampled from the class's trajectory start times, then inter-event
  gaps resampled i.i.d. from the class's pooled real gaps (seconds). Gaps in the data depend on
  the event and on each other; here they do not;
* user agent: resampled from the class's trajectories (one per session);
* price quotes: one quote per event with a product, the price resampled from that product's
  real quotes (real sessions see several quotes per view; the counts differ).

So only the event sequence and the products come from the fitted model; the features built from
timestamps, user agents and quotes (:data:`RESAMPLED_GROUPS`) are resampled marginals of the
data, glued on independently of the sequence. They are flagged, and the detection chapter
evaluates every detector with and without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib import data
from phantom_lib.behaviour.kernels import (
    Kernel,
    checked_demand,
    class_demand,
    class_kernels,
    demand_condition,
    sample_paths,
)
from phantom_lib.data import events
from phantom_lib.detection.features import epoch_ns

CLASSES = ("human", "agent")

PRODUCT_SHARE = 0.5
"""An event name carries a product in synthetic sessions when at least this share of its real
occurrences does."""

RESAMPLED_GROUPS: dict[str, str] = {
    "temporal": "timestamps: start times and i.i.d. gaps resampled from the class's real ones",
    "user_agent": "user agents resampled from the class's real trajectories",
    "price": "price quotes resampled from each product's real quotes",
}
"""Feature groups (:data:`phantom_lib.detection.features.FEATURE_GROUPS`) that the kernels cannot
generate, and how the synthetic cohort fills them in."""


@dataclass(frozen=True)
class ClassModel:
    """What one class's synthetic sessions are drawn from.

    Attributes:
        kernel: event-level kernel (rows = source, ``session_end`` absorbing).
        demand: demand condition c over :attr:`CohortModel.products`, shape (N,), sums to 1.
        stores, store_share: stores and the share of the class's trajectories in each.
        gaps: pooled real inter-event gaps (s), shape (G,).
        starts: real trajectory start times (ns since the epoch, UTC), shape (T,).
        user_agents: user agent of each real trajectory, shape (T,).
    """

    kernel: Kernel
    demand: npt.NDArray[np.float64]
    stores: tuple[str, ...]
    store_share: npt.NDArray[np.float64]
    gaps: npt.NDArray[np.float64]
    starts: npt.NDArray[np.int64]
    user_agents: npt.NDArray[np.str_]


@dataclass(frozen=True)
class CohortModel:
    """Both classes' :class:`ClassModel` and the shared catalogue.

    Attributes:
        classes: ``{"human": ..., "agent": ...}``.
        products: product ids, sorted, length N; ``product_store`` the store of each.
        product_events: event names that carry a product.
        pages: most frequent page per ``(store, event)`` of events without a product.
        quote_prices: real quotes of every product, concatenated in product order; product i's
            quotes are ``quote_prices[quote_start[i]:quote_start[i] + quote_count[i]]``.
    """

    classes: dict[str, ClassModel]
    products: tuple[str, ...]
    product_store: tuple[str, ...]
    product_events: tuple[str, ...]
    pages: dict[tuple[str, str], str]
    quote_prices: npt.NDArray[np.float64]
    quote_start: npt.NDArray[np.int64]
    quote_count: npt.NDArray[np.int64]


def fit_cohort_model(table: pd.DataFrame, prices: pd.DataFrame) -> CohortModel:
    """Estimate a :class:`CohortModel` from a trajectory table and its price logs.

    Args:
        table: :func:`phantom_lib.data.trajectories` (any unit; per-trajectory statistics use
            the ``trajectory`` column), holding both classes.
        prices: :func:`phantom_lib.data.price_logs` of the same data.
    """
    missing = [c for c in data.TRAJECTORY_COLUMNS if c not in table.columns]
    if missing:
        raise KeyError(f"the trajectory table lacks column(s) {missing}; build it with phantom_lib.data.trajectories()")
    present = set(table["actor"].astype(str))
    if present != set(CLASSES):
        raise ValueError(f"a cohort model needs both classes {CLASSES}; the table holds {sorted(present)}")
    kernels = class_kernels(table, "event")
    products, demand = class_demand(table)
    with_product = table.assign(has=table["product"].astype(str) != "")
    share = with_product.groupby("event")["has"].mean()
    product_events = tuple(sorted(share.index[share >= PRODUCT_SHARE].astype(str)))
    store_of = with_product[with_product["has"]].groupby("product")["store"].agg(lambda s: s.value_counts().index[0])
    product_store = tuple(str(store_of[p]) for p in products)
    plain = with_product[~with_product["has"]]
    pages = {
        (str(store), str(event)): str(page)
        for (store, event), page in plain.groupby(["store", "event"])["page"]
        .agg(lambda s: s.value_counts().index[0])
        .items()
    }
    gap = data.inter_event_seconds(table)
    firsts = table[table["step"] == 0]
    classes = {}
    for cls in CLASSES:
        mine = firsts[firsts["actor"] == cls]
        stores = mine["store"].astype(str).value_counts(normalize=True).sort_index()
        gaps = gap[(table["actor"] == cls).to_numpy()].dropna().to_numpy(dtype=float)
        if gaps.size == 0:
            raise ValueError(f"the {cls} trajectories have no inter-event gap (every one has a single event)")
        classes[cls] = ClassModel(
            kernel=kernels[cls],
            demand=demand_condition(checked_demand(demand[cls])),
            stores=tuple(stores.index.astype(str)),
            store_share=stores.to_numpy(dtype=float),
            gaps=gaps,
            starts=epoch_ns(mine["ts"]),
            user_agents=mine["user_agent"].astype(str).to_numpy(),
        )
    quotes = prices[prices["product"].astype(str).isin(products)]
    codes = pd.Categorical(quotes["product"].astype(str), categories=products).codes
    order = np.argsort(codes, kind="stable")
    count = np.bincount(codes, minlength=len(products)).astype(np.int64)
    return CohortModel(
        classes=classes,
        products=tuple(products),
        product_store=product_store,
        product_events=product_events,
        pages=pages,
        quote_prices=quotes["price"].to_numpy(dtype=float)[order],
        quote_start=(np.cumsum(count) - count).astype(np.int64),
        quote_count=count,
    )


def _draw_products(
    cls: ClassModel, model: CohortModel, store: npt.NDArray[np.int64], stores: tuple[str, ...], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """A product index per row from c restricted to the row's store (``stores[store]``; uniform
    within the store if the class never touched it); -1 where the store has no product."""
    product_store = np.asarray(model.product_store)
    u = rng.random(store.size)
    out = np.full(store.size, -1, dtype=np.int64)
    for code, name in enumerate(stores):
        rows = store == code
        candidates = np.flatnonzero(product_store == name)
        if candidates.size == 0 or not rows.any():
            continue
        cdf = np.cumsum(demand_condition(cls.demand[candidates]))
        out[rows] = candidates[np.minimum(np.searchsorted(cdf, u[rows], side="right"), candidates.size - 1)]
    return out


def _strings(codes: npt.NDArray[np.int64], categories: npt.ArrayLike) -> pd.Series:
    """A text column from integer codes into ``categories`` (each distinct string built once;
    ``categories`` may repeat values)."""
    distinct, inverse = np.unique(np.asarray(categories, dtype=object).astype(str), return_inverse=True)
    return pd.Series(pd.Categorical.from_codes(inverse[codes], distinct.astype(object))).astype("str")


def _sample_class(
    model: CohortModel, actor: str, n: int, rng: np.random.Generator, max_len: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    cls = model.classes[actor]
    kernel = cls.kernel
    labels = np.asarray(kernel.labels, dtype=object)
    paths = sample_paths(kernel.matrix, kernel.pi0, n, rng, max_len=max_len, end=kernel.end)
    rows, steps = np.nonzero(paths >= 0)
    event = paths[rows, steps]
    stores = tuple(sorted(set(cls.stores) | set(model.product_store)))
    share = np.zeros(len(stores))
    share[[stores.index(name) for name in cls.stores]] = cls.store_share
    session_store = np.minimum(np.searchsorted(np.cumsum(share), rng.random(n), side="right"), len(stores) - 1)
    store = session_store[rows]
    carries = np.isin(labels, model.product_events)[event]
    product = np.where(carries, _draw_products(cls, model, store, stores, rng), -1)
    n_products = len(model.products)
    # pages: product pages first (code = product index), then one per (store, event) without a product
    product_pages = [f"/{s}/products/{p}" for s, p in zip(model.product_store, model.products)]
    plain_pages = [model.pages.get((s, str(e)), f"/{s}") for s in stores for e in labels]
    page = np.where(product >= 0, product, n_products + store * labels.size + event)
    gaps = rng.choice(cls.gaps, size=(n, max_len))
    gaps[:, 0] = 0.0
    offset_ns = np.rint(np.cumsum(gaps, axis=1) * 1e9).astype(np.int64)
    start = rng.choice(cls.starts, size=n)
    ts = pd.Series(pd.to_datetime(start[rows] + offset_ns[rows, steps], unit="ns", utc=True))
    agents, agent_code = np.unique(cls.user_agents, return_inverse=True)
    user_agent = agent_code[rng.integers(0, agent_code.size, n)]
    ids = [f"syn-{actor}-{i:0{len(str(max(n - 1, 0)))}d}" for i in range(n)]
    trajectory = _strings(rows, ids)
    is_agent = int(actor == "agent")
    table = pd.DataFrame(
        {
            "trajectory": trajectory,
            "actor": actor,
            "is_agent": is_agent,
            "step": steps.astype(np.int64),
            "ts": ts,
            "event": _strings(event, labels),
            "category": _strings(event, [events.category_of(str(e)) for e in labels]),
            "page": _strings(page, product_pages + plain_pages),
            "product": _strings(np.where(product >= 0, product, n_products), model.products + ("",)),
            "session": trajectory,
            "experiment": trajectory,
            "store": _strings(store, stores),
            "user_agent": _strings(user_agent[rows], agents),
        }
    )
    quoted = np.flatnonzero((product >= 0) & (model.quote_count[np.maximum(product, 0)] > 0))
    pick = model.quote_start[product[quoted]] + np.floor(
        rng.random(quoted.size) * model.quote_count[product[quoted]]
    ).astype(np.int64)
    quotes = table.loc[quoted, ["store", "product", "ts", "session", "experiment", "actor", "is_agent"]].assign(
        price=model.quote_prices[pick]
    )
    return table, quotes


def sample_cohort(
    model: CohortModel, n_sessions: int, rng: np.random.Generator, agent_share: float = 0.5, max_len: int = 60
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw a synthetic cohort (see the module docstring).

    Args:
        model: :func:`fit_cohort_model`.
        n_sessions: sessions in all (>= 2); ``round(n_sessions * agent_share)`` are agents.
        rng: the caller's seeded generator.
        agent_share: share of agent sessions, in (0, 1).
        max_len: most events per session (>= 1).

    Returns:
        ``(table, prices)``: a trajectory table with the columns of
        :data:`phantom_lib.data.TRAJECTORY_COLUMNS` (each session is its own experiment; ids
        ``syn-<actor>-<i>``), sorted by (trajectory, step), and its price logs
        (:data:`phantom_lib.data.PRICE_COLUMNS`, in the order of the events quoted).
    """
    if isinstance(n_sessions, bool) or not isinstance(n_sessions, int | np.integer) or n_sessions < 2:
        raise ValueError(f"n_sessions must be an integer >= 2; got {n_sessions!r}")
    if not 0 < agent_share < 1:
        raise ValueError(f"agent_share must lie in (0, 1); got {agent_share!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1:
        raise ValueError(f"max_len must be an integer >= 1; got {max_len!r}")
    n_agent = min(max(int(round(n_sessions * agent_share)), 1), n_sessions - 1)
    # agents first: "syn-agent-..." sorts before "syn-human-...", so the rows come out sorted
    parts = [
        _sample_class(model, actor, size, rng, max_len)
        for actor, size in (("agent", n_agent), ("human", n_sessions - n_agent))
    ]
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    prices = pd.concat([p[1] for p in parts], ignore_index=True)
    return table[list(data.TRAJECTORY_COLUMNS)], prices[list(data.PRICE_COLUMNS)]
