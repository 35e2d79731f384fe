"""The reproduction table: each published PHANTOM claim beside this book's figure.

A :class:`Claim` holds what the thesis published (as published), the names of the values a
chapter must glue to answer it, how to show them, the rule that decides agree/differ, and whether
the claim can be tested here at all (:data:`TESTABILITY`): a claim about the real data, or a count
the stand-in was built to match, is shown with this book's figure but reads "not tested".
:func:`rows` reads the glued values from the executed chapters (never typed numbers) and
fails loudly when a chapter that is no longer pending lacks one. The page
``book/reproduction.md`` renders the rows with :func:`to_markdown`.

Published figures come from :mod:`phantom_lib.published` (each with its source).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any

from phantom_lib.book import glued
from phantom_lib.published import (
    BASELINE_REGRESSION,
    DATA_CARD,
    DEFENCE_REVENUE_DELTA_PCT,
    DISTINGUISHABILITY,
    PROFILE,
    PROFILE_LOOKUP_SHARE_PCT,
    THESIS_TABLE_CLAIMS,
)

AGREE, DIFFER, NOT_TESTED, PENDING = "agree", "differ", "not tested", "pending"
NOT_COMPARABLE = "not comparable"

TESTABLE = "yes"
"""The claim is about the method (a theorem, the model, an engine), not about the data set."""
THESIS_RUNS = "yes, on the thesis's own runs"
"""The book recomputes the claim from the thesis's published run tables (``data/published``)."""
REAL_DATA = "no: needs the real data"
"""The claim is a finding on the real WhoClickedIt file; the stand-in cannot confirm or refute it."""
BY_CONSTRUCTION = "no: the stand-in is built to match"
"""The stand-in was generated to reproduce this figure, so agreement says nothing."""
REIMPLEMENTATION = "partly: against our re-implementation of the original"
"""Measured against this book's reference backend, which mirrors the original engine's hot path,
not against the original engine itself."""
OTHER_QUANTITY = "no: the two figures measure different things"
"""The book's figure is not the quantity the thesis measured (its ``why`` says how they differ): shown
side by side for orientation, never decided."""
TESTABILITY = (TESTABLE, THESIS_RUNS, REAL_DATA, BY_CONSTRUCTION, REIMPLEMENTATION, OTHER_QUANTITY)
"""Whether (and how) a claim can be tested in this book."""
UNTESTED = frozenset({REAL_DATA, BY_CONSTRUCTION})
"""Claims that read "not tested" whatever the figures."""

CHAPTER_TITLES = {
    "01_dataset": "01 Data set",
    "02_mdp": "02 Behaviour kernels",
    "03_coi": "03 Cost of Information",
    "04_distinguish": "04 Distinguishability",
    "05_simulator": "05 Simulator",
    "06_sweep": "06 Factorial study",
    "07_detection": "07 Detection",
    "08_published": "08 Published results, re-derived",
    "09_sales": "09 The question, answered",
}

PENDING_CHAPTERS: frozenset[str] = frozenset()
"""Chapters whose glue contract is not delivered yet: their rows show as pending. Remove a
chapter from this set when it glues the names its claims need; from then on a missing name
fails the book build."""


@dataclass(frozen=True)
class Rule:
    """An agree/differ test over the glued values, with its statement in words.

    ``registered`` is the commit of the pre-registration that fixed the rule before the data it
    decides; ``None`` means the rule was written after the data (the pages say so).
    """

    text: str
    test: Callable[[Mapping[str, Any]], bool] = field(compare=False)
    registered: str | None = None


def within(name: str, published: float, tolerance: float, why: str) -> Rule:
    """Agree when ``|value - published| <= tolerance``; ``why`` says where the tolerance comes from."""
    return Rule(f"|{name} − ({published:g})| ≤ {tolerance:.3g} ({why})",
                lambda v: abs(v[name] - published) <= tolerance)


def within_relative(name: str, published: float, tolerance: float) -> Rule:
    """Agree when ``|value / published - 1| <= tolerance`` (a recomputation from the same data)."""
    return Rule(f"|{name} / ({published:g}) − 1| ≤ {tolerance:g}",
                lambda v: abs(v[name] / published - 1) <= tolerance)


def at_most(name: str, bound: float) -> Rule:
    """Agree when ``value <= bound``."""
    return Rule(f"{name} ≤ {bound:g}", lambda v: v[name] <= bound)


def at_least(name: str, bound: float) -> Rule:
    """Agree when ``value >= bound``."""
    return Rule(f"{name} ≥ {bound:g}", lambda v: v[name] >= bound)


def between(name: str, low: float, high: float) -> Rule:
    """Agree when ``low <= value <= high``."""
    return Rule(f"{low:g} ≤ {name} ≤ {high:g}", lambda v: low <= v[name] <= high)


def equal(name: str, published: float) -> Rule:
    """Agree when the value equals the published one exactly (counts)."""
    return Rule(f"{name} = {published:g}", lambda v: v[name] == published)


def covers(low: str, high: str, published: float) -> Rule:
    """Agree when the published value lies inside this book's interval ``[low, high]``."""
    return Rule(f"{low} ≤ {published:g} ≤ {high}", lambda v: v[low] <= published <= v[high])


def ordered(*names: str) -> Rule:
    """Agree when the values increase strictly in the given order (``0`` may stand for zero)."""
    def test(values: Mapping[str, Any]) -> bool:
        seq = [0.0 if n == "0" else values[n] for n in names]
        return all(a < b for a, b in zip(seq, seq[1:]))
    return Rule(" < ".join(names), test)


def all_of(*rules: Rule) -> Rule:
    """Agree when every rule agrees."""
    return Rule(" and ".join(r.text for r in rules), lambda v: all(r.test(v) for r in rules))


@dataclass(frozen=True)
class Claim:
    """One published claim and the glue contract of the chapter that answers it.

    ``show`` is a ``str.format`` template over the glued names (``"{human_mean_loo:+.2f}"``);
    ``figure`` is the label (myst-nb ``name:``) of the chapter's figure that shows it, if any;
    ``testable`` is one of :data:`TESTABILITY`.
    """

    key: str
    chapter: str
    claim: str
    published: str
    glue: tuple[str, ...]
    show: str
    rule: Rule
    why: str
    figure: str | None = None
    testable: str = TESTABLE

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9-]+", self.key):
            raise ValueError(f"Claim.key {self.key!r}: use lower-case words joined by '-'")
        if self.chapter not in CHAPTER_TITLES:
            raise ValueError(f"Claim {self.key}: chapter {self.chapter!r} is not one of {sorted(CHAPTER_TITLES)}")
        if not self.glue or len(set(self.glue)) != len(self.glue):
            raise ValueError(f"Claim {self.key}: glue must name at least one value, each once")
        used = {f.split(".")[0].split("[")[0] for _, f, _, _ in Formatter().parse(self.show) if f}
        if not used or not used <= set(self.glue):
            raise ValueError(f"Claim {self.key}: show uses {sorted(used)}, which must be among glue {list(self.glue)}")
        if self.testable not in TESTABILITY:
            raise ValueError(f"Claim {self.key}: testable must be one of {TESTABILITY}; got {self.testable!r}")
        if self.figure is not None and not self.figure.startswith("fig-"):
            raise ValueError(f"Claim {self.key}: figure label {self.figure!r} must start with 'fig-'")


_D = DISTINGUISHABILITY
_SE_H = _D["human_std"] / math.sqrt(_D["n_human"])
_SE_A = _D["agent_std"] / math.sqrt(_D["n_agent"])
_K1, _K5 = PROFILE["k1"], PROFILE["k5"]
_SPEEDUP_K1 = _K1["optimised_steps_per_s"] / _K1["steps_per_s"]
_SPEEDUP_K5 = _K5["optimised_steps_per_s"] / _K5["steps_per_s"]
_LOOKUP_LO, _LOOKUP_HI = PROFILE_LOOKUP_SHARE_PCT
_HEADLINE = DEFENCE_REVENUE_DELTA_PCT["mean over alpha in [0, 1]"]
_REG = BASELINE_REGRESSION
_THESIS_RUNS = "The same rows, recomputed: only the arithmetic may differ"
_SLOPE_PCT = 100 * _REG["slope"] / abs(_REG["intercept"])
_FALLS_PCT = -10.0
"""A slope "falls" when it loses at least this share of the intercept (%) per unit α."""
_LINEAR_R2 = 0.9
"""A fall is "roughly linear" when a line explains at least this share of the variance."""
_DELTA_TOL = 2.0
"""A defence cost agrees with the thesis's when within this many points of revenue."""
_AS_WRITTEN = ("The thesis's protocol on the stand-in in the market as the method is written (share proxy, "
               "sampled adversary): the question is blind there (chapter 08)")
_AS_RUN = ("The thesis's protocol on the stand-in in the market as its sweep evidently ran (Model reference, "
           "section 10); the stand-in's kernels set the size")
_STANDIN = "Stand-in data, calibrated to the card's counts, not to these findings"
_LOO = _STANDIN + "; leave-one-out centroids ({ref}`erratum 5 <erratum-leave-one-out>`)"
_SPEED_WHY = ("Not the same ratio: the thesis divides its optimised engine (arrays + JAX) by its original engine on its "
              "machine; the book divides its numpy backend by its re-implementation of the original's hot path on a "
              "shared 2-core machine. Numerator, denominator and machine all differ")
_SWEEP = "Our α grid and training budgets; kernels from the stand-in"


def _inside(low: str, value: str, high: str) -> Rule:
    """Agree when the glued ``value`` lies in the glued interval ``[low, high]``."""
    return Rule(f"{low} ≤ {value} ≤ {high}", lambda v: v[low] <= v[value] <= v[high])


def _all_cells(count: str, cells: str) -> Rule:
    """Agree when the glued ``count`` equals the glued number of ``cells`` (every cell)."""
    return Rule(f"{count} = {cells}", lambda v: v[count] == v[cells])


_TT = THESIS_TABLE_CLAIMS
_TABLES = "The thesis's own generated tables, re-analysed with their counts and standard deviations; {}"


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def _protocol_claims(market: str, what: str, reason: str) -> tuple[Claim, Claim]:
    """The thesis's two headline claims checked on its protocol re-run in one market (chapter 08's
    glues ``{market}_slope_pct``, ``{market}_r2`` and ``{market}_delta_mean``)."""
    slope, r2, delta = f"{market}_slope_pct", f"{market}_r2", f"{market}_delta_mean"
    key = market.replace("_", "-")
    return (
        Claim(f"baseline-fall-{key}", "08_published", f"Baseline revenue falls roughly linearly in α: {what}",
              f"{_SLOPE_PCT:.1f} % of the intercept per unit α, R² {_REG['r2']:g}", (slope, r2),
              f"{{{slope}:+.1f}} %, R² {{{r2}:.3f}}",
              all_of(at_most(slope, _FALLS_PCT), at_least(r2, _LINEAR_R2)), reason, figure="fig-published-as-run"),
        Claim(f"defence-cost-{key}", "08_published", f"Defended minus baseline revenue, mean over α: {what}",
              f"{_signed(_HEADLINE)} %", (delta,), f"{{{delta}:+.2f}} %",
              within(delta, _HEADLINE, _DELTA_TOL, "points of revenue"), reason, figure="fig-published-as-run"),
    )


CLAIMS: tuple[Claim, ...] = (
    Claim("data-shape", "01_dataset", "Rows × columns of the released file",
          f"{DATA_CARD['rows']:,} × {DATA_CARD['columns']}", ("ds_rows", "ds_columns"), "{ds_rows:,} × {ds_columns}",
          all_of(equal("ds_rows", DATA_CARD["rows"]), equal("ds_columns", DATA_CARD["columns"])),
          "The stand-in is built to these counts; on the real file this checks the loader",
          testable=BY_CONSTRUCTION),
    Claim("data-interactions", "01_dataset", "Interaction events, agent / human",
          f"{DATA_CARD['agent/interaction']} / {DATA_CARD['human/interaction']}", ("ds_inter_agent", "ds_inter_human"),
          "{ds_inter_agent} / {ds_inter_human}",
          all_of(equal("ds_inter_agent", DATA_CARD["agent/interaction"]), equal("ds_inter_human", DATA_CARD["human/interaction"])),
          "As above", testable=BY_CONSTRUCTION),
    Claim("data-trajectories", "01_dataset", "Trajectories (experiments), human / agent",
          f"{DATA_CARD['experiments/human']} / {DATA_CARD['experiments/agent']}", ("ds_exp_human", "ds_exp_agent"),
          "{ds_exp_human} / {ds_exp_agent}",
          all_of(equal("ds_exp_human", DATA_CARD["experiments/human"]), equal("ds_exp_agent", DATA_CARD["experiments/agent"])),
          "As above", testable=BY_CONSTRUCTION),
    Claim("kl-class", "02_mdp", "Mean human-vs-agent KL over shared source events",
          f"≈ {_D['class_kl']:g}", ("kl_ha_event", "kl_ha_event_dirichlet"),
          "{kl_ha_event:.2f} (the floor ε = 1e-10); {kl_ha_event_dirichlet:.2f} under Dirichlet smoothing",
          within("kl_ha_event", _D["class_kl"], 0.1 * _D["class_kl"], "10 % of the published value"),
          "The stand-in's kernels are designed, not fitted to the real file; the floored value rests on moves "
          "one class never made (chapter 02)",
          figure="fig-kernel-kl", testable=REAL_DATA),
    Claim("coi-erosion", "03_coi", "COI erodes to zero under independent search; uniform E[min] = a + (b − a)/(n + 1)",
          "theorem", ("coi_max_abs_z", "coi_max_rel_closed"),
          "Monte Carlo within {coi_max_abs_z:.2f} SE, closed form vs quadrature within {coi_max_rel_closed:.1e}",
          all_of(at_most("coi_max_abs_z", 4), at_most("coi_max_rel_closed", 1e-8)),
          "A theorem: only numerical error may differ",
          figure="fig-coi-erosion"),
    Claim("gap-human", "04_distinguish", "Gap Δ_H − Δ_A of human trajectories, mean ± std",
          f"{_signed(_D['human_mean'])} ± {_D['human_std']:.2f} (n = {_D['n_human']})",
          ("human_mean_loo", "human_std_loo", "n_human_loo"),
          "{human_mean_loo:+.2f} ± {human_std_loo:.2f} (n = {n_human_loo})",
          within("human_mean_loo", _D["human_mean"], 2 * _SE_H, "two published standard errors"),
          _LOO, figure="fig-distinguish-gaps", testable=REAL_DATA),
    Claim("gap-agent", "04_distinguish", "Gap Δ_H − Δ_A of agent trajectories, mean ± std",
          f"{_signed(_D['agent_mean'])} ± {_D['agent_std']:.2f} (n = {_D['n_agent']})",
          ("agent_mean_loo", "agent_std_loo", "n_agent_loo"),
          "{agent_mean_loo:+.2f} ± {agent_std_loo:.2f} (n = {n_agent_loo})",
          within("agent_mean_loo", _D["agent_mean"], 2 * _SE_A, "two published standard errors"),
          _LOO, figure="fig-distinguish-gaps", testable=REAL_DATA),
    Claim("gap-direction", "04_distinguish", "Humans score human-like, agents agent-like",
          "human < 0 < agent", ("human_mean_loo", "agent_mean_loo"),
          "{human_mean_loo:+.2f} < 0 < {agent_mean_loo:+.2f}",
          ordered("human_mean_loo", "0", "agent_mean_loo"),
          "Should hold on any data the method separates", figure="fig-distinguish-gaps", testable=REAL_DATA),
    Claim("mann-whitney", "04_distinguish", "Two-sided Mann–Whitney U test, human vs agent gaps",
          f"p < {_D['p_below']:g}", ("u_loo", "p_loo"), "U = {u_loo:g}, p = {p_loo:.2g}", at_most("p_loo", _D["p_below"]),
          _LOO, testable=REAL_DATA),
    Claim("profile-hot-path", "05_simulator", "Share of the original engine's step time in per-state pandas lookups",
          f"{_LOOKUP_LO:g}–{_LOOKUP_HI:g} %", ("ref_lookup_share_pct",), "{ref_lookup_share_pct:.0f} %",
          between("ref_lookup_share_pct", _LOOKUP_LO - 5, _LOOKUP_HI + 5),
          "Our reference backend mirrors that hot path; library versions differ",
          figure="fig-profile", testable=REIMPLEMENTATION),
    Claim("speedup-k1", "05_simulator",
          f"Speed-up of arrays + JAX over the original, K = 1 ({_K1['steps_per_s']:g} → {_K1['optimised_steps_per_s']:g} steps/s); "
          "ours: the numpy backend over our reference backend, side by side",
          f"{_SPEEDUP_K1:.1f}×", ("speedup_k1",), "{speedup_k1:.0f}×", at_least("speedup_k1", round(_SPEEDUP_K1, 1)),
          _SPEED_WHY, figure="fig-speedup", testable=OTHER_QUANTITY),
    Claim("speedup-k5", "05_simulator",
          f"The same at K = 5, ε = {_K5['eps_alpha']:g} ({_K5['steps_per_s']:g} → {_K5['optimised_steps_per_s']:g} steps/s)",
          f"{_SPEEDUP_K5:.0f}×", ("speedup_k5",), "{speedup_k5:.0f}×", at_least("speedup_k5", round(_SPEEDUP_K5)),
          _SPEED_WHY, figure="fig-speedup", testable=OTHER_QUANTITY),
    Claim("thesis-regression", "08_published", "OLS of baseline revenue on α over the thesis's 95 runs: intercept, slope, R²",
          f"{_REG['intercept']:,.0f}; {_REG['slope']:,.0f}; {_REG['r2']:g}", ("all_intercept", "all_slope", "all_r2"),
          "{all_intercept:,.0f}; {all_slope:,.0f}; {all_r2:.3f}",
          all_of(within_relative("all_intercept", _REG["intercept"], 1e-6), within_relative("all_slope", _REG["slope"], 1e-6),
                 within("all_r2", _REG["r2"], 5e-4, "the published precision")),
          _THESIS_RUNS, figure="fig-published-regression", testable=THESIS_RUNS),
    Claim("thesis-slope-se", "08_published", "Heteroskedasticity-robust (HC1) standard error of that slope",
          f"{_REG['slope_se_hc1']:,.0f}", ("all_se_hc1", "all_se_cluster"),
          "{all_se_hc1:,.0f} (clustered by independent run: {all_se_cluster:,.0f})",
          within("all_se_hc1", _REG["slope_se_hc1"], 0.5, "the published precision"),
          "The same rows; rows that repeat one run are not independent, so the clustered error is the honest one",
          testable=THESIS_RUNS),
    Claim("thesis-defence-delta", "08_published", "Defended minus baseline revenue, mean over the thesis's per-α table",
          f"{_signed(_HEADLINE)} %", ("delta_mean",), "{delta_mean:+.2f} %",
          within("delta_mean", _HEADLINE, 0.005, "the published precision"),
          _THESIS_RUNS, testable=THESIS_RUNS),
    Claim("thesis-cost-about-3", "08_published",
          "The defence costs about 3 % of revenue: the first sweep's five tiers, 95 % interval from their counts and SDs",
          f"about {_signed(_TT['cost_about_pct'])} % (first sweep {_signed(_TT['first_sweep_mean_pct'])} %)",
          ("tt_first_ratio", "tt_first_ratio_low", "tt_first_ratio_high", "tt_first_pred", "tt_final_pred",
           "tt_status_cost", "tt_status_cost_final", "as_run_delta_mean"),
          "{tt_first_ratio:+.2f} % [{tt_first_ratio_low:+.2f}, {tt_first_ratio_high:+.2f}], {tt_status_cost}; the shift "
          "predicts {tt_first_pred:+.2f} % (first sweep) and {tt_final_pred:+.2f} % (final cohort: {tt_status_cost_final}); "
          "book, market as run: {as_run_delta_mean:+.2f} %",
          all_of(covers("tt_first_ratio_low", "tt_first_ratio_high", _TT["cost_about_pct"]), at_most("tt_first_ratio_high", 0)),
          _TABLES.format("the cost must be distinguishable from zero"), figure="fig-published-other-costs", testable=THESIS_RUNS),
    Claim("thesis-gap-narrows", "08_published", "The revenue gap narrows at high contamination (α ≥ 0.7 against below)",
          f"{_signed(_TT['zone_high_pct'])} % against {_signed(_TT['zone_low_pct'])} %",
          ("tt_zone_diff", "tt_zone_low", "tt_zone_high", "tt_zone_res_diff", "tt_status_zone", "tt_zone_book_diff"),
          "narrowing {tt_zone_diff:+.2f} points [{tt_zone_low:+.2f}, {tt_zone_high:+.2f}] over cells, "
          "{tt_zone_res_diff:+.2f} against the shifted baseline: {tt_status_zone}; book, as run: {tt_zone_book_diff:+.2f}",
          at_least("tt_zone_low", 0), _TABLES.format("the per-α table gives no SDs, so the noise is the cells' scatter"),
          figure="fig-published-shift", testable=THESIS_RUNS),
    Claim("thesis-catalogue-coi", "08_published", "Larger catalogues preserve the COI at high contamination",
          "α = 1: " + ", ".join(f"{_signed(v)} ({k})" for k, v in _TT["coi_preserved_alpha1"].items()),
          ("tt_cat_high_slope", "tt_cat_high_low", "tt_cat_high_high", "tt_cat_one_slope", "tt_cat_sigma", "tt_status_catalogue"),
          "slope on log10(size), α ≥ 0.7: {tt_cat_high_slope:+.2f} [{tt_cat_high_low:+.2f}, {tt_cat_high_high:+.2f}]; "
          "α = 1 alone {tt_cat_one_slope:+.2f} (per-run SD {tt_cat_sigma:.2f}): {tt_status_catalogue}; book: not run",
          at_least("tt_cat_high_low", 0), _TABLES.format("the grid gives no SDs; a book sweep over catalogue sizes was not run"),
          figure="fig-published-coi-grid", testable=THESIS_RUNS),
    Claim("thesis-leakage", "08_published", "Robust training lowers COI leakage at every α (PPO benchmark and final cohort)",
          "lower at every α", ("tt_leak_negative", "tt_leak_cells", "tt_leak_low", "tt_leak_high", "tt_leak_final_negative", "tt_leak_final_cells",
                              "tt_status_leak", "tt_book_leak_lower", "tt_book_leak_cells"),
          "PPO {tt_leak_negative} of {tt_leak_cells} α lower, pooled [{tt_leak_low:+.4f}, {tt_leak_high:+.4f}]; final cohort "
          "{tt_leak_final_negative} of {tt_leak_final_cells}: {tt_status_leak}; book, as run: {tt_book_leak_lower} of {tt_book_leak_cells}",
          all_of(_all_cells("tt_leak_negative", "tt_leak_cells"), at_most("tt_leak_high", 0)),
          _TABLES.format("the sign follows the baseline's slope in α under the shift"), testable=THESIS_RUNS),
    Claim("thesis-ppo-pairs", "08_published", "PPO benchmark: robust loses revenue in every run pair at every α",
          f"{_TT['ppo_revenue_wins']} of {_TT['ppo_pairs']} pairs won at every α; {_signed(_TT['ppo_revenue_pct'])} % overall",
          ("tt_ppo_wins_total", "tt_ppo_ci_high_max", "tt_ppo_overall", "tt_ppo_pred", "tt_status_pairs", "tt_book_wins", "tt_book_pairs"),
          "{tt_ppo_wins_total} wins; highest Welch upper end {tt_ppo_ci_high_max:+.0f}; {tt_ppo_overall:+.2f} % (shift predicts "
          "{tt_ppo_pred:+.2f} %): {tt_status_pairs}; book, as run: {tt_book_wins} of {tt_book_pairs} pairs won",
          all_of(equal("tt_ppo_wins_total", _TT["ppo_revenue_wins"]), at_most("tt_ppo_ci_high_max", 0),
                 within("tt_ppo_overall", _TT["ppo_revenue_pct"], 0.005, "the printed precision")),
          _TABLES.format("four runs a side"), figure="fig-published-other-costs", testable=THESIS_RUNS),
    Claim("thesis-supra", "08_published", "The early baseline agent pushes prices to the cap (the price heat-map)",
          f"all mass in the top bin from step {_TT['supra_top_bin_from_step']}",
          ("tt_supra_step", "tt_supra_top_low", "tt_status_supra", "as_written_price"),
          "from step {tt_supra_step:.0f} (top bin from {tt_supra_top_low:.1f}): {tt_status_supra}; book, as written: "
          "learned prices {as_written_price:.1f} on average",
          equal("tt_supra_step", _TT["supra_top_bin_from_step"]),
          "The heat-map redrawn from its raw W&B histograms", figure="fig-published-supra", testable=THESIS_RUNS),
    Claim("thesis-se-text", "08_published", "HC1 standard error of the per-sweep slope as the results text prints it",
          f"{_TT['slope_se_hc1_text']:,.2f} (table {_TT['slope_se_hc1_table']:,.2f})", ("tt_se_recomputed", "tt_status_se"),
          "{tt_se_recomputed:,.2f} ({tt_status_se})",
          within("tt_se_recomputed", _TT["slope_se_hc1_text"], 0.005, "the printed precision"),
          _THESIS_RUNS, testable=THESIS_RUNS),
    *_protocol_claims("as_written", "the thesis's protocol in the market as written", _AS_WRITTEN),
    *_protocol_claims("as_run", "the same in the market as the thesis's sweep evidently ran it (mass proxy, "
                      "closed-form adversary)", _AS_RUN),
    Claim("defence-revenue", "06_sweep", "Defended minus baseline revenue, mean over α (the book's 192-cell design, market as written)",
          f"{_signed(_HEADLINE)} %", ("revenue_delta_pct", "revenue_delta_pct_lo", "revenue_delta_pct_hi"),
          "{revenue_delta_pct:+.2f} % [{revenue_delta_pct_lo:+.2f}, {revenue_delta_pct_hi:+.2f}]",
          covers("revenue_delta_pct_lo", "revenue_delta_pct_hi", _HEADLINE),
          _SWEEP, figure="fig-defence-delta"),
    Claim("baseline-slope", "06_sweep", "Baseline revenue falls roughly linearly in α (the book's 192-cell design, market as written)",
          f"{_SLOPE_PCT:.1f} % of the intercept per unit α", ("baseline_revenue_slope", "baseline_revenue_slope_hi"),
          "slope {baseline_revenue_slope:+.3g}, upper CI {baseline_revenue_slope_hi:+.3g}",
          at_most("baseline_revenue_slope_hi", 0),
          _SWEEP, figure="fig-revenue-alpha"),
)


def contract(claims: Iterable[Claim] = CLAIMS) -> dict[str, list[str]]:
    """The glue names each chapter must provide, ``{chapter: [names]}`` in claim order."""
    names: dict[str, list[str]] = {}
    for claim in claims:
        names.setdefault(claim.chapter, [])
        names[claim.chapter] += [n for n in claim.glue if n not in names[claim.chapter]]
    return names


@dataclass(frozen=True)
class Row:
    """One line of the reproduction table."""

    claim: Claim
    book: str
    verdict: str


def rows(chapters_dir: str | Path, claims: Sequence[Claim] = CLAIMS,
         pending: Iterable[str] = PENDING_CHAPTERS) -> list[Row]:
    """Evaluate every claim against the executed chapters in ``chapters_dir``.

    A claim of a chapter in ``pending`` becomes a pending row. Any other claim reads its
    glued values with :func:`phantom_lib.book.glued.values`, which raises
    :class:`~phantom_lib.book.glued.MissingGlue` (or ``FileNotFoundError``) rather than leave a gap.
    """
    chapters_dir = Path(chapters_dir)
    pending = set(pending)
    unknown = pending - set(CHAPTER_TITLES)
    if unknown:
        raise ValueError(f"pending names unknown chapters {sorted(unknown)}")
    out = []
    for claim in claims:
        if claim.chapter in pending:
            out.append(Row(claim, "—", PENDING))
            continue
        values = glued.values(chapters_dir / f"{claim.chapter}.ipynb", claim.glue)
        verdict = (NOT_TESTED if claim.testable in UNTESTED else NOT_COMPARABLE if claim.testable == OTHER_QUANTITY
                   else AGREE if claim.rule.test(values) else DIFFER)
        out.append(Row(claim, claim.show.format(**values), verdict))
    return out


def summary(table: Iterable[Row]) -> dict[str, int]:
    """How many rows agree, differ, are not tested, are not comparable and are pending (every verdict, zeros
    included)."""
    counts = Counter(row.verdict for row in table)
    return {verdict: counts.get(verdict, 0) for verdict in (AGREE, DIFFER, NOT_TESTED, NOT_COMPARABLE, PENDING)}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_NOT_APPLIED = {NOT_TESTED: " (not applied: this claim cannot be tested here).",
                NOT_COMPARABLE: " (not applied: the two figures measure different things)."}


def to_markdown(table: Sequence[Row], chapters_doc: str = "/book/chapters") -> str:
    """The rows as a MyST table with links to each claim's chapter and figure, followed by the
    agreement rule of every row.

    Render it as MyST (myst-nb cell option ``markdown_format: myst``) so the strict build
    checks every link: a chapter or figure label that does not exist fails the build.
    """
    lines = [
        "| Published claim | Published | This book | Testable here? | Verdict | Why they may differ | Computed in |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table:
        claim = row.claim
        where = f"{{doc}}`{CHAPTER_TITLES[claim.chapter]} <{chapters_doc}/{claim.chapter}>`"
        if claim.figure and row.verdict != PENDING:
            where += f", {{ref}}`figure <{claim.figure}>`"
        lines.append("| " + " | ".join(_cell(c) for c in (
            claim.claim, claim.published, row.book, claim.testable, f"**{row.verdict}**", claim.why, where)) + " |")
    lines += ["", "Agreement rules, row by row:", ""]
    lines += [f"- {row.claim.claim}: agree if {row.claim.rule.text}"
              + _NOT_APPLIED.get(row.verdict, ".") for row in table]
    return "\n".join(lines) + "\n"
