"""Every figure the PHANTOM thesis and its data card published, in one place, with its source.

These are the paper's numbers, quoted, never computed here. Chapters, the reproduction table and
the analysis code import them from this module, so no published number is typed twice. Each
constant says where it comes from; :data:`SOURCES` names the documents.

The thesis's own per-run results (its 95 baseline runs and its per-share summary) are data, not
constants: they ship as CSV files in ``data/published/`` with a card (:data:`RUNS_DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

THESIS = "rosel2025phantom"
"""Citation key of the thesis in ``references.bib``."""

SOURCES: dict[str, str] = {
    "data_card": "the data card of the Hugging Face data set velocitatem/whoclickedit (whoclicked.csv)",
    "thesis": "the PHANTOM thesis (rosel2025phantom), its results chapter",
    "thesis_profile": "the PHANTOM thesis, its simulator profiling section (cProfile over 20 env steps)",
    "thesis_runs": "the thesis's public repository velocitatem/PHANTOM, generated result tables "
                   "(data/published/README.md gives the files and commits)",
    "thesis_tables": "the thesis's other generated result tables and the results-chapter sentences that cite them "
                     "(data/published/thesis_generated/README.md gives files, commits, generators and citations)",
}
"""Where each group of figures below was published."""

RUNS_DIR = Path(__file__).resolve().parents[1] / "data" / "published"
"""The thesis's published run tables (CSV) and their card."""

DATA_CARD: dict[str, Any] = {
    "rows": 3838,
    "columns": 42,
    "ts_min": "2025-12-05T09:43:31Z",
    "ts_max": "2026-02-28T19:32:06Z",
    "record_type/interaction": 507,
    "record_type/price_log": 3331,
    "actor/agent": 3076,
    "actor/human": 762,
    "agent/interaction": 197,
    "agent/price_log": 2879,
    "human/interaction": 310,
    "human/price_log": 452,
    "sessions/agent": 7,
    "sessions/human": 25,
    "experiments/agent": 16,
    "experiments/human": 13,
    "store/hotel": 3592,
    "store/airline": 196,
    "store/shop": 50,
    "event/page_view": 236,
    "event/learn_more_about_item": 88,
    "event/view_item_page": 85,
    "event/add_item_to_cart": 46,
    "event/hover_over_title": 23,
    "event/checkout_start": 19,
    "event/hover_over_paragraph": 6,
    "event/remove_item": 4,
}
"""Summary of ``whoclicked.csv`` (source: ``data_card``; timestamps to the second, UTC)."""

DISTINGUISHABILITY: dict[str, float] = {
    "n_human": 13,
    "human_mean": -3.35,
    "human_std": 2.67,
    "n_agent": 16,
    "agent_mean": 1.65,
    "agent_std": 2.83,
    "p_below": 0.001,
    "class_kl": 1.8,
}
"""Per-trajectory gap Delta_H - Delta_A on the real data (source: ``thesis``): mean and std
(ddof 0) per class; two-sided Mann-Whitney p < ``p_below`` (U not published); mean
human-vs-agent KL over shared source events "about" ``class_kl`` nats."""

PROFILE: dict[str, dict[str, float]] = {
    "k1": {"n_candidates": 1, "eps_alpha": 0.0, "steps_per_s": 26.0, "seconds_20_steps": 0.77,
           "optimised_steps_per_s": 220.0},
    "k5": {"n_candidates": 5, "eps_alpha": 0.2, "steps_per_s": 7.2, "seconds_20_steps": 2.79,
           "optimised_steps_per_s": 136.0},
}
"""The original engine's profile per setting (source: ``thesis_profile``): K = 1 and K = 5 (eps
0.2), seconds for :data:`PROFILE_STEPS` steps and steps/s under cProfile, and
``optimised_steps_per_s`` after the move to arrays and JAX."""

PROFILE_MARKET: dict[str, int] = {"n_products": 3, "n_sessions": 10}
"""The market of the published profile: N = 3 products, M = 10 sessions (source: ``thesis_profile``)."""

PROFILE_STEPS = 20
"""Environment steps the published profile timed (source: ``thesis_profile``)."""

PROFILE_LOOKUP_SHARE_PCT: tuple[float, float] = (86.0, 88.0)
"""Share of the original's step time in the per-state pandas row lookup plus nan_to_num, as a
published range in % (source: ``thesis_profile``)."""


DEFENCE_REVENUE_DELTA_PCT: dict[str, float] = {
    "mean over alpha in [0, 1]": -4.78,
    "alpha >= 0.7": -4.1,
    "alpha < 0.7": -5.2,
    "alpha = 1": 0.30,
}
"""Defended minus baseline revenue in % of baseline (source: ``thesis``; the headline is the mean
of the per-share column of ``data/published/alpha_mode_summary.csv``)."""

BASELINE_REGRESSION: dict[str, float] = {
    "intercept": 348_823.41,
    "slope": -90_140.53,
    "r2": 0.976,
    "slope_se_hc1": 2_185.0,
}
"""OLS of baseline evaluation revenue on alpha over the thesis's 95 baseline runs (source:
``thesis``; the runs are ``data/published/revenue_alpha_runs.csv``): intercept and slope in
revenue units per episode (slope per unit alpha), R^2, heteroskedasticity-robust (HC1) SE of the
slope."""

RUNS_CARD: dict[str, int] = {
    "rows": 95,
    "cells": 31,
    "distinct_outcomes": 32,
}
"""What the card of ``data/published/`` says the baseline runs file holds (source: ``thesis_runs``):
rows (runs), (alpha, seed) cells, and distinct (revenue, reward) outcomes among the rows."""

EVALUATION: dict[str, Any] = {
    "alphas": tuple(round(0.1 * i, 1) for i in range(11)),
    "seeds": (42, 1337, 7777),
    "n_products": 100,
    "eps_alpha_defended": 0.2,
    "eval_episodes": 10,
    "episode_steps": 100,
    "train_steps": 100_000,
}
"""The protocol of the thesis's final sweep (source: ``thesis_runs``): agent shares, training
seeds, catalogue size, the defended runs' robustness radius, evaluation episodes x steps, and the
training budget per learner (env steps)."""

THESIS_TABLES_DIR = RUNS_DIR / "thesis_generated"
"""The thesis's other generated result tables, byte for byte, with their own card (``README.md``)."""

THESIS_TABLE_CLAIMS: dict[str, Any] = {
    "cost_about_pct": -3.0,
    "first_sweep_mean_pct": -3.37,
    "zone_high_pct": -4.06,
    "zone_low_pct": -5.20,
    "coi_preserved_alpha1": {5: -0.51, 25: -0.48, 50: 0.13, 100: 0.93},
    "ppo_revenue_pct": -5.94,
    "ppo_revenue_wins": 0,
    "ppo_pairs": 16,
    "supra_top_bin_from_step": 800,
    "slope_se_hc1_table": 2_185.13,
    "slope_se_hc1_text": 2_185.22,
}
"""The claims the thesis's other tables carry, as printed (source: ``thesis_tables``): the defence
costs "about 3 %" of revenue (``cost_about_pct``), the first sweep's mean over its five tiers (%);
the final cohort's zone means of the revenue delta for alpha >= 0.7 and < 0.7 (%); defended minus
baseline COI level at alpha = 1 by catalogue size (price units); the PPO benchmark's overall
revenue delta (%) and robust wins out of ``ppo_pairs`` run pairs at every alpha; the first logged
step from which all price mass sits in the top bin of the heat-map; the per-sweep regression's HC1
standard error of the slope as the table prints it and as the text prints it (revenue units per
unit alpha)."""
