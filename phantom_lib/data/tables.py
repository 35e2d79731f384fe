"""The tables later chapters consume: trajectories (one row per interaction event) and price logs.

:func:`trajectories` groups the validated interaction rows into time-ordered trajectories per
experiment (the analysis unit) or session; :func:`price_logs` gives the quoted prices. Both take
the frame :func:`phantom_lib.data.load_whoclicked` returns.
"""

from __future__ import annotations

import pandas as pd

from phantom_lib.data import events
from phantom_lib.data.schema import INTERACTION, PRICE_LOG, is_admin

TRAJECTORY_COLUMNS = (
    "trajectory", "actor", "is_agent", "step", "ts", "event", "category",
    "page", "product", "session", "experiment", "store", "user_agent",
)
"""Columns of :func:`trajectories`, in order."""

_UNITS = {"experiment": "experimentId", "session": "sessionId"}


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} needs the columns {missing}: pass the frame returned by load_whoclicked()")


def trajectories(frame: pd.DataFrame, unit: str = "experiment") -> pd.DataFrame:
    """One row per interaction event, grouped into trajectories and time-ordered.

    Args:
        frame: the typed frame of :func:`load_whoclicked`.
        unit: ``"experiment"`` (one assigned task run, the study's unit) or ``"session"``.

    Returns:
        Columns :data:`TRAJECTORY_COLUMNS`: ``trajectory`` (the experimentId or sessionId),
        ``actor``, ``is_agent`` (int 0/1), ``step`` (int, 0..len-1), ``ts`` (datetime64[ns, UTC]),
        ``event``, ``category`` (``events.category_of``), ``page``, ``product`` ("" if none),
        ``session``, ``experiment``, ``store``, ``user_agent`` (text columns never NA).
        Price logs and events on ``/admin/`` pages are dropped. Sorted by
        (``trajectory``, ``step``); equal timestamps keep file order.
    """
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}; got {unit!r}")
    _require(frame, ("record_type", "page", "ts", "eventName", "actor_type", "is_agent",
                     "sessionId", "experimentId", "storeMode", "productId", "userAgent"), "trajectories()")
    keep = (frame["record_type"] == INTERACTION).to_numpy() & ~is_admin(frame)
    rows = frame.loc[keep]

    def text(column: str) -> pd.Series:
        return rows[column].fillna("").astype("str").reset_index(drop=True)

    table = pd.DataFrame({
        "trajectory": text(_UNITS[unit]),
        "actor": text("actor_type"),
        "is_agent": rows["is_agent"].astype("int64").reset_index(drop=True),
        "ts": rows["ts"].astype("datetime64[ns, UTC]").reset_index(drop=True),
        "event": text("eventName"),
        "page": text("page"),
        "product": text("productId"),
        "session": text("sessionId"),
        "experiment": text("experimentId"),
        "store": text("storeMode"),
        "user_agent": text("userAgent"),
    })
    table = table.sort_values(["trajectory", "ts"], kind="stable").reset_index(drop=True)
    table["step"] = table.groupby("trajectory", sort=False).cumcount().astype("int64")
    mapping = {name: events.category_of(name) for name in table["event"].unique()}
    table["category"] = table["event"].map(mapping).astype("str")
    return table[list(TRAJECTORY_COLUMNS)]


def inter_event_seconds(table: pd.DataFrame) -> pd.Series:
    """Seconds since the previous event of the same trajectory (NaN at step 0), aligned to ``table``."""
    _require(table, ("trajectory", "step", "ts"), "inter_event_seconds()")
    gap = table.groupby("trajectory", sort=False)["ts"].diff().dt.total_seconds()
    return gap.where(table["step"] > 0).rename("gap_s")


def trajectory_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per trajectory of :func:`trajectories`: actor, store, events, sessions,
    experiments, start time, duration (s) and median inter-event time (s); sorted by start."""
    _require(table, TRAJECTORY_COLUMNS, "trajectory_summary()")
    grouped = table.assign(gap_s=inter_event_seconds(table)).groupby("trajectory", sort=False)
    summary = grouped.agg(
        actor=("actor", "first"),
        store=("store", "first"),
        events=("step", "size"),
        sessions=("session", "nunique"),
        experiments=("experiment", "nunique"),
        start=("ts", "min"),
        end=("ts", "max"),
        median_gap_s=("gap_s", "median"),
    )
    summary["duration_s"] = (summary.pop("end") - summary["start"]).dt.total_seconds()
    return summary.sort_values("start").reset_index()


PRICE_COLUMNS = ("store", "product", "ts", "price", "session", "experiment", "actor", "is_agent")


def price_logs(frame: pd.DataFrame) -> pd.DataFrame:
    """The price-log rows as a table for the COI chapter, sorted by (store, product, ts).

    Columns :data:`PRICE_COLUMNS`: ``price`` in currency units (float, > 0), ``ts`` UTC.
    """
    _require(frame, ("record_type", "storeMode", "productId", "ts", "price", "sessionId",
                     "experimentId", "actor_type", "is_agent"), "price_logs()")
    rows = frame.loc[frame["record_type"] == PRICE_LOG]
    table = pd.DataFrame({
        "store": rows["storeMode"].fillna("").astype("str"),
        "product": rows["productId"].fillna("").astype("str"),
        "ts": rows["ts"],
        "price": rows["price"].astype(float),
        "session": rows["sessionId"].astype("str"),
        "experiment": rows["experimentId"].astype("str"),
        "actor": rows["actor_type"].astype("str"),
        "is_agent": rows["is_agent"].astype("int64"),
    })
    return table.sort_values(["store", "product", "ts"], kind="stable").reset_index(drop=True)


def price_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (store, product) of :func:`price_logs`: quotes, min/median/max price, distinct prices,
    and the share of quotes shown to agents."""
    _require(table, PRICE_COLUMNS, "price_summary()")
    return (
        table.groupby(["store", "product"], sort=True)
        .agg(quotes=("price", "size"), min=("price", "min"), median=("price", "median"),
             max=("price", "max"), distinct=("price", "nunique"), agent_share=("is_agent", "mean"))
        .reset_index()
    )
