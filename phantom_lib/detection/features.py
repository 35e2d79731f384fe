"""Session features for agent detection, computed in one grouped, vectorised pass.

Input: the trajectory table of :func:`phantom_lib.data.trajectories` (one row per interaction
event) and, optionally, the price logs of :func:`phantom_lib.data.price_logs`. Output: one row
per unit, a session (``unit="session"``) or an experiment (``unit="experiment"``), grouped by
that column of the table. The rows are sorted once by (unit, time, step), O(n log n); every
feature is then a ``bincount`` or a ``reduceat`` over contiguous groups, O(n). No Python loop
runs over rows or units (the original pipeline rescanned the whole table for every row: O(n^2)).

Features (units in the names; :data:`FEATURE_GROUPS` groups them):

* temporal: ``duration_s`` (last - first event, s), ``gap_mean_s``, ``gap_std_s`` (ddof 0),
  ``gap_min_s`` (inter-event gaps, s; NaN for a unit with one event), ``events_per_minute``
  (= 60 n / max(duration, :data:`MIN_DURATION_S`)), ``max_5min_per_minute`` (the most events in
  any window [t_i, t_i + 5 min) opened at an event, divided by 5 min), ``start_hour`` (UTC hour
  of the first event, 0..23);
* behavioural: ``n_events``, ``page_views``, ``item_views``, ``cart_adds``, ``purchases``
  (checkouts and completed purchases), ``hovers`` (dwell category), ``filters`` (filter
  category), ``cart_to_view`` = cart_adds / max(item_views, 1), ``conversion`` = purchases /
  n_events, ``hover_intensity`` = hovers / n_events, ``unique_pages``;
* product: ``unique_products``, ``max_product_views`` (events on the unit's most-visited product);
* price (from the price logs of the unit): ``price_mean``, ``price_min``, ``price_max``,
  ``price_std`` (ddof 0), ``price_range`` (currency units; NaN when the unit saw no quote);
* user agent (of the unit's first event): ``headless`` (0/1), ``automation`` (0/1: a known
  automation tool or HTTP library in the string), ``browser`` (family, one of :data:`BROWSERS`).

Every unit also carries its label ``is_agent`` and its leakage ``group`` (see :func:`leakage_groups`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from phantom_lib._arrays import FloatArray, IntArray
from phantom_lib.data import events

UNITS = ("session", "experiment")
"""Columns of the trajectory table a feature row can stand for."""

MIN_DURATION_S = 1.0
"""Floor of the duration (s) in the event rate, so that a unit whose events share one timestamp
gets a finite rate."""

WINDOW_S = 300.0
"""Width of the sliding window of ``max_5min_per_minute`` (s)."""

PAGE_VIEW = ("page_view",)
ITEM_VIEW = ("view_item_page", "view_item", "learn_more_about_item", "learn_more")
CART_ADD = ("add_item_to_cart", "add_item")
PURCHASE = ("checkout_start", "checkout", "purchase_complete", "purchase")
"""Event names counted by the behavioural features (real names and the method's aliases)."""

HEADLESS_PATTERN = r"headless"
AUTOMATION_PATTERN = (
    r"selenium|webdriver|playwright|puppeteer|phantomjs|python-requests|python-urllib|aiohttp|httpx"
    r"|curl/|wget/|scrapy|go-http-client|okhttp|node-fetch|axios|bot\b|crawler|spider"
)
"""Case-insensitive regular expressions applied to the user-agent string."""

BROWSERS = ("chrome", "safari", "firefox", "edge", "other")
"""Browser families, in the order the one-hot columns of :func:`design_matrix` use."""

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "temporal": (
        "duration_s", "gap_mean_s", "gap_std_s", "gap_min_s", "events_per_minute",
        "max_5min_per_minute", "start_hour",
    ),
    "behavioural": (
        "n_events", "page_views", "item_views", "cart_adds", "purchases", "hovers", "filters",
        "cart_to_view", "conversion", "hover_intensity", "unique_pages",
    ),
    "product": ("unique_products", "max_product_views"),
    "price": ("price_mean", "price_min", "price_max", "price_std", "price_range"),
    "user_agent": ("headless", "automation", "browser"),
}
"""Feature names by group, in column order."""

FEATURES: tuple[str, ...] = tuple(name for group in FEATURE_GROUPS.values() for name in group)
"""Every feature column of :func:`session_features`, in order."""

TABLE_COLUMNS = ("is_agent", "step", "ts", "event", "page", "product", "user_agent", "session", "experiment")
"""Columns of the trajectory table the features need (plus the unit column)."""



def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}; got {unit!r}")


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise KeyError(
            f"the trajectory table lacks column(s) {missing}; build it with phantom_lib.data.trajectories()"
        )
    if table.empty:
        raise ValueError("the trajectory table has no events: features need at least one interaction")
    for column in ("ts", "event", "session", "experiment", "is_agent"):
        n_missing = int(table[column].isna().sum())
        if n_missing:
            raise ValueError(
                f"trajectory table column {column!r} has {n_missing} missing values; drop or fill those rows"
            )


def epoch_ns(ts: pd.Series) -> IntArray:
    """Nanoseconds since the Unix epoch (UTC) of a datetime column (naive values are read as UTC)."""
    values = pd.to_datetime(ts, utc=True)
    return values.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


def leakage_groups(table: pd.DataFrame, unit: str) -> pd.Series:
    """Leakage group of every unit: units linked through a shared session or experiment.

    Sessions and experiments are the nodes of a graph with an edge for every (session,
    experiment) pair the table holds; a group is a connected component. Grouped
    cross-validation over these groups keeps every experiment (and every session) on one side of
    a split, also when one agent session ran several experiments.

    Returns:
        int group per unit id (index sorted, named ``unit``), groups numbered from 0.
    """
    _check_unit(unit)
    pairs = table[["session", "experiment"]].astype(str).drop_duplicates()
    sessions, s_idx = np.unique(pairs["session"].to_numpy(), return_inverse=True)
    experiments, e_idx = np.unique(pairs["experiment"].to_numpy(), return_inverse=True)
    n_s = sessions.size
    size = n_s + experiments.size
    graph = sparse.coo_matrix((np.ones(len(pairs)), (s_idx, n_s + e_idx)), shape=(size, size))
    _, component = csgraph.connected_components(graph, directed=False)
    ids = sessions if unit == "session" else experiments
    offset = 0 if unit == "session" else n_s
    return pd.Series(component[offset + np.arange(ids.size)], index=pd.Index(ids, name=unit), name="group")


def _group_reduce(ufunc: np.ufunc, values: FloatArray, groups: IntArray, n_groups: int, empty: float) -> FloatArray:
    """``ufunc.reduceat`` over rows whose ``groups`` codes are sorted (contiguous groups); groups
    without rows get ``empty``."""
    out = np.full(n_groups, empty, dtype=float)
    if values.size:
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        out[groups[starts]] = ufunc.reduceat(values, starts)
    return out


def _pair_counts(groups: IntArray, keys: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct (group, key) pairs and how many rows each holds, sorted by group."""
    n_keys = int(keys.max()) + 1 if keys.size else 1
    pairs, counts = np.unique(groups * n_keys + keys, return_counts=True)
    return pairs // n_keys, counts


def _flags(codes: IntArray, uniques: np.ndarray, names: Sequence[str]) -> FloatArray:
    return np.isin(uniques, list(names))[codes].astype(float)


def user_agent_features(user_agents: pd.Series) -> pd.DataFrame:
    """``headless``, ``automation`` (0/1) and ``browser`` family of user-agent strings.

    Each distinct string is parsed once (vectorised string methods), then mapped back.
    Family order of precedence: edge (``Edg``), firefox, chrome (incl. Chromium, CriOS,
    HeadlessChrome), safari, else other.
    """
    codes, uniques = pd.factorize(user_agents.fillna("").astype(str))
    text = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    headless = text.str.contains(HEADLESS_PATTERN, case=False, regex=True).to_numpy()
    automation = text.str.contains(AUTOMATION_PATTERN, case=False, regex=True).to_numpy()
    family = np.select(
        [
            text.str.contains(r"Edg(?:e|A|iOS)?/", regex=True).to_numpy(),
            text.str.contains(r"Firefox/|FxiOS/", regex=True).to_numpy(),
            text.str.contains(r"Chrome/|Chromium/|CriOS/", regex=True).to_numpy(),
            text.str.contains(r"Safari/", regex=True).to_numpy(),
        ],
        ["edge", "firefox", "chrome", "safari"],
        default="other",
    )
    return pd.DataFrame(
        {
            "headless": headless[codes].astype(int),
            "automation": automation[codes].astype(int),
            "browser": family[codes].astype(str),
        },
        index=user_agents.index,
    )


def _price_features(prices: pd.DataFrame, unit: str, ids: pd.Index) -> pd.DataFrame:
    missing = [c for c in (unit, "price") if c not in prices.columns]
    if missing:
        raise KeyError(f"the price logs lack column(s) {missing}; build them with phantom_lib.data.price_logs()")
    price = pd.to_numeric(prices["price"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(price).any() or (price <= 0).any():
        raise ValueError("price log column 'price' must hold positive numbers (currency units); drop the bad rows")
    code = ids.get_indexer(prices[unit].astype(str))
    keep = code >= 0
    order = np.argsort(code[keep], kind="stable")
    g, x = code[keep][order], price[keep][order]
    n = np.bincount(g, minlength=len(ids)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(g, weights=x, minlength=len(ids)) / n
        std = np.sqrt(np.bincount(g, weights=(x - mean[g]) ** 2, minlength=len(ids)) / n)
    low = _group_reduce(np.minimum, x, g, len(ids), np.nan)
    high = _group_reduce(np.maximum, x, g, len(ids), np.nan)
    return pd.DataFrame(
        {"price_mean": mean, "price_min": low, "price_max": high, "price_std": std, "price_range": high - low},
        index=ids,
    )


def session_features(table: pd.DataFrame, prices: pd.DataFrame | None = None, unit: str = "experiment") -> pd.DataFrame:
    """The features of every unit of a trajectory table (see the module docstring).

    Args:
        table: trajectory table (columns :data:`TABLE_COLUMNS`), any row order.
        prices: price logs with columns ``unit`` and ``price``, or ``None`` (price features NaN).
        unit: ``"session"`` or ``"experiment"``: the column whose values define a row.

    Returns:
        one row per unit (index = unit id, sorted, named ``unit``) with ``is_agent`` (0/1),
        ``group`` (:func:`leakage_groups`) and the columns :data:`FEATURES`.
    """
    _check_unit(unit)
    _check_table(table)
    unit_codes, ids = pd.factorize(table[unit].astype(str), sort=True)
    ts = epoch_ns(table["ts"])
    order = np.lexsort((table["step"].to_numpy(), ts, unit_codes))
    g = unit_codes[order].astype(np.int64)
    t = ts[order]
    n_units = len(ids)
    n = np.bincount(g, minlength=n_units).astype(float)
    first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    last = np.r_[first[1:] - 1, g.size - 1]

    label = table["is_agent"].to_numpy()[order].astype(int)
    label_first = label[first]
    if np.any(label != label_first[g]):
        bad = ids[np.unique(g[label != label_first[g]])][:5].tolist()
        raise ValueError(f"units {bad} mix agent and human events; each {unit} must have one label")

    # temporal
    duration = (t[last] - t[first]) / 1e9
    same = g[1:] == g[:-1]
    gap = np.diff(t)[same] / 1e9
    gap_group = g[1:][same]
    n_gaps = np.bincount(gap_group, minlength=n_units).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap_mean = np.bincount(gap_group, weights=gap, minlength=n_units) / n_gaps
        gap_var = np.bincount(gap_group, weights=(gap - gap_mean[gap_group]) ** 2, minlength=n_units) / n_gaps
    gap_min = _group_reduce(np.minimum, gap, gap_group, n_units, np.nan)
    window_ms = int(WINDOW_S * 1000)
    rel_ms = (t - t[first][g]) // 1_000_000
    key = g * (int(rel_ms.max()) + window_ms + 1) + rel_ms
    in_window = np.searchsorted(key, key + window_ms, side="left") - np.arange(key.size)
    max_window = _group_reduce(np.maximum, in_window.astype(float), g, n_units, 0.0)
    start_hour = (t[first] // 3_600_000_000_000) % 24

    # behavioural
    event_codes, event_names = pd.factorize(table["event"].astype(str).to_numpy()[order])
    categories = np.array([events.category_of(name) for name in event_names], dtype=object)

    def count(flag: FloatArray) -> FloatArray:
        return np.bincount(g, weights=flag, minlength=n_units)

    page_views = count(_flags(event_codes, event_names, PAGE_VIEW))
    item_views = count(_flags(event_codes, event_names, ITEM_VIEW))
    cart_adds = count(_flags(event_codes, event_names, CART_ADD))
    purchases = count(_flags(event_codes, event_names, PURCHASE))
    hovers = count((categories == "dwell")[event_codes].astype(float))
    filters = count((categories == "filter")[event_codes].astype(float))
    page_codes = pd.factorize(table["page"].fillna("").astype(str).to_numpy()[order])[0]
    unique_pages = np.bincount(_pair_counts(g, page_codes)[0], minlength=n_units).astype(float)

    # product
    product = table["product"].fillna("").astype(str).to_numpy()[order]
    has_product = product != ""
    product_groups, product_rows = _pair_counts(g[has_product], pd.factorize(product[has_product])[0])
    unique_products = np.bincount(product_groups, minlength=n_units).astype(float)
    max_product_views = _group_reduce(np.maximum, product_rows.astype(float), product_groups, n_units, 0.0)

    frame = pd.DataFrame(
        {
            "is_agent": label_first,
            "duration_s": duration,
            "gap_mean_s": gap_mean,
            "gap_std_s": np.sqrt(gap_var),
            "gap_min_s": gap_min,
            "events_per_minute": 60.0 * n / np.maximum(duration, MIN_DURATION_S),
            "max_5min_per_minute": max_window / (WINDOW_S / 60.0),
            "start_hour": start_hour.astype(int),
            "n_events": n,
            "page_views": page_views,
            "item_views": item_views,
            "cart_adds": cart_adds,
            "purchases": purchases,
            "hovers": hovers,
            "filters": filters,
            "cart_to_view": cart_adds / np.maximum(item_views, 1.0),
            "conversion": purchases / n,
            "hover_intensity": hovers / n,
            "unique_pages": unique_pages,
            "unique_products": unique_products,
            "max_product_views": max_product_views,
        },
        index=pd.Index(np.asarray(ids, dtype=object).astype(str), name=unit),
    )
    if prices is None:
        price = pd.DataFrame(np.nan, index=frame.index, columns=list(FEATURE_GROUPS["price"]))
    else:
        price = _price_features(prices, unit, frame.index)
    first_rows = table.iloc[order[first]]
    agent = user_agent_features(first_rows["user_agent"]).set_axis(frame.index)
    frame = pd.concat([frame, price, agent], axis=1)
    frame.insert(1, "group", leakage_groups(table, unit).reindex(frame.index).to_numpy())
    return frame[["is_agent", "group", *FEATURES]]


def before_purchase(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The events of each unit strictly before its first purchase or checkout (:data:`PURCHASE`),
    in time order: what the platform has seen when it quotes the checkout price. Units that never
    buy keep every event; units whose first event is a purchase disappear."""
    _check_unit(unit)
    _check_table(table)
    ordered = table.assign(_ns=epoch_ns(table["ts"])).sort_values([unit, "_ns", "step"], kind="stable")
    bought = ordered["event"].astype(str).isin(PURCHASE)
    seen = bought.groupby(ordered[unit].astype(str).to_numpy(), sort=False).cumsum()
    return ordered.loc[(seen == 0).to_numpy()].drop(columns="_ns").reset_index(drop=True)


def design_matrix(features: pd.DataFrame, columns: Sequence[str]) -> tuple[FloatArray, list[str]]:
    """Numeric matrix of the chosen feature columns for a learner.

    ``browser`` becomes one 0/1 column per family of :data:`BROWSERS` (``browser=<family>``);
    every other column is cast to float (NaN kept: undefined gaps, units without price quotes).

    Returns:
        ``(X, names)``: X of shape (n_units, n_columns) and the column names.
    """
    unknown = [c for c in columns if c not in FEATURES]
    if unknown:
        raise KeyError(f"unknown feature(s) {unknown}; choose from phantom_lib.detection.features.FEATURES")
    blocks, names = [], []
    for column in columns:
        if column == "browser":
            family = features["browser"].astype(str).to_numpy()
            blocks.append(np.stack([family == b for b in BROWSERS], axis=1).astype(float))
            names.extend(f"browser={b}" for b in BROWSERS)
        else:
            blocks.append(features[column].to_numpy(dtype=float)[:, None])
            names.append(column)
    return np.hstack(blocks), names


def columns_without(groups: Sequence[str]) -> list[str]:
    """Every feature except those of the named groups of :data:`FEATURE_GROUPS`."""
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown:
        raise KeyError(f"unknown feature group(s) {unknown}; choose from {list(FEATURE_GROUPS)}")
    dropped = {name for group in groups for name in FEATURE_GROUPS[group]}
    return [name for name in FEATURES if name not in dropped]
