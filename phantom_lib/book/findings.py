"""The "What holds up" page: each conclusion, what was shown, the evidence, and where it is computed.

A :class:`Finding` names the values a chapter glues, shows them with a template, and decides its
status with a rule over them, so a status can never outlive the numbers it rests on. There are two
kinds, listed apart on the page:

* **evidence**: a test that could have come out the other way (each says how, in ``could_fail``).
  The thesis's claims read :data:`REPRODUCED`, :data:`NOT_REPRODUCED`, *an artefact of* a named
  choice (the claim holds only under that choice, :class:`Artefact`), :data:`INCONCLUSIVE` or
  :data:`UNTESTABLE` (about the real data). The book's own findings read :data:`HOLDS` /
  :data:`FAILS`, or for a claim of no effect the verdict of an equivalence test (two one-sided
  tests against a declared :class:`~phantom_lib.study.analysis.equivalence.Margin`, a
  :class:`NullRule`): "equivalent within ±m", "not equivalent", "inconclusive".
* **checks**: identities, properties true by construction and recomputations. They guard the code
  (:data:`CHECKED` / :data:`CHECK_FAILS`) and are never counted as findings.

Every rule says whether it was fixed before the data (``registered``, a pre-registration commit) or
written after it (``None``); the page flags the latter. :func:`statuses` reads the glued values;
:func:`decide` is the pure decision a test can drive at each rule's boundary.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any

from phantom_lib.behaviour import FLOOR_DOMINATES
from phantom_lib.book import glued
from phantom_lib.book.reproduction import CHAPTER_TITLES, Rule
from phantom_lib.published import (
    BASELINE_REGRESSION,
    DEFENCE_REVENUE_DELTA_PCT,
    DISTINGUISHABILITY,
)
from phantom_lib.study.analysis import equivalence as eq

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
UNTESTABLE = "cannot be tested on the stand-in"
HOLDS, FAILS = "holds", "does not hold"
CHECKED, CHECK_FAILS = "checked", "check fails"
EVIDENCE, CHECK = "evidence", "check"
ORIGINS = ("thesis", "book")
"""Whose conclusion a finding is: the thesis's, or this book's own (about the method)."""


def artefact_of(choice: str) -> str:
    """The status of a thesis claim that holds only under ``choice``."""
    return f"an artefact of {choice}"


@dataclass(frozen=True)
class NullRule:
    """A claim of no effect, decided by an equivalence test against a declared margin.

    ``verdict`` maps the glued values to :data:`~phantom_lib.study.analysis.equivalence.EQUIVALENT`,
    ``NOT_EQUIVALENT`` or ``INCONCLUSIVE``; ``text`` says what is tested.
    """

    text: str
    verdict: Callable[[Mapping[str, Any]], str]
    margin: eq.Margin
    registered: str | None = None

    def words(self, values: Mapping[str, Any]) -> str:
        """The verdict as the page writes it."""
        verdict = self.verdict(values)
        return f"{eq.EQUIVALENT} within {self.margin}" if verdict == eq.EQUIVALENT else verdict


def equivalent_interval(low: str, high: str, margin: eq.Margin) -> NullRule:
    """Equivalence from a glued 90 % interval ``[low, high]`` (TOST at 5 %, ``eq.tost_interval``)."""
    return NullRule(f"the 90 % interval [{low}, {high}] lies inside {margin} (two one-sided tests at 5 %)",
                    lambda v: eq.tost_interval(v[low], v[high], margin.value), margin)


def equivalent_mean(estimate: str, se: str, n: str, scale: str, margin: eq.Margin) -> NullRule:
    """Equivalence of a mean difference ``estimate`` (standard error ``se`` over ``n`` draws, t with
    ``n - 1`` df) within ``margin`` per cent of ``|scale|`` (TOST at 5 %, ``eq.tost``)."""
    def verdict(v: Mapping[str, Any]) -> str:
        return eq.tost(v[estimate], v[se], margin.value / 100 * abs(v[scale]), df=v[n] - 1).verdict
    return NullRule(f"{estimate} ± t·{se} ({n} − 1 df) lies inside {margin} of {scale} (two one-sided tests at 5 %)",
                    verdict, margin)


@dataclass(frozen=True)
class Artefact:
    """The named choice under which a thesis claim that fails as the method is written holds."""

    choice: str
    chapter: str
    glue: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True)
class Finding:
    """One conclusion and the evidence that decides it.

    Attributes:
        key: a stable id (lower-case words joined by '-').
        origin: ``"thesis"`` or ``"book"``.
        question: the question of the introduction it answers (short), or ``""``.
        statement: the conclusion in one sentence (no typed numbers: the prose check reads it).
        chapter: the chapter whose glued values decide it (a key of ``CHAPTER_TITLES``).
        glue: the glued names the evidence and the rule read.
        evidence: a ``str.format`` template over ``glue`` (and the artefact's glue).
        rule: the rule; for evidence of an effect it decides holds / reproduced, for a :class:`NullRule`
            finding it holds the side conditions (``None``: none).
        kind: :data:`EVIDENCE` or :data:`CHECK`.
        could_fail: for evidence, how the test could have come out the other way; for a check,
            why it is one (identity, by construction, recomputation).
        null: the equivalence test of a claim of no effect (or of the absence of a thesis's effect).
        artefact: for a thesis claim, the choice under which it holds when it fails as written.
        published: the thesis's figure for its claims (shown beside the book's), or ``""``.
        why: one line on why the status comes out as it does (the introduction's box shows it).
        testable: ``False`` for a finding about the real data (status: cannot be tested).
        figure: the label of the chapter figure that shows it, if any.
        depends_on: the modelling or scoring choice the status hangs on, or ``""``.
        headline: a short ``str.format`` template of the book's number for the introduction's table
            (``""``: the introduction shows ``evidence``).
    """

    key: str
    origin: str
    question: str
    statement: str
    chapter: str
    glue: tuple[str, ...]
    evidence: str
    rule: Rule | None
    kind: str = EVIDENCE
    could_fail: str = ""
    null: NullRule | None = None
    artefact: Artefact | None = None
    published: str = ""
    why: str = ""
    testable: bool = True
    figure: str | None = None
    depends_on: str = ""
    headline: str = ""

    def __post_init__(self) -> None:
        name = f"Finding {self.key}"
        if not re.fullmatch(r"[a-z0-9-]+", self.key):
            raise ValueError(f"Finding.key {self.key!r}: use lower-case words joined by '-'")
        if self.origin not in ORIGINS:
            raise ValueError(f"{name}: origin must be one of {ORIGINS}; got {self.origin!r}")
        if self.kind not in (EVIDENCE, CHECK):
            raise ValueError(f"{name}: kind must be {EVIDENCE!r} or {CHECK!r}; got {self.kind!r}")
        for chapter in (self.chapter, self.artefact.chapter if self.artefact else self.chapter):
            if chapter not in CHAPTER_TITLES:
                raise ValueError(f"{name}: chapter {chapter!r} is not one of {sorted(CHAPTER_TITLES)}")
        for field_name, template in (("evidence", self.evidence), ("headline", self.headline)):
            used = {f.split(".")[0].split("[")[0] for _, f, _, _ in Formatter().parse(template) if f}
            if (template or field_name == "evidence") and (not used or not used <= set(self.names)):
                raise ValueError(f"{name}: {field_name} uses {sorted(used)}, which must be among glue {list(self.names)}")
        if self.testable and not self.could_fail.strip():
            raise ValueError(f"{name}: could_fail must say how the test could have failed (or why it is a check)")
        if self.rule is None and self.null is None:
            raise ValueError(f"{name}: give a rule, a null rule or both")
        if (self.artefact or self.null) and self.kind == CHECK:
            raise ValueError(f"{name}: a check has one rule, no null rule or artefact")
        if self.figure is not None and not self.figure.startswith("fig-"):
            raise ValueError(f"{name}: figure label {self.figure!r} must start with 'fig-'")

    @property
    def names(self) -> tuple[str, ...]:
        """Every glued name the finding reads (its own and its artefact's)."""
        return self.glue + (self.artefact.glue if self.artefact else ())

    @property
    def rules(self) -> tuple[Rule | NullRule, ...]:
        """Every rule that decides the status, in the order :func:`decide` applies them."""
        extra = (self.artefact.rule,) if self.artefact else ()
        return tuple(r for r in (self.rule, self.null) if r is not None) + extra


def decide(finding: Finding, values: Mapping[str, Any]) -> str:
    """The status of ``finding`` given every value it reads (see the module doc)."""
    if not finding.testable:
        return UNTESTABLE
    if finding.kind == CHECK:
        return CHECKED if finding.rule.test(values) else CHECK_FAILS
    if finding.origin == "book":
        if finding.rule is not None and not finding.rule.test(values):
            return FAILS
        return finding.null.words(values) if finding.null else HOLDS
    if finding.rule is not None and finding.rule.test(values):
        return REPRODUCED
    null = finding.null.verdict(values) if finding.null else None
    if null == eq.INCONCLUSIVE:
        return INCONCLUSIVE
    if finding.artefact and finding.artefact.rule.test(values):
        return artefact_of(finding.artefact.choice)
    return f"{NOT_REPRODUCED}: {finding.null.words(values)}" if null == eq.EQUIVALENT else NOT_REPRODUCED


@dataclass(frozen=True)
class Status:
    """A finding with its evidence (the formatted values), its status and its short ``headline`` form
    (``""`` when the finding gives none)."""

    finding: Finding
    evidence: str
    status: str
    headline: str = ""


def statuses(chapters_dir: str | Path, findings: Sequence[Finding]) -> list[Status]:
    """Decide every finding from the executed chapters in ``chapters_dir``.

    Raises :class:`~phantom_lib.book.glued.MissingGlue` (or ``FileNotFoundError``) when a chapter
    does not glue a value a finding needs, rather than leave a gap.
    """
    out = []
    for finding in findings:
        values = glued.values(Path(chapters_dir) / f"{finding.chapter}.ipynb", finding.glue)
        if finding.artefact:
            values |= glued.values(Path(chapters_dir) / f"{finding.artefact.chapter}.ipynb", finding.artefact.glue)
        out.append(Status(finding, finding.evidence.format(**values), decide(finding, values),
                          finding.headline.format(**values)))
    return out


def tally(table: Iterable[Status]) -> dict[str, int]:
    """Evidence by status (in order of first appearance) and, apart, the checks that pass and fail."""
    rows = list(table)
    counts = Counter(s.status for s in rows if s.finding.kind == EVIDENCE)
    checks = Counter(s.status for s in rows if s.finding.kind == CHECK)
    return {**counts, CHECKED: checks.get(CHECKED, 0), CHECK_FAILS: checks.get(CHECK_FAILS, 0)}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _when(rule: Rule | NullRule) -> str:
    return f"fixed before the data (pre-registered in {rule.registered})" if rule.registered else \
        "**written after the data**"


def _rules_in_words(row: Status) -> list[str]:
    f = row.finding
    lines = []
    if f.rule is not None:
        verb = "Checked if" if f.kind == CHECK else "Holds if" if f.origin == "book" else "Reproduced if"
        lines.append(f"{verb} {f.rule.text}; {_when(f.rule)}.")
    if f.null is not None:
        lines.append(f"Equivalence: {f.null.text}, margin {f.null.margin} because {f.null.margin.reason}; "
                     f"{_when(f.null)}.")
    if f.artefact is not None:
        lines.append(f"Otherwise an artefact of {f.artefact.choice} if {f.artefact.rule.text}; "
                     f"{_when(f.artefact.rule)}.")
    how = "It could have failed: " if f.kind == EVIDENCE else "A check because "
    return lines + ([how + f.could_fail] if f.could_fail else [])


def to_markdown(table: Sequence[Status], chapters_doc: str = "/book/chapters") -> str:
    """The rows as a MyST table (status, the thesis's figure, the book's evidence, the choice it hangs
    on, where computed), followed by each row's rules in words, when each was fixed, and how the test
    could have failed (or why it is a check)."""
    lines = ["| Conclusion | Whose | Status | Thesis | This book | Hangs on | Computed in |",
             "|---|---|---|---|---|---|---|"]
    for row in table:
        f = row.finding
        where = f"{{doc}}`{CHAPTER_TITLES[f.chapter]} <{chapters_doc}/{f.chapter}>`"
        if f.figure:
            where += f", {{numref}}`{f.figure}`"
        lines.append("| " + " | ".join(_cell(c) for c in (
            f.statement, f.origin, f"**{row.status}**", f.published or "—", row.evidence, f.depends_on or "—",
            where)) + " |")
    lines += ["", "How each status is decided:", ""]
    for row in table:
        rules = " ".join(_rules_in_words(row))
        lines.append(f"- *{row.finding.statement}* " + (rules if row.finding.testable else
                                                         "Not applied: the finding is about the real data."))
    return "\n".join(lines) + "\n"


def after_the_data(findings: Iterable[Finding]) -> list[str]:
    """The keys of findings with at least one rule written after the data (no pre-registration)."""
    return [f.key for f in findings if f.testable and any(r.registered is None for r in f.rules)]


# ---- thresholds and margins, each with its reason (all written after the data: see the page) ----

ZERO_DEMAND_MAJORITY = 0.5
"""Prices "sit where no one has demand" when true demand is zero in more than half of the steps: a
majority of what the learners are paid for then comes from the proxy's normalisation, not from
demand. The earlier rule (90 %) sat just under the observed value; this one follows from the words."""

MC_SE = 4.0
"""A Monte Carlo mean agrees with its closed form within this many standard errors: over a few dozen
comparisons a correct formula exceeds 4 SE with probability about 0.002 (two-sided normal tail 6e-5 each)."""

DEFENCE_MARGIN = eq.Margin(
    1.0, "% of revenue",
    f"the thesis reports a cost of {abs(DEFENCE_REVENUE_DELTA_PCT['mean over alpha in [0, 1]']):.2f} % of "
    "revenue; one point, about a fifth of that, is the largest difference still called 'no cost': "
    "equivalence within it rules out a cost of the size the thesis reports")
"""The margin of every 'the defence costs no revenue' claim (chapter 06's contrast, chapter 08's extension)."""

DETECTION_MARGIN = eq.Margin(
    1.0, "% of the undefended revenue",
    "the same one point of revenue as the defence's margin, for the same question (does a defence cost revenue)")

_FALLS_PCT, _LINEAR_R2 = -10.0, 0.9
"""A slope "falls" when it loses at least 10 % of the intercept per unit α; a fall is "roughly linear"
when a line explains at least 90 % of the variance (the same rules as the reproduction table)."""
_DELTA_TOL = 2.0
"""A defence cost matches the thesis's when within this many points of revenue (as the reproduction table)."""
_HEADLINE = DEFENCE_REVENUE_DELTA_PCT["mean over alpha in [0, 1]"]
_SLOPE_PCT = 100 * BASELINE_REGRESSION["slope"] / abs(BASELINE_REGRESSION["intercept"])


def _rule(text: str, test: Callable[[Mapping[str, Any]], bool]) -> Rule:
    return Rule(text, test)


def _falls(slope: str, r2: str) -> Rule:
    return _rule(f"{slope} ≤ {_FALLS_PCT:g} % and {r2} ≥ {_LINEAR_R2:g}",
                 lambda v: v[slope] <= _FALLS_PCT and v[r2] >= _LINEAR_R2)


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
            _rule(f"coi_max_abs_z ≤ {MC_SE:g} and coi_max_rel_closed ≤ 1e-8",
                  lambda v: v["coi_max_abs_z"] <= MC_SE and v["coi_max_rel_closed"] <= 1e-8),
            could_fail="a wrong closed form, or a sampler that does not draw from the stated price law, puts the "
                       "Monte Carlo means many standard errors away from it.",
            published="a theorem", why="The theorem's closed form matches simulation for every price law tried.",
            headline="simulation within {coi_max_abs_z:.1f} standard errors of the closed form",
            figure="fig-coi-erosion"),
    Finding("separable-real", "thesis", DISTINGUISH,
            "Human and agent trajectories differ in their KL gaps (two-sided Mann–Whitney test on the real data).",
            "04_distinguish", ("p_loo", "auc_loo"),
            "on the synthetic stand-in: leave-one-out p = {p_loo:.2g}, AUC {auc_loo:.2f}",
            _rule("the real data's test (not applied)", lambda v: True), testable=False,
            published=f"p < {DISTINGUISHABILITY['p_below']:g}",
            why="The claim is about the real WhoClickedIt file, which this book cannot download.",
            headline="stand-in only: p = {p_loo:.2g}, AUC {auc_loo:.2f}",
            depends_on="scoring: leave-one-out or in-sample centroids; the end transition"),
    Finding("in-sample-inflates", "book", DISTINGUISH,
            "Scoring with in-sample centroids (the thesis's) manufactures separation: random labels already score well.",
            "04_distinguish", ("rescore_null_ins", "rescore_null_loo"),
            "mean AUC under random labels: {rescore_null_ins:.3f} in-sample, {rescore_null_loo:.3f} leave-one-out",
            _rule("rescore_null_ins ≥ 0.75 and rescore_null_loo ≤ 0.6",
                  lambda v: v["rescore_null_ins"] >= 0.75 and v["rescore_null_loo"] <= 0.6),
            could_fail="if in-sample centroids did not leak the label, random labels would score near chance "
                       "in-sample too.",
            why="A trajectory scored against a centroid it helped build looks like its own class."),
    Finding("kl-rests-on-floor", "book", DISTINGUISH,
            "The class-level KL divergence rests on the ε floor: moves one class never made dominate it.",
            "04_distinguish", ("class_kl", "class_kl_dirichlet"),
            "{class_kl:.2f} nats with the floor, {class_kl_dirichlet:.2f} under Dirichlet smoothing",
            _rule(f"class_kl > {FLOOR_DOMINATES:g} × class_kl_dirichlet (more than half of it is floor; "
                  "the constant chapter 04 uses)",
                  lambda v: v["class_kl"] > FLOOR_DOMINATES * v["class_kl_dirichlet"]),
            could_fail="if the classes differed mostly in moves both make, smoothing would leave most of the "
                       "divergence in place.",
            why="Transitions one class never makes get probability ε, and log ε dominates the sum.",
            depends_on="smoothing: the ε floor or additive counts"),
    Finding("end-transition-decides", "book", DISTINGUISH,
            "Whether the leave-one-out test separates the classes on the stand-in hangs on counting each session's move into its end.",
            "08_published", ("p_loo_noend", "p_loo_end"),
            "p = {p_loo_noend:.2g} without the end transition, {p_loo_end:.2g} with it",
            _rule("the two p-values fall on opposite sides of 0.05",
                  lambda v: (v["p_loo_noend"] < 0.05) != (v["p_loo_end"] < 0.05)),
            could_fail="both p-values could have fallen on the same side of the level.",
            why="Agents end sessions differently; counting that move adds most of the signal.",
            depends_on="scoring: counting the transition into session_end"),
    Finding("f-weak", "book", DISTINGUISH,
            "The simulator's agent probability f is a weak signal: it never comes near certainty either way, whatever the share of agents.",
            "05_simulator", ("err_f_at_0", "err_f_at_1"),
            "f = {err_f_at_0:.2f} with no agents, {err_f_at_1:.2f} with agents only",
            _rule("err_f_at_0 ≥ 0.1 and err_f_at_1 ≤ 0.9", lambda v: v["err_f_at_0"] >= 0.1 and v["err_f_at_1"] <= 0.9),
            could_fail="kernels that told the classes apart would push f towards certainty: low for humans, high for agents.",
            why="The classes' kernels overlap, so a short path carries little evidence."),
    Finding("revenue-falls", "thesis", DEFEND,
            "Baseline revenue falls roughly linearly in the agent share.",
            "08_published", ("as_written_slope_pct", "as_written_r2"),
            "the thesis's protocol re-run as the method is written: slope {as_written_slope_pct:+.1f} % of the "
            "intercept (R² {as_written_r2:.3f}); as the thesis's sweep ran: {as_run_slope_pct:+.1f} % (R² {as_run_r2:.3f})",
            _falls("as_written_slope_pct", "as_written_r2"),
            artefact=Artefact("the mass proxy (the market as the thesis's sweep ran it)", "08_published",
                              ("as_run_slope_pct", "as_run_r2"), _falls("as_run_slope_pct", "as_run_r2")),
            could_fail="learned prices within the valuations would let the agent share move revenue in the market "
                       "as written.",
            published=f"{_SLOPE_PCT:.1f} % of the intercept per unit α, R² {BASELINE_REGRESSION['r2']:g}",
            why="As written, prices sit above every valuation and the share proxy sums to a constant; revenue falls "
                "only if agents' shorter sessions count as less demand.",
            headline="stand-in, per unit α: {as_written_slope_pct:+.1f} % as the method is written, "
                     "{as_run_slope_pct:+.1f} % as the sweep ran",
            figure="fig-published-as-run", depends_on="the demand proxy (share or mass)"),
    Finding("defence-cost-as-written", "thesis", DEFEND,
            "Defending against contamination costs revenue (the market as the method is written; chapter 06: robust "
            "against placebo cells).",
            "06_sweep", ("defence_contrast", "defence_contrast_lo", "defence_contrast_hi",
                         "defence_contrast_lo90", "defence_contrast_hi90"),
            "stand-in: robust minus placebo {defence_contrast:+.2f} points (bootstrap interval over twin groups "
            "{defence_contrast_lo:+.2f} to {defence_contrast_hi:+.2f}; the equivalence test's interval "
            "{defence_contrast_lo90:+.2f} to {defence_contrast_hi90:+.2f})",
            _rule("the 95 % interval lies below zero", lambda v: v["defence_contrast_hi"] < 0),
            null=equivalent_interval("defence_contrast_lo90", "defence_contrast_hi90", DEFENCE_MARGIN),
            artefact=Artefact("the closed-form adversary (the market as the thesis's sweep ran it)", "08_published",
                              ("as_run_delta_mean",),
                              _rule(f"|as_run_delta_mean − ({_HEADLINE:g})| ≤ {_DELTA_TOL:g}",
                                    lambda v: abs(v["as_run_delta_mean"] - _HEADLINE) <= _DELTA_TOL)),
            could_fail="a defence that moved prices would show a cost in the robust cells beyond the placebo's "
                       "training noise.",
            published=f"{_HEADLINE:+.2f} %",
            why="Placebo cells (no adversary) measure training noise; the defence's cost is what robust cells add.",
            headline="stand-in: robust − placebo {defence_contrast:+.2f} points [{defence_contrast_lo90:+.2f}, "
                     "{defence_contrast_hi90:+.2f}]; as the sweep ran {as_run_delta_mean:+.2f} %",
            figure="fig-defence-delta",
            depends_on="the estimand: robust minus placebo, or all pairs pooled; keeping the pairs with a collapsed trial"),
    Finding("defence-is-shift", "book", DEFEND,
            "The thesis's defence cost is an evaluation shift: a defended policy earns what a baseline earns at α + ε.",
            "08_published", ("shift_ratio",),
            "on the thesis's table the shifted baseline predicts the defended revenue {shift_ratio:.1f} × better "
            "than the unshifted one",
            _rule("shift_ratio ≥ 2 on the thesis's table (the shift at least halves the error)",
                  lambda v: v["shift_ratio"] >= 2),
            could_fail="a cost that did not come from the shift would leave the shifted baseline no closer to the "
                       "defended revenue than the unshifted one.",
            why="Scored in closed form at prices nobody buys at, the worst candidate share is always the largest.",
            figure="fig-published-shift", depends_on="the adversary: closed form or sampled"),
    Finding("blind-as-written", "book", DEFEND,
            "In the market as the method is written, learned prices sit where no one has demand, so the normalised proxy pays the same whatever the agent share.",
            "08_published", ("as_written_zero_demand", "as_written_slope_pct"),
            "re-running the thesis's protocol: zero true demand in {as_written_zero_demand:.0%} of steps, "
            "baseline slope {as_written_slope_pct:+.1f} % of the intercept",
            _rule(f"as_written_zero_demand > {ZERO_DEMAND_MAJORITY:g} (a majority of steps)",
                  lambda v: v["as_written_zero_demand"] > ZERO_DEMAND_MAJORITY),
            could_fail="learners that found prices within the valuations would face true demand in most steps.",
            why="The sampled adversary and the share proxy give a learner no reason to lower prices.",
            figure="fig-published-probe", depends_on="the demand proxy (share or mass)"),
    Finding("detection-not-revenue", "book", DEFEND,
            "Excluding the sessions a detector flags improves the demand estimate but not revenue, and excludes humans too.",
            "07_detection", ("def_exclude_error_vs_off", "def_exclude_revenue_vs_off", "def_exclude_revenue_vs_off_se",
                             "def_exclude_humans_excluded", "def_off_revenue", "defence_steps"),
            "demand error {def_exclude_error_vs_off:+.2f} points; revenue {def_exclude_revenue_vs_off:+.1f} ± "
            "{def_exclude_revenue_vs_off_se:.1f} against {def_off_revenue:.1f} undefended "
            "({defence_steps} market draws); {def_exclude_humans_excluded:.1%} of humans excluded",
            _rule("the error falls and humans excluded ≥ 5 %",
                  lambda v: v["def_exclude_error_vs_off"] < 0 and v["def_exclude_humans_excluded"] >= 0.05),
            null=equivalent_mean("def_exclude_revenue_vs_off", "def_exclude_revenue_vs_off_se", "defence_steps",
                                 "def_off_revenue", DETECTION_MARGIN),
            could_fail="a better demand estimate could have moved prices and revenue by more than the margin, "
                       "or the detector could have spared humans.",
            why="Prices respond to the proxy's shape, which exclusion barely changes at these shares."),
    Finding("responsive-no-cost", "book", DEFEND,
            "Our extension, not the thesis's: when prices above the valuations lose visitors, learned prices fall below "
            "the valuations and the defence costs no revenue.",
            "08_published", ("resp_delta", "resp_delta_lo90", "resp_delta_hi90", "resp_price", "resp_zero_demand"),
            "stand-in: defended − baseline {resp_delta:+.2f} % (the equivalence test's interval over twin groups "
            "{resp_delta_lo90:+.2f} to {resp_delta_hi90:+.2f} %) at learned prices {resp_price:.1f}, zero true demand in "
            "{resp_zero_demand:.0%} of steps",
            _rule(f"resp_zero_demand < {ZERO_DEMAND_MAJORITY:g} (demand in a majority of steps)",
                  lambda v: v["resp_zero_demand"] < ZERO_DEMAND_MAJORITY),
            null=equivalent_interval("resp_delta_lo90", "resp_delta_hi90", DEFENCE_MARGIN),
            could_fail="a robust policy that priced differently from its twin would move revenue beyond the "
                       "margin, or prices could have stayed above the valuations.",
            why="When overpricing loses visitors, both policies learn prices buyers accept.",
            depends_on="the market: fixed or price-responsive visits"),
    # ---- checks: identities, properties by construction, recomputations (not findings) ----
    Finding("leak-constant", "book", DEFEND,
            "The COI leak is the same for every policy at a given share, so the COI penalty shifts rewards without changing which policy is best.",
            "06_sweep", ("leak_spread", "leak_spread_all_pct"),
            "largest spread of mean leakage across trained policies at one share and seed, on the same market draws: "
            "{leak_spread:.2g} (with the reference policies, evaluated on other draws: {leak_spread_all_pct:.1f} % of the mean)",
            _rule("leak_spread ≤ 1e-9", lambda v: v["leak_spread"] <= 1e-9), kind=CHECK,
            could_fail="by construction: f is computed from the sessions' event paths, which prices do not change, "
                       "so on common random numbers the spread is zero whatever the policies learn."),
    Finding("held-price-share", "book", DEFEND,
            "At a held price, revenue under the share proxy does not depend on the agent share.",
            "08_published", ("probe_share_slope_pct",),
            "slope {probe_share_slope_pct:+.2f} % of the intercept",
            _rule("|probe_share_slope_pct| ≤ 0.1 %", lambda v: abs(v["probe_share_slope_pct"]) <= 0.1), kind=CHECK,
            could_fail="an identity: the normalised share proxy sums to a constant, so with every price above every "
                       "valuation revenue is that constant times the price.",
            figure="fig-published-probe"),
    Finding("thesis-fall-recomputed", "thesis", DEFEND,
            "On the thesis's own runs, baseline revenue falls roughly linearly in the agent share.",
            "08_published", ("all_slope_pct_of_intercept", "all_r2", "se_ratio_hc1"),
            "slope {all_slope_pct_of_intercept:.1f} % of the intercept, R² {all_r2:.3f}; counting each run once its "
            "standard error is {se_ratio_hc1:.1f} × the published one",
            _falls("all_slope_pct_of_intercept", "all_r2"), kind=CHECK,
            could_fail="a recomputation: the thesis's arithmetic redone on its own published runs.",
            figure="fig-published-regression"),
    Finding("fall-is-mass", "book", DEFEND,
            "The thesis's fall in revenue is a fall in proxy mass (shorter agent sessions bring less), not in prices.",
            "08_published", ("mass_slope_pct", "price_slope_pct", "mass_r2"),
            "implied mass {mass_slope_pct:.1f} % of its intercept per unit α (R² {mass_r2:.3f}); implied price {price_slope_pct:+.1f} %",
            _rule("|mass slope| ≥ 10 × |price slope|", lambda v: abs(v["mass_slope_pct"]) >= 10 * abs(v["price_slope_pct"])),
            kind=CHECK,
            could_fail="an identity: revenue = implied price × mass, with the implied prices pinned in a narrow band.",
            figure="fig-published-mass"),
    Finding("fall-as-run", "book", DEFEND,
            "In the market as the thesis's sweep evidently ran, baseline revenue falls roughly linearly in the agent share.",
            "08_published", ("as_run_slope_pct", "as_run_r2"),
            "stand-in: slope {as_run_slope_pct:.1f} % of the intercept, R² {as_run_r2:.3f}",
            _falls("as_run_slope_pct", "as_run_r2"), kind=CHECK,
            could_fail="by construction: the book built this market with the mass proxy, in which revenue at fixed "
                       "prices falls with the share; its learners all hold one price path per seed.",
            figure="fig-published-as-run", depends_on="the market: mass proxy and closed-form adversary"),
    Finding("shift-as-run", "book", DEFEND,
            "In the market as the thesis's sweep ran, a defended policy earns what a baseline earns at α + ε.",
            "08_published", ("as_run_shift_ratio",),
            "the shifted baseline predicts the defended revenue {as_run_shift_ratio:.1f} × better than the unshifted one",
            _rule("as_run_shift_ratio ≥ 2", lambda v: v["as_run_shift_ratio"] >= 2), kind=CHECK,
            could_fail="by construction: with one price path per seed, the defended policy is the baseline evaluated "
                       "at α + ε, compared with itself.",
            figure="fig-published-as-run"),
)
"""The conclusions the "What holds up" page decides, grouped by the introduction's questions."""


def evidence(findings: Iterable[Finding] | None = None) -> list[Finding]:
    """The findings that are evidence (counted), in order (default: :data:`FINDINGS`)."""
    return [f for f in (FINDINGS if findings is None else findings) if f.kind == EVIDENCE]


def checks(findings: Iterable[Finding] | None = None) -> list[Finding]:
    """The checks (never counted as findings), in order (default: :data:`FINDINGS`)."""
    return [f for f in (FINDINGS if findings is None else findings) if f.kind == CHECK]


SALES_DEFENCES = {"robust": "the thesis's robust training", "filter": "filtering the proxy with chapter 07's detector",
                  "sales": "learning from sales instead of the proxy (the control)"}
"""Chapter 09's defences, each compared with no defence by sales revenue."""


def sales_findings(prereg_path: str | Path, commit: str | None) -> tuple[Finding, ...]:
    """Chapter 09's verdicts as evidence: per defence, its effect on sales revenue against no defence
    (agents buy, pooled over alpha > 0), tested for equivalence at the margin of the sales study's
    pre-registration at ``prereg_path`` (:func:`~phantom_lib.study.analysis.regret.registered_margin`);
    ``commit`` is that file's commit as the results' provenance records it (``Rule.registered``;
    ``None``: flagged as written after the data). :data:`FINDINGS` ends with them, for the committed
    study (:data:`SALES_RESULTS`)."""
    from phantom_lib.study.analysis.regret import registered_margin

    margin = registered_margin(prereg_path)
    out = []
    for defence, words in SALES_DEFENCES.items():
        names = tuple(f"eff_{defence}_{tag}_{key}" for tag in ("buy", "recon") for key in ("delta", "lo90", "hi90"))
        null = equivalent_interval(names[1], names[2], margin)
        out.append(Finding(
            f"sales-{defence}-equivalent", "book", DEFEND,
            f"Our extension, not the thesis's: in a market that pays for sales, {words} leaves sales revenue "
            "unchanged (agents buy, pooled over the shares above zero).",
            "09_sales", names,
            f"stand-in: {defence} minus none {{{names[0]}:+.2f}} % (the equivalence test's interval over twin groups "
            f"{{{names[1]}:+.2f}} to {{{names[2]}:+.2f}} %); agents only reconnoitre (PPO): {{{names[3]}:+.2f}} %",
            None, null=dataclasses.replace(null, registered=commit),
            could_fail="a defence that moved learned prices towards or away from the sales optimum would change "
                       "sales revenue by more than the margin.",
            why="Scored by sales revenue against the undefended twin at the same share, agents_buy and seed.",
            figure="fig-sales-regret", depends_on="agents_buy; the agents' valuations (the contamination map)"))
    return tuple(out)


SALES_RESULTS = Path(__file__).resolve().parents[2] / "data" / "results" / "sales"
"""The committed sales study chapter 09 reads (its provenance names the pre-registration)."""


def sales_registration(folder: Path = SALES_RESULTS) -> tuple[Path, str | None]:
    """The sales study's pre-registration file and, when git shows it was committed before the run
    (:func:`~phantom_lib.study.design.prereg.fixed_before_data`), its commit; else ``None``."""
    from phantom_lib.study.design import prereg

    row = prereg.fixed_before_data(folder, repository=folder.parents[2])[0]
    path = folder.parents[2] / row["path"]
    return path, (row["commit"] if row["fixed_before_data"] else None)


FINDINGS = FINDINGS + sales_findings(*sales_registration())
