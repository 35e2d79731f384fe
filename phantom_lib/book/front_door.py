"""The introduction's first screen: the thesis's claims beside this book's numbers, and one headline figure.

:func:`claims_table` renders the thesis's own claims among the decided findings
(:func:`phantom_lib.book.findings.statuses`) as a MyST table whose element id is :data:`TABLE_ID`: the
thesis's figure, this book's (the finding's short ``headline`` form, else its evidence), the status, one
line of why and a link to the chapter. :func:`in_brief` lists every piece of evidence the same way.
:func:`link_terms` links the jargon those generated lines use to the glossary. :func:`headline` picks the
figure the introduction leads with: chapter 09's regret curve once that chapter is executed, else chapter
08's thesis-versus-book fall. Nothing here holds a number: every value is read from the executed chapters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from phantom_lib.book import glued, key_results
from phantom_lib.book.browser import FIRST_SCREEN_CLASS
from phantom_lib.book.findings import CHECK_FAILS, CHECKED, EVIDENCE, Status, tally
from phantom_lib.book.reproduction import CHAPTER_TITLES

TABLE_ID = "thesis-claims"
"""The id of the claims table: the browser check requires its first rows in the first screen."""

FRONT_CLASS = FIRST_SCREEN_CLASS
"""The class that marks an element whose first rows must show in the first screen (the browser check)."""

HEADLINE_FIRST = ("revenue-falls", "defence-cost-as-written")
"""The thesis's two headline claims: the table's first rows."""

HEADLINES: tuple[tuple[str, str], ...] = (("09_sales", "fig-sales-regret"), ("08_published", "fig-published-as-run"))
"""The figure the introduction leads with, in order of preference: ``(chapter, figure label)``; the first
whose chapter is executed wins. Chapter 09 ("The question, answered") comes first once it exists."""

TERMS: tuple[tuple[str, str], ...] = (
    ("market as the method is written", "market as written"),
    ("market as the thesis's sweep ran it", "market as run"),
    ("market as the thesis's sweep evidently ran", "market as run"),
    ("as the method is written", "market as written"),
    ("as the sweep ran", "market as run"),
    ("evaluation shift", "evaluation shift"),
    ("proxy mass", "proxy mass"),
    ("mass proxy", "proxy mass"),
    ("stand-in", "stand-in"),
    ("leave-one-out", "leave-one-out centroid"),
    ("in-sample centroids", "in-sample centroid"),
    ("ε floor", "eps floor"),
    ("Dirichlet smoothing", "Dirichlet smoothing"),
    ("equivalence test", "equivalence margin"),
    ("collapsed", "collapse"),
)
"""Phrases of the generated lines and the glossary term each links to (first occurrence per cell)."""


def link_terms(text: str, terms: Iterable[tuple[str, str]] = TERMS) -> str:
    """Link the first occurrence of each phrase in ``text`` to its glossary term (``{term}`phrase <term>```).

    Phrases inside an existing role or code span are left alone; matching is case-sensitive and on word
    boundaries, so ``"collapsed"`` does not link inside ``"uncollapsed"``."""
    for phrase, term in terms:
        pattern = re.compile(rf"(?<![\w`<-]){re.escape(phrase)}(?![\w`>])")
        spans = [m.span() for m in re.finditer(r"\{[a-z:]+\}`[^`]*`|`[^`]*`", text)]
        for match in pattern.finditer(text):
            if not any(a <= match.start() < b for a, b in spans):
                text = f"{text[:match.start()]}{{term}}`{phrase} <{term}>`{text[match.end():]}"
                break
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _where(status: Status, chapters_doc: str) -> str:
    f = status.finding
    where = f"{{doc}}`{CHAPTER_TITLES[f.chapter][:2]} <{chapters_doc}/{f.chapter}>`"
    return where + (f", {{numref}}`{f.figure}`" if f.figure else "")


def thesis_claims(table: Sequence[Status]) -> list[Status]:
    """The thesis's claims among the evidence, its two headline claims first, then in page order."""
    rows = [s for s in table if s.finding.origin == "thesis" and s.finding.kind == EVIDENCE]
    first = [s for key in HEADLINE_FIRST for s in rows if s.finding.key == key]
    return first + [s for s in rows if s not in first]


def claims_table(table: Sequence[Status], chapters_doc: str = "/book/chapters") -> str:
    """The thesis's claims as a MyST ``{table}`` (id :data:`TABLE_ID`, class :data:`FRONT_CLASS`): what it
    claimed (with a link to the chapter and figure that compute it), its figure, this book's, the status and why.

    No caption: the sentence before the table says what it is, and the first screen has no room to spare."""
    lines = ["```{table}", f":name: {TABLE_ID}", f":class: {FRONT_CLASS}", ":widths: 25 10 23 15 27", "",
             "| The thesis claimed | Thesis | This book | Status | Why |", "|---|---|---|---|---|"]
    for row in thesis_claims(table):
        f = row.finding
        cells = (f"{link_terms(_cell(f.statement))} ({_where(row, chapters_doc)})", f.published or "—",
                 link_terms(_cell(row.headline or row.evidence)), f"**{link_terms(row.status)}**", link_terms(_cell(f.why)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["```", ""])


def in_brief(table: Sequence[Status], chapters_doc: str = "/book/chapters") -> str:
    """Every piece of evidence as a MyST list: status, conclusion, the thesis's figure beside the book's,
    why, and a link; then how many checks pass (checks are not findings)."""
    items = []
    for row in (r for r in table if r.finding.kind == EVIDENCE):
        f = row.finding
        thesis = f"thesis {f.published}; " if f.published else ""
        items.append(link_terms(f"- **{row.status}**: {f.statement} *({thesis}this book: {row.headline or row.evidence})* "
                                f"{f.why} ({_where(row, chapters_doc)})"))
    counts = tally(table)
    return "\n".join(items) + (f"\n\nChecks (identities, properties by construction, recomputations), not counted "
                               f"above: {counts[CHECKED]} pass, {counts[CHECK_FAILS]} fail.\n")


@dataclass(frozen=True)
class Headline:
    """The figure the introduction leads with and the chapter it comes from."""

    chapter: str
    figure: glued.Figure


def headline(chapters_dir: str | Path, choices: Sequence[tuple[str, str]] = HEADLINES) -> Headline:
    """The first of ``choices`` whose chapter is executed in ``chapters_dir`` (``FileNotFoundError`` if none)."""
    for chapter, label in choices:
        path = Path(chapters_dir) / f"{chapter}.ipynb"
        if path.exists():
            found = glued.figure(path, label)
            caption = key_results.fill(found.caption, glued.read(path))
            return Headline(chapter, glued.Figure(found.label, found.png, caption))
    raise FileNotFoundError(f"headline: none of {[c for c, _ in choices]} is executed in {chapters_dir}")
