"""Timing harnesses of the data, behaviour and detection stages (the simulator's are in
:mod:`phantom_lib.perf.bench`).

Each function times one library call on generated inputs of growing size and returns the figures
as a table or a dict (wall-clock seconds, best of the repeats where it repeats). They print or
return figures; no test asserts a time (these machines are noisy).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from phantom_lib.behaviour.distinguish import (
    class_gaps,
    pair_counts,
    paths_table,
    score_table,
)
from phantom_lib.behaviour.kernels import (
    GRANULARITIES,
    Kernel,
    class_kernels,
    paths_to_table,
    sample_paths,
)
from phantom_lib.data.events import SESSION_END
from phantom_lib.data.sources import load
from phantom_lib.data.tables import trajectories
from phantom_lib.detection.features import _check_unit, session_features
from phantom_lib.standin.rows import StandinConfig, write


def load_benchmark(scales: tuple[int, ...] = (1, 10, 100), repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Time ``phantom_lib.data.load`` (read + validate) and ``phantom_lib.data.trajectories`` on generated files.

    For each scale the stand-in is generated (``scale`` times the card's rows), written as
    ``.csv.gz`` to a temporary folder, and loaded ``repeats`` times; the best time counts.
    Returns one row per scale: rows, load seconds, rows/s, trajectory seconds, and the
    marginal rate from the previous scale (extra rows / extra seconds): a constant marginal
    rate means the load time is a fixed cost plus a linear term.
    """
    records = []
    with tempfile.TemporaryDirectory() as folder:
        for scale in scales:
            path = write(Path(folder) / f"standin_x{scale}.csv.gz", StandinConfig(seed=seed, scale=scale))
            load_times, traj_times = [], []
            for _ in range(repeats):
                began = time.perf_counter()
                frame = load(path).frame
                load_times.append(time.perf_counter() - began)
                began = time.perf_counter()
                trajectories(frame)
                traj_times.append(time.perf_counter() - began)
            records.append({"scale": scale, "rows": len(frame), "load_s": min(load_times),
                            "rows_per_s": len(frame) / min(load_times), "trajectories_s": min(traj_times)})
    table = pd.DataFrame(records)
    table["marginal_rows_per_s"] = table["rows"].diff() / table["load_s"].diff()
    return table


def estimation_benchmark(
    n_events: int = 10**6, n_products: int = 20, seed: int = 0, repeats: int = 3
) -> dict[str, float]:
    """Wall time of :func:`class_kernels` on a synthetic table of ``n_events`` events.

    The table holds two classes sampled from random 8-event kernels (end probability 0.05
    per step, so about 20 events per session), products uniform over ``n_products`` with
    page ``/shop/products/<product>``. Each granularity is timed ``repeats`` times (best kept),
    including the state column build.

    Returns:
        ``n_events``, ``n_trajectories``, and per granularity g: ``g_seconds`` (best wall time,
        s), ``g_states`` (S) and ``g_events_per_second``.
    """
    rng = np.random.default_rng(seed)
    n_ev = 8
    labels = tuple(f"e{i}" for i in range(n_ev)) + (SESSION_END,)
    per_class = int(np.ceil(n_events / 2 / 20 * 1.2))
    tables = []
    for actor in ("human", "agent"):
        matrix = np.zeros((n_ev + 1, n_ev + 1))
        matrix[:n_ev, :n_ev] = 0.95 * rng.dirichlet(np.ones(n_ev), size=n_ev)
        matrix[:, n_ev] = 0.05
        matrix[n_ev, n_ev] = 1.0
        pi0 = np.append(rng.dirichlet(np.ones(n_ev)), 0.0)
        paths = sample_paths(matrix, pi0, per_class, rng, max_len=400, end=n_ev)
        tables.append(paths_to_table(paths, labels, actor))
    table = pd.concat(tables, ignore_index=True).head(n_events)
    product = "p" + pd.Series(rng.integers(0, n_products, len(table))).astype(str)
    table = table.assign(product=product, page="/shop/products/" + product)
    result: dict[str, float] = {"n_events": float(len(table)), "n_trajectories": float(table["trajectory"].nunique())}
    for granularity in GRANULARITIES:
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            kernels = class_kernels(table, granularity)
            best = min(best, time.perf_counter() - start)
        result[f"{granularity}_seconds"] = best
        result[f"{granularity}_states"] = float(next(iter(kernels.values())).n_states)
        result[f"{granularity}_events_per_second"] = len(table) / best
    return result


def scoring_benchmark(
    human: Kernel, agent: Kernel, n: int = 10_000, seed: int = 0, max_len: int = 40
) -> dict[str, float]:
    """Time the scoring of ``n`` synthetic trajectories (half per class) and print the figures.

    Trajectories are sampled from the two kernels (:func:`kernels.sample_paths`), turned into a
    trajectory table, then scored with leave-one-out centroids: once from the table
    (:func:`score_table`: encoding, counting, scoring) and once from the sampled arrays
    (:func:`pair_counts` + :func:`class_gaps`). Wall-clock seconds, one run each after a
    small warm-up; a figure, not an assertion.
    """
    rng = np.random.default_rng(seed)
    n_agent = n // 2
    paths = {
        cls: sample_paths(k.matrix, k.pi0, size, rng, max_len=max_len, end=k.end)
        for cls, k, size in (("human", human, n - n_agent), ("agent", agent, n_agent))
    }
    table = pd.concat([paths_table(p, human.labels, cls) for cls, p in paths.items()], ignore_index=True)
    stacked = np.concatenate([paths["human"], paths["agent"]])
    is_agent = np.repeat([False, True], [n - n_agent, n_agent])
    score_table(table.groupby("actor").head(100))  # warm-up
    t0 = time.perf_counter()
    scores = score_table(table)
    t1 = time.perf_counter()
    class_gaps(pair_counts(stacked, human.n_states), is_agent)
    t2 = time.perf_counter()
    figures = {
        "n_trajectories": float(n),
        "n_events": float(len(table)),
        "table_seconds": t1 - t0,
        "array_seconds": t2 - t1,
        "n_scored": float(len(scores.frame)),
    }
    print(
        f"scored {len(scores.frame):,} of {n:,} synthetic trajectories ({len(table):,} events, "
        f"{human.n_states} states, leave-one-out): table {t1 - t0:.2f} s "
        f"({n / (t1 - t0):,.0f} trajectories/s), arrays {t2 - t1:.2f} s"
    )
    return figures


def features_benchmark(
    table: pd.DataFrame, prices: pd.DataFrame | None, sizes: Sequence[int], unit: str = "session"
) -> pd.DataFrame:
    """Time :func:`session_features` on the first units of ``table`` holding about each of ``sizes`` events.

    Each size is timed once (wall clock, after one small warm-up run) on the leading units
    whose events add up to at most that size; the price logs are cut to the same units.
    Prints one line per size and returns ``events``, ``units``, ``seconds``,
    ``events_per_second`` and ``relative_rate`` (rate over the rate at the smallest size: near 1
    at every size means linear scaling). A figure, not an assertion.
    """
    _check_unit(unit)
    ids, start = np.unique(table[unit].astype(str).to_numpy(), return_index=True)
    order = np.argsort(start)
    per_unit = table.groupby(unit, sort=False).size().reindex(ids[order]).to_numpy()
    cumulative = np.cumsum(per_unit)
    session_features(table[table[unit].isin(ids[order][:10])], None, unit)  # warm-up
    rows = []
    for size in sorted(sizes):
        keep = set(ids[order][: max(1, int(np.searchsorted(cumulative, size, side="right")))])
        part = table[table[unit].isin(keep)]
        part_prices = None if prices is None else prices[prices[unit].isin(keep)]
        start_time = time.perf_counter()
        result = session_features(part, part_prices, unit)
        seconds = time.perf_counter() - start_time
        rows.append(
            {"events": len(part), "units": len(result), "seconds": seconds, "events_per_second": len(part) / seconds}
        )
    out = pd.DataFrame(rows)
    out["relative_rate"] = out["events_per_second"] / out["events_per_second"].iloc[0]
    for row in out.itertuples():
        print(
            f"{row.events:>10,} events, {row.units:>8,} {unit}s: {row.seconds:6.3f} s, "
            f"{row.events_per_second:>12,.0f} events/s (x{row.relative_rate:.2f} of the smallest size's rate)"
        )
    return out
