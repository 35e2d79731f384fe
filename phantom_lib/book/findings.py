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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

from phantom_lib.book import glued
from phantom_lib.book.reproduction import CHAPTER_TITLES, Rule

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
