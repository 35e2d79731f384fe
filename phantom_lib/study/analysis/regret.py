"""Regret of learned prices against the optimal price, and the effect of a defence (chapter 09).

The market pays for sales (Model reference, section 12). A trial's evaluation reports its mean
sales revenue per step S over its evaluation episodes (``sales_revenue``, price units per step;
its standard error ``sales_revenue_se`` when the results carry it); the oracle
(:mod:`phantom_lib.sim.oracle`) gives the expected sales revenue E[S(p)] of a fixed price p from
the model, at the same agent share and ``agents_buy``. The trial's S is a mean over simulated
steps, the oracle's E[S] an expectation (a Monte Carlo mean over common valuation draws, with its
own small standard error ``sales_star_se``); both are reported.

* **Regret** of a trial: ``1 - S / E[S(p*)]`` (0 at the optimal price; 1 for no sales; negative
  only within noise). Its standard error combines both (delta method, independent):
  ``sqrt((se_S / E*)^2 + (S se_E / E*^2)^2)``.
* **Contamination cost** ``E[S(p*)] - S`` (price units per step, positive = revenue lost), split
  into three terms that add up to it exactly:

  - ``restriction = E[S(p*)] - E[S(p*_A)]``: what the action space cannot hold (>= 0 up to the
    optimisers' tolerance);
  - ``objective = E[S(p*_A)] - E[S(p_q*)]``: what optimising the proxy instead of sales costs, for
    a platform that learns from the proxy (0 for the sales-trained control, ``defence == "sales"``).
    p_q* is not restricted to the action space, so this term is negative when p_q* lies nearer p*
    than any price the action space can hold;
  - ``learning``: the rest, ``E[S(p_q*)] - S`` for a proxy learner and ``E[S(p*_A)] - S`` for the
    sales-trained one: what training leaves on the table (negative when the policy does better
    than the price its objective points to, e.g. by moving prices within an episode).

* **Defence effect**: a defended trial against its undefended twin (``defence == "none"``, the same
  algorithm, alpha0, ``agents_buy`` and seed), ``100 (mean defended - mean none) / |mean none|``
  sales revenue in %, with a bootstrap over twin groups
  (:func:`~phantom_lib.study.analysis.estimands.bootstrap_deltas`) and a TOST verdict at a margin
  read from the design's pre-registration (:func:`registered_margin`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phantom_lib.sim.oracle import SalesModel, oracle_frame
from phantom_lib.study.analysis import equivalence as eq
from phantom_lib.study.analysis.estimands import (
    REPO_ROOT,
    bootstrap_deltas,
    relative_delta,
    seed_ci,
)
from phantom_lib.study.design import prereg

DEFENCES = ("none", "robust", "filter", "sales")
"""The defences compared: none, the thesis's robust training, filtering the proxy with a detector,
and the control that learns from sales (``reward_on = "sales"``)."""

SALES, SALES_SE = "sales_revenue", "sales_revenue_se"
"""The trial columns read (after :func:`~phantom_lib.study.analysis.estimands.load` drops ``m_``)."""

GROUP = ("algorithm", "defence", "alpha0", "agents_buy")
"""A summary row: one configuration over its seeds."""

PAIR_KEYS = ("algorithm", "alpha0", "agents_buy", "seed")
"""A defended trial and its undefended twin share these (one twin group)."""

DIGITS = 9
"""Agent shares are matched to the oracle's after rounding to this many decimals."""


def with_defence(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with a ``defence`` column (one of :data:`DEFENCES`) and ``agents_buy`` (bool).

    A ``defence`` column is kept as it is (checked); without one it is derived: ``reward_on ==
    "sales"`` is the sales-trained control, ``eps_alpha > 0`` robust training, anything else none.
    ``agents_buy`` defaults to True (the market's default) when the results lack it.
    """
    out = trials.copy()
    if "defence" not in out:
        sales = out.get("reward_on", pd.Series("proxy", index=out.index)) == "sales"
        robust = out.get("eps_alpha", pd.Series(0.0, index=out.index)).astype(float) > 0
        out["defence"] = np.select([sales, robust], ["sales", "robust"], "none")
    unknown = sorted(set(out["defence"]) - set(DEFENCES))
    if unknown:
        raise ValueError(f"trials.defence = {unknown[0]!r}: expected one of {DEFENCES}")
    out["agents_buy"] = out["agents_buy"].astype(bool) if "agents_buy" in out else True
    return out


def oracle_table(
    model: SalesModel, alphas: Iterable[float], agents_buy: Sequence[bool] = (True, False)
) -> pd.DataFrame:
    """:func:`~phantom_lib.sim.oracle.oracle_frame` for each ``agents_buy`` (same draws), with
    ``agents_buy`` and ``sales_star_se`` (the Monte Carlo SE of E[S(p*)], price units per step)."""
    alphas = sorted({round(float(a), DIGITS) for a in alphas})
    n = model.config.market.n_products
    parts = []
    for buy in agents_buy:
        cell = model.with_market(agents_buy=bool(buy))
        frame = oracle_frame(cell, alphas)
        se = [
            float(cell.expected(np.full(n, p), a)["sales_se"].iloc[0]) for a, p in zip(frame["alpha"], frame["p_star"])
        ]
        parts.append(frame.assign(agents_buy=bool(buy), sales_star_se=se))
    return pd.concat(parts, ignore_index=True)


def trial_regret(trials: pd.DataFrame, oracle: pd.DataFrame) -> pd.DataFrame:
    """Every trial with its oracle columns, ``regret`` and ``regret_se`` and the decomposition
    (``cost``, ``restriction``, ``objective``, ``learning``; price units per step; see the module doc).

    ``oracle``: :func:`oracle_table` (one row per alpha and ``agents_buy``). A trial whose share or
    ``agents_buy`` has no oracle row raises ``ValueError`` naming it. Without a ``sales_revenue_se``
    column the trial's SE is unknown and ``regret_se`` is NaN.
    """
    table = with_defence(trials).assign(_alpha=lambda f: f["alpha0"].astype(float).round(DIGITS))
    keys = oracle.assign(_alpha=oracle["alpha"].round(DIGITS)).drop(columns="alpha")
    merged = table.merge(keys, on=["_alpha", "agents_buy"], how="left", validate="many_to_one")
    missing = merged["sales_star"].isna()
    if missing.any():
        row = merged[missing].iloc[0]
        raise ValueError(
            f"oracle has no row for alpha0 = {row['alpha0']}, agents_buy = {row['agents_buy']}: "
            "compute oracle_table at every share and agents_buy of the trials"
        )
    star, sales = merged["sales_star"], merged[SALES].astype(float)
    se = merged[SALES_SE].astype(float) if SALES_SE in merged else pd.Series(np.nan, index=merged.index)
    merged["regret"] = 1.0 - sales / star
    merged["regret_se"] = np.sqrt((se / star) ** 2 + (sales * merged["sales_star_se"] / star**2) ** 2)
    return _decompose(merged.drop(columns="_alpha"))


def _decompose(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``cost``, ``restriction``, ``objective`` and ``learning`` (they sum to ``cost`` exactly)."""
    proxy_learner = table["defence"] != "sales"
    cost = table["sales_star"] - table[SALES].astype(float)
    restriction = table["sales_star"] - table["sales_held"]
    objective = np.where(proxy_learner, table["sales_held"] - table["sales_at_proxy"], 0.0)
    return table.assign(
        cost=cost, restriction=restriction, objective=objective, learning=cost - restriction - objective
    )


SUMMARISED = (SALES, "regret", "cost", "restriction", "objective", "learning")


def regret_summary(table: pd.DataFrame, by: Sequence[str] = GROUP) -> pd.DataFrame:
    """Per ``by`` group of :func:`trial_regret`'s table: for each of :data:`SUMMARISED` the mean
    over seeds with a 95 % t interval across seeds (``{name}``, ``{name}_lo``, ``{name}_hi``; NaN
    bounds with one seed), the oracle's ``sales_star`` and ``n_seeds``."""
    rows = []
    for key, group in table.groupby(list(by)):
        row: dict[str, Any] = dict(zip(by, key))
        for name in SUMMARISED:
            ci = seed_ci(group.groupby("seed")[name].mean())
            row |= {name: ci["mean"], f"{name}_lo": ci["ci_low"], f"{name}_hi": ci["ci_high"]}
        rows.append(row | {"sales_star": float(group["sales_star"].mean()), "n_seeds": int(group["seed"].nunique())})
    return pd.DataFrame(rows)


def defence_pairs(table: pd.DataFrame, defence: str, metric: str = SALES) -> pd.DataFrame:
    """Trials of ``defence`` beside their undefended twin's ``metric``: :data:`PAIR_KEYS` and
    ``defended``, ``baseline`` (the layout :func:`bootstrap_deltas` reads)."""
    if defence not in DEFENCES[1:]:
        raise ValueError(f"defence = {defence!r}: expected one of {DEFENCES[1:]}")
    keys = list(PAIR_KEYS)
    own = table.loc[table["defence"] == defence, keys + [metric]].rename(columns={metric: "defended"})
    twins = table.loc[table["defence"] == "none", keys + [metric]].rename(columns={metric: "baseline"})
    return own.merge(twins, on=keys, how="inner", validate="one_to_one")


def defence_effect(pairs: pd.DataFrame, margin: float, n_boot: int = 4000, seed: int = 0) -> dict[str, Any]:
    """The defence effect over ``pairs`` (:func:`defence_pairs`), in % of the twins' sales revenue.

    Returns ``delta`` (ratio of means), its 95 % bootstrap interval over twin groups (``lo``,
    ``hi``), the TOST's 90 % interval (``lo90``, ``hi90``), one-sided p-values, ``verdict`` and
    ``words`` at ``margin`` (%), ``n_pairs``. Raises ``ValueError`` with fewer than two pairs.
    """
    if len(pairs) < 2:
        raise ValueError(f"defence_effect needs at least two pairs (twin groups); got {len(pairs)}")
    delta = relative_delta(pairs)
    draws = bootstrap_deltas(pairs, n_boot, seed, keys=PAIR_KEYS)
    low, high = np.quantile(draws, [0.025, 0.975])
    test = eq.tost_draws(draws, margin, delta)
    return {
        "delta": delta,
        "lo": float(low),
        "hi": float(high),
        "lo90": test.low,
        "hi90": test.high,
        "p_lower": test.p_lower,
        "p_upper": test.p_upper,
        "verdict": test.verdict,
        "words": test.words("%"),
        "n_pairs": len(pairs),
    }


def defence_effects(
    table: pd.DataFrame, margin: float, n_boot: int = 4000, seed: int = 0, defences: Sequence[str] = DEFENCES[1:]
) -> pd.DataFrame:
    """:func:`defence_effect` for each defence present and each ``agents_buy``: per alpha0, and
    pooled over alpha0 > 0 (``alpha0 = "pooled"``). A pair with no sales on either side (nobody
    buys: agents only, and they do not buy) says nothing about a relative effect and is left out;
    so are cells with fewer than two pairs."""
    rows = []
    for defence in (d for d in defences if (table["defence"] == d).any()):
        pairs = defence_pairs(table, defence)
        pairs = pairs[(pairs["defended"] != 0) | (pairs["baseline"] != 0)]
        for buy, part in pairs.groupby("agents_buy"):
            cells = [(float(a), g) for a, g in part.groupby("alpha0")] + [("pooled", part[part["alpha0"] > 0])]
            rows += [
                {
                    "defence": defence,
                    "agents_buy": bool(buy),
                    "alpha0": alpha,
                    **defence_effect(g, margin, n_boot, seed),
                }
                for alpha, g in cells
                if len(g) >= 2
            ]
    return pd.DataFrame(rows)


def registered_margin(path: str | Path, name: str | None = None) -> eq.Margin:
    """The equivalence margin of the pre-registration at ``path`` (:func:`prereg.read`): the margin
    called ``name``, or its only margin when ``name`` is None. Raises ``ValueError`` naming the choices."""
    margins = prereg.read(Path(path)).get("margins", [])
    chosen = [m for m in margins if name is None or m["name"] == name]
    if len(chosen) != 1:
        names = [m["name"] for m in margins]
        raise ValueError(
            f"registered_margin: name = {name!r}: expected one of {names} in {path}"
            if name is not None or not names
            else f"registered_margin: name = None: {path} declares {len(names)} margins {names}; name one"
        )
    item = chosen[0]
    return eq.Margin(float(item["value"]), str(item.get("unit", "% of sales revenue")), str(item["reason"]))


def preregistration_of(provenance: dict[str, Any], fallback: str | Path | None = None) -> tuple[Path, str | None]:
    """The pre-registration a result folder's ``provenance`` records (its first), as (path, commit):
    a relative path is read from the repository root. Without one (a smoke run) the ``fallback``
    file, with commit ``None`` (its rules then count as written after these data)."""
    entries = provenance.get("preregistration") or []
    entries = entries if isinstance(entries, list) else [entries]
    if entries:
        path = Path(entries[0]["path"])
        return (path if path.is_absolute() else REPO_ROOT / path), entries[0].get("commit")
    if fallback is None:
        raise ValueError(
            "provenance.preregistration = None: the results record no pre-registration; "
            "pass the design's pre-registration file as fallback"
        )
    return Path(fallback), None
