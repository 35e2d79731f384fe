"""The thesis's price heat-map (chapter 08): its W&B histograms re-binned and the claim that prices
saturate in the top bin from a given step, decided by a rule fixed before the re-analysis.

Part of :mod:`phantom_lib.study.analysis.thesis_tables` (same card, same statuses), kept apart
because it works on histograms, not on tables of means.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from phantom_lib.study.analysis.thesis_tables import NOT_REPRODUCED, REPRODUCED


def supra_histograms(raw: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The W&B price histograms by step: ``{step: (values (64 product counts), edges (65))}``."""
    out = {}
    for step, text in zip(raw["Step"], raw.iloc[:, 1]):
        hist = json.loads(text)
        out[int(step)] = (np.asarray(hist["values"], dtype=float), np.asarray(hist["bins"], dtype=float))
    return out


def rebin(values: np.ndarray, edges: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Histogram mass re-binned onto ``grid`` (edges) by interval overlap: each source bin spreads
    its count over the grid bins in proportion to the overlap length. Total mass is kept."""
    low, high = np.maximum(edges[:-1, None], grid[None, :-1]), np.minimum(edges[1:, None], grid[None, 1:])
    share = np.clip(high - low, 0.0, None) / np.diff(edges)[:, None]
    return values @ share


def supra_grid(histograms: dict[int, tuple[np.ndarray, np.ndarray]], bins: int = 100) -> np.ndarray:
    """The heat-map's common grid: ``bins + 1`` edges from the smallest histogram edge to the
    largest (the price cap)."""
    low = min(e[0] for _, e in histograms.values())
    high = max(e[-1] for _, e in histograms.values())
    return np.linspace(low, high, bins + 1)


def supra_rebinned(raw: pd.DataFrame) -> pd.DataFrame:
    """The heat-map data recomputed from the raw histograms: ``step``, ``price`` (bin centre),
    ``density`` (mass re-binned onto :func:`supra_grid`), one row per step and grid bin."""
    histograms = supra_histograms(raw)
    grid = supra_grid(histograms)
    centres = (grid[:-1] + grid[1:]) / 2
    rows = [pd.DataFrame({"step": step, "price": centres, "density": rebin(v, e, grid)})
            for step, (v, e) in histograms.items()]
    return pd.concat(rows, ignore_index=True)


def supra_saturation(heat: pd.DataFrame, cap_share: float = 1.0 - 1e-9) -> dict[str, float]:
    """When the heat-map's mass reaches the top price bin and stays.

    Returns ``top_low`` (the top bin's lower edge, price units), ``first_saturated_step`` (the first
    step from which every later step holds at least ``cap_share`` of its mass in the top bin; NaN
    if none), ``top_share_last`` (top-bin share at the last step) and ``steps`` (logged steps).
    """
    wide = heat.pivot_table(index="step", columns="price", values="density", aggfunc="sum")
    top_share = wide.iloc[:, -1] / wide.sum(axis=1)
    saturated = (top_share >= cap_share)[::-1].cummin()[::-1]
    width = float(np.diff(wide.columns.to_numpy()).mean())
    return {"top_low": float(wide.columns[-1] - width / 2),
            "first_saturated_step": float(saturated.index[saturated.to_numpy()].min()) if saturated.any() else np.nan,
            "top_share_last": float(top_share.iloc[-1]), "steps": float(len(wide))}


def supra_status(saturation: dict[str, float], published_step: float) -> str:
    """Rule (fixed before the re-analysis): reproduced when the redrawn heat-map has all mass in the
    top bin from some step to the last, and that step is the thesis's; not reproduced otherwise.
    No margin: the steps are logged every 100, so the step is either the printed one or not."""
    return REPRODUCED if saturation["first_saturated_step"] == published_step else NOT_REPRODUCED
