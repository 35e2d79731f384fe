"""The introduction's first screen: the thesis's claims beside the book's numbers, jargon linked, the headline figure."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from test_findings import LEAK, REAL
from test_glued import glued_notebook

from phantom_lib.book import findings, front_door, glued
from phantom_lib.book.findings import FAILS, UNTESTABLE
from phantom_lib.book.reproduction import at_most

THESIS = dataclasses.replace(REAL, key="revenue-falls", testable=True, statement="Revenue falls in α.", rule=at_most("leak_spread", 1.0),
                             published="−5 % per unit α", could_fail="it could exceed one.",
                             why="The market as the method is written pays a constant.",
                             headline="short {leak_spread:.1f}")
OTHER = dataclasses.replace(THESIS, key="other-claim", headline="", statement="Another claim of the thesis.")


def test_the_claims_table_puts_the_headline_claims_first_with_both_numbers_status_and_link(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 3.0})
    table = findings.statuses(tmp_path, [LEAK, OTHER, REAL, THESIS])
    text = front_door.claims_table(table)
    assert f":name: {front_door.TABLE_ID}" in text and f":class: {front_door.FRONT_CLASS}" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    # the headline claim (revenue-falls) first, then the other thesis claims in page order; the book's own left out
    link = "({doc}`06 </book/chapters/06_sweep>`)"
    assert rows[0].startswith(f"| {THESIS.statement} {link} | −5 % per unit α | short 3.0 | **not reproduced** |")
    assert rows[1].startswith(f"| {OTHER.statement} {link} | −5 % per unit α | 3 |")  # no headline: the evidence
    linked = UNTESTABLE.replace("stand-in", "{term}`stand-in <stand-in>`")
    assert rows[2].startswith(f"| {REAL.statement} {link} | — | 3 | **{linked}** |")
    assert len(rows) == 3 and "`" not in text.splitlines()[0].removeprefix("```")  # no role in the fence line
    assert "{term}`market as the method is written <market as written>`" in rows[0]


def test_in_brief_lists_every_piece_of_evidence_and_counts_checks_apart(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 3.0})
    check = dataclasses.replace(LEAK, key="leak-check", kind=findings.CHECK, could_fail="an identity.")
    box = front_door.in_brief(findings.statuses(tmp_path, [LEAK, check, REAL]))
    items = [line for line in box.splitlines() if line.startswith("- ")]
    assert len(items) == 2 and items[0].startswith(f"- **{FAILS}**") and items[1].startswith("- **cannot be tested on the {term}`stand-in")
    assert "0 pass, 1 fail" in box


@pytest.mark.parametrize(("text", "linked"), [
    ("the evaluation shift, an evaluation shift", "the {term}`evaluation shift <evaluation shift>`, an evaluation shift"),
    ("uncollapsed", "uncollapsed"),
    ("{term}`stand-in` and the stand-in", "{term}`stand-in` and the {term}`stand-in <stand-in>`"),
    ("`mass proxy` in code", "`mass proxy` in code"),
    ("the mass proxy and collapsed pairs", "the {term}`mass proxy <proxy mass>` and {term}`collapsed <collapse>` pairs"),
])
def test_link_terms_links_each_phrase_once_outside_code_and_roles(text, linked):
    assert front_door.link_terms(text) == linked


def test_every_linked_term_is_in_the_glossary():
    from test_glossary import entries

    defined = entries()
    assert [t for _, t in front_door.TERMS if t.lower() not in defined] == []


PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


def _figure_notebook(path: Path, label: str) -> None:
    cell = {"cell_type": "code", "execution_count": 1, "source": "",
            "metadata": {"mystnb": {"figure": {"name": label, "caption": "Revenue   by alpha.\nLeft, the thesis."}}},
            "outputs": [{"output_type": "display_data", "metadata": {},
                         "data": {"image/png": base64.b64encode(PIXEL).decode()}}]}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_the_headline_is_chapter_09s_once_it_is_executed_else_chapter_08s(tmp_path: Path):
    choices = (("09_sales", "fig-sales-regret"), ("08_published", "fig-published-as-run"))
    with pytest.raises(FileNotFoundError, match="none of"):
        front_door.headline(tmp_path, choices)
    _figure_notebook(tmp_path / "08_published.ipynb", "fig-published-as-run")
    first = front_door.headline(tmp_path, choices)
    assert first.chapter == "08_published" and first.figure.png == PIXEL
    assert first.figure.caption == "Revenue by alpha. Left, the thesis."
    _figure_notebook(tmp_path / "09_sales.ipynb", "fig-sales-regret")
    assert front_door.headline(tmp_path, choices).chapter == "09_sales"
    with pytest.raises(KeyError, match="fig-sales-regret"):
        glued.figure(tmp_path / "09_sales.ipynb", "fig-other")
