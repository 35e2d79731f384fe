"""The "What holds up" page: each conclusion, its status, the evidence, and where it is computed.

A :class:`Finding` is one conclusion, either the thesis's or one of this book's own method-level
findings. Like a reproduction claim (:mod:`phantom_lib.book.reproduction`) it names the values a
chapter glues, shows them with a template, and decides its status with a :class:`Rule` over them, so
a status can never outlive the numbers it rests on:

* ``holds`` when the rule is met;
* ``does not hold`` when it is not;
* ``cannot be tested on the stand-in`` when the finding is about the real data (the rule is not
  applied and the page says why).

:func:`statuses` reads every finding's values from the executed chapters; the page
``book/findings.md`` renders them with :func:`to_markdown`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any

from phantom_lib.book import glued
from phantom_lib.book.reproduction import CHAPTER_TITLES, Rule
from phantom_lib.published import DISTINGUISHABILITY

HOLDS, FAILS, UNTESTABLE = "holds", "does not hold", "cannot be tested on the stand-in"
STATUSES = (HOLDS, FAILS, UNTESTABLE)
ORIGINS = ("thesis", "book")
"""Whose conclusion a finding is: the thesis's, or this book's own (about the method)."""


@dataclass(frozen=True)
class Finding:
    """One conclusion and the evidence that decides it.

    Attributes:
        key: a stable id (lower-case words joined by '-').
        origin: ``"thesis"`` or ``"book"``.
        question: the question of the introduction it answers (short), or ``""``.
        statement: the conclusion in one sentence.
        chapter: the chapter whose glued values decide it (a key of ``CHAPTER_TITLES``).
        glue: the glued names the evidence and the rule read.
        evidence: a ``str.format`` template over ``glue``.
        rule: the rule that decides ``holds`` / ``does not hold``.
        testable: ``False`` for a finding about the real data (status: cannot be tested).
        figure: the label of the chapter figure that shows it, if any.
        depends_on: the modelling or scoring choice the status hangs on, or ``""``.
    """

    key: str
    origin: str
    question: str
    statement: str
    chapter: str
    glue: tuple[str, ...]
    evidence: str
    rule: Rule
    testable: bool = True
    figure: str | None = None
    depends_on: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9-]+", self.key):
            raise ValueError(f"Finding.key {self.key!r}: use lower-case words joined by '-'")
        if self.origin not in ORIGINS:
            raise ValueError(f"Finding {self.key}: origin must be one of {ORIGINS}; got {self.origin!r}")
        if self.chapter not in CHAPTER_TITLES:
            raise ValueError(f"Finding {self.key}: chapter {self.chapter!r} is not one of {sorted(CHAPTER_TITLES)}")
        used = {f.split(".")[0].split("[")[0] for _, f, _, _ in Formatter().parse(self.evidence) if f}
        if not used or not used <= set(self.glue):
            raise ValueError(f"Finding {self.key}: evidence uses {sorted(used)}, which must be among glue {list(self.glue)}")
        if self.figure is not None and not self.figure.startswith("fig-"):
            raise ValueError(f"Finding {self.key}: figure label {self.figure!r} must start with 'fig-'")


@dataclass(frozen=True)
class Status:
    """A finding with its evidence (the formatted values) and its status."""

    finding: Finding
    evidence: str
    status: str


def statuses(chapters_dir: str | Path, findings: Sequence[Finding]) -> list[Status]:
    """Decide every finding from the executed chapters in ``chapters_dir``.

    Raises :class:`~phantom_lib.book.glued.MissingGlue` (or ``FileNotFoundError``) when a chapter
    does not glue a value a finding needs, rather than leave a gap.
    """
    out = []
    for finding in findings:
        values = glued.values(Path(chapters_dir) / f"{finding.chapter}.ipynb", finding.glue)
        status = UNTESTABLE if not finding.testable else HOLDS if finding.rule.test(values) else FAILS
        out.append(Status(finding, finding.evidence.format(**values), status))
    return out


def tally(table: Iterable[Status]) -> dict[str, int]:
    """How many findings hold, do not hold, and cannot be tested (zeros included)."""
    counts = Counter(s.status for s in table)
    return {status: counts.get(status, 0) for status in STATUSES}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(table: Sequence[Status], chapters_doc: str = "/book/chapters") -> str:
    """The findings as a MyST table (status, evidence, the choice it hangs on, where computed),
    followed by each finding's rule in words."""
    lines = ["| Conclusion | Whose | Status | Evidence | Hangs on | Computed in |", "|---|---|---|---|---|---|"]
    for row in table:
        f = row.finding
        where = f"{{doc}}`{CHAPTER_TITLES[f.chapter]} <{chapters_doc}/{f.chapter}>`"
        if f.figure:
            where += f", {{numref}}`{f.figure}`"
        lines.append("| " + " | ".join(_cell(c) for c in (
            f.statement, f.origin, f"**{row.status}**", row.evidence, f.depends_on or "—", where)) + " |")
    lines += ["", "How each status is decided:", ""]
    lines += [f"- {row.finding.statement} Holds if {row.finding.rule.text}"
              + (" (not applied: the finding is about the real data)." if not row.finding.testable else ".")
              for row in table]
    return "\n".join(lines) + "\n"


def _rule(text: str, test: Callable[[Mapping[str, Any]], bool]) -> Rule:
    return Rule(text, test)


PREMIUM = "What happens to the premium a platform earns from what it knows about demand?"
DISTINGUISH = "Can a platform tell agents from humans by how they move through the store?"
DEFEND = "Can a pricing policy defend itself?"
QUESTIONS = (PREMIUM, DISTINGUISH, DEFEND)
"""The introduction's three questions, in its order."""

FINDINGS: tuple[Finding, ...] = (
    Finding("coi-erodes", "thesis", PREMIUM,
            "Independent agent search erodes the Cost of Information to zero: the expected lowest quote falls to the minimum price.",
            "03_coi", ("coi_max_abs_z", "coi_max_rel_closed"),
            "Monte Carlo within {coi_max_abs_z:.2f} standard errors of the closed forms and quadrature; closed form vs "
            "quadrature within {coi_max_rel_closed:.1e}",
            _rule("coi_max_abs_z ≤ 4 and coi_max_rel_closed ≤ 1e-8",
                  lambda v: v["coi_max_abs_z"] <= 4 and v["coi_max_rel_closed"] <= 1e-8),
            figure="fig-coi-erosion"),
    Finding("separable-real", "thesis", DISTINGUISH,
            f"Human and agent trajectories differ in their KL gaps (two-sided Mann–Whitney p < {DISTINGUISHABILITY['p_below']:g} on the real data).",
            "04_distinguish", ("p_loo", "auc_loo"),
            "on the synthetic stand-in: leave-one-out p = {p_loo:.2g}, AUC {auc_loo:.2f}",
            _rule("the real data's test (not applied)", lambda v: True), testable=False,
            depends_on="scoring: leave-one-out or in-sample centroids; the end transition"),
    Finding("in-sample-inflates", "book", DISTINGUISH,
            "Scoring with in-sample centroids (the thesis's) manufactures separation: random labels already score well.",
            "04_distinguish", ("rescore_null_ins", "rescore_null_loo"),
            "mean AUC under random labels: {rescore_null_ins:.3f} in-sample, {rescore_null_loo:.3f} leave-one-out",
            _rule("rescore_null_ins ≥ 0.75 and rescore_null_loo ≤ 0.6",
                  lambda v: v["rescore_null_ins"] >= 0.75 and v["rescore_null_loo"] <= 0.6)),
    Finding("kl-rests-on-floor", "book", DISTINGUISH,
            "The class-level KL divergence rests on the ε floor: moves one class never made dominate it.",
            "04_distinguish", ("class_kl", "class_kl_dirichlet"),
            "{class_kl:.2f} nats with the floor, {class_kl_dirichlet:.2f} under Dirichlet smoothing",
            _rule("class_kl ≥ 5 × class_kl_dirichlet", lambda v: v["class_kl"] >= 5 * v["class_kl_dirichlet"]),
            depends_on="smoothing: the ε floor or additive counts"),
    Finding("end-transition-decides", "book", DISTINGUISH,
            "Whether the leave-one-out test separates the classes on the stand-in hangs on counting each session's move into its end.",
            "08_published", ("p_loo_noend", "p_loo_end"),
            "p = {p_loo_noend:.2g} without the end transition, {p_loo_end:.2g} with it",
            _rule("one side of 0.05 each", lambda v: (v["p_loo_noend"] < 0.05) != (v["p_loo_end"] < 0.05)),
            depends_on="scoring: counting the transition into session_end"),
    Finding("f-weak", "book", DISTINGUISH,
            "The simulator's agent probability f is a weak signal: it never comes near 0 or 1, whatever the share of agents.",
            "05_simulator", ("err_f_at_0", "err_f_at_1"),
            "f = {err_f_at_0:.2f} with no agents, {err_f_at_1:.2f} with agents only",
            _rule("err_f_at_0 ≥ 0.1 and err_f_at_1 ≤ 0.9", lambda v: v["err_f_at_0"] >= 0.1 and v["err_f_at_1"] <= 0.9)),
    Finding("leak-constant", "book", DEFEND,
            "The COI leak is the same for every policy at a given share, so the COI penalty shifts rewards without changing which policy is best.",
            "06_sweep", ("leak_spread", "leak_spread_all_pct"),
            "largest spread of mean leakage across trained policies at one share and seed, on the same market draws: "
            "{leak_spread:.2g} (with the reference policies, evaluated on other draws: {leak_spread_all_pct:.1f} % of the mean)",
            _rule("leak_spread ≤ 1e-9", lambda v: v["leak_spread"] <= 1e-9)),
    Finding("thesis-fall-recomputed", "thesis", DEFEND,
            "On the thesis's own runs, baseline revenue falls roughly linearly in the agent share.",
            "08_published", ("all_slope_pct_of_intercept", "all_r2", "se_ratio_hc1"),
            "slope {all_slope_pct_of_intercept:.1f} % of the intercept, R² {all_r2:.3f}; counting each run once its "
            "standard error is {se_ratio_hc1:.1f} × the published one",
            _rule("slope ≤ −10 % of the intercept and R² ≥ 0.9",
                  lambda v: v["all_slope_pct_of_intercept"] <= -10 and v["all_r2"] >= 0.9),
            figure="fig-published-regression"),
    Finding("fall-is-mass", "book", DEFEND,
            "The thesis's fall in revenue is a fall in proxy mass (shorter agent sessions bring less), not in prices.",
            "08_published", ("mass_slope_pct", "price_slope_pct", "mass_r2"),
            "implied mass {mass_slope_pct:.1f} % of its intercept per unit α (R² {mass_r2:.3f}); implied price {price_slope_pct:+.1f} %",
            _rule("|mass slope| ≥ 10 × |price slope|", lambda v: abs(v["mass_slope_pct"]) >= 10 * abs(v["price_slope_pct"])),
            figure="fig-published-mass"),
    Finding("blind-as-written", "book", DEFEND,
            "In the market as the method is written, revenue is blind to the agent share: learned prices sit where no one has demand and the normalised proxy still sums to 100.",
            "08_published", ("probe_share_slope_pct", "as_written_zero_demand", "as_written_slope_pct"),
            "at a held price: slope {probe_share_slope_pct:+.2f} % of the intercept; re-running the thesis's protocol: "
            "zero true demand in {as_written_zero_demand:.0%} of steps, slope {as_written_slope_pct:+.1f} %",
            _rule("|held-price slope| ≤ 0.1 % and zero demand in ≥ 90 % of steps",
                  lambda v: abs(v["probe_share_slope_pct"]) <= 0.1 and v["as_written_zero_demand"] >= 0.9),
            figure="fig-published-probe", depends_on="the demand proxy (share or mass)"),
    Finding("fall-as-run", "thesis", DEFEND,
            "Baseline revenue falls roughly linearly in the agent share, re-run in the market as the thesis's sweep evidently ran it.",
            "08_published", ("as_run_slope_pct", "as_run_r2"),
            "stand-in: slope {as_run_slope_pct:.1f} % of the intercept, R² {as_run_r2:.3f}",
            _rule("slope ≤ −10 % of the intercept and R² ≥ 0.9",
                  lambda v: v["as_run_slope_pct"] <= -10 and v["as_run_r2"] >= 0.9),
            figure="fig-published-as-run", depends_on="the market: mass proxy and closed-form adversary"),
    Finding("defence-is-shift", "book", DEFEND,
            "The thesis's defence cost is an evaluation shift: a defended policy earns what a baseline earns at α + ε.",
            "08_published", ("shift_ratio", "as_run_shift_ratio"),
            "the shifted baseline predicts the defended revenue {shift_ratio:.1f} × better than the unshifted one on the "
            "thesis's table, {as_run_shift_ratio:.1f} × in the stand-in market as run",
            _rule("shift_ratio ≥ 2 on the thesis's table", lambda v: v["shift_ratio"] >= 2),
            figure="fig-published-shift", depends_on="the adversary: closed form or sampled"),
    Finding("defence-cost-as-written", "thesis", DEFEND,
            "Defending against contamination costs revenue, in the market as the method is written (the book's 192-cell design).",
            "06_sweep", ("revenue_delta_pct", "revenue_delta_pct_lo", "revenue_delta_pct_hi"),
            "stand-in: {revenue_delta_pct:+.2f} % (interval over twin groups {revenue_delta_pct_lo:+.2f} to "
            "{revenue_delta_pct_hi:+.2f} %)",
            _rule("the interval lies below zero", lambda v: v["revenue_delta_pct_hi"] < 0),
            figure="fig-defence-delta", depends_on="averaging: ratio of means or mean of per-pair ratios"),
    Finding("detection-not-revenue", "book", DEFEND,
            "Excluding the sessions a detector flags improves the demand estimate but not revenue, and excludes humans too.",
            "07_detection", ("def_exclude_error_vs_off", "def_exclude_revenue_vs_off", "def_exclude_revenue_vs_off_se",
                             "def_exclude_humans_excluded"),
            "demand error {def_exclude_error_vs_off:+.2f} points; revenue {def_exclude_revenue_vs_off:+.1f} ± "
            "{def_exclude_revenue_vs_off_se:.1f}; {def_exclude_humans_excluded:.1%} of humans excluded",
            _rule("error falls, revenue within 2 standard errors of no change, humans excluded ≥ 5 %",
                  lambda v: v["def_exclude_error_vs_off"] < 0
                  and abs(v["def_exclude_revenue_vs_off"]) <= 2 * v["def_exclude_revenue_vs_off_se"]
                  and v["def_exclude_humans_excluded"] >= 0.05)),
    Finding("responsive-no-cost", "book", DEFEND,
            "Our extension, not the thesis's: when prices above the valuations lose visitors, learned prices fall below "
            "the valuations and the defence costs no detectable revenue.",
            "08_published", ("resp_delta", "resp_delta_lo", "resp_delta_hi", "resp_price", "resp_zero_demand"),
            "stand-in: defended − baseline {resp_delta:+.2f} % (interval over twin groups {resp_delta_lo:+.2f} to "
            "{resp_delta_hi:+.2f} %) at learned prices {resp_price:.1f}, zero true demand in {resp_zero_demand:.0%} of steps",
            _rule("the interval contains 0 and zero demand in ≤ 10 % of steps",
                  lambda v: v["resp_delta_lo"] <= 0 <= v["resp_delta_hi"] and v["resp_zero_demand"] <= 0.1),
            depends_on="the market: fixed or price-responsive visits"),
)
"""The conclusions the "What holds up" page decides, grouped by the introduction's questions."""
