"""The glossary page: it defines the book's jargon, each entry links to where the term is defined in
full, and every {term} reference in the book names a defined term."""

from __future__ import annotations

import re

import yaml

from phantom_lib.book import build as book

ROOT = book.repo_root()
GLOSSARY = ROOT / "book" / "glossary.md"

JARGON = ("omega units", "charm ladder", "InfoValue", "ddof 0", "stand-in", "leave-one-out centroid",
          "baseline twin", "COI level", "COI leak", "proxy mass", "sampling zero", "eps floor",
          "Dirichlet smoothing", "kernel-generated features", "leakage group", "size-calibrated power",
          "revenue", "evaluation shift", "market as written", "market as run", "best fixed price", "collapse",
          "oracle", "regret", "equivalence margin")
"""Terms the chapters use without defining them on the spot (issue 19 names the first ones, issue 28 the last)."""


def entries() -> dict[str, str]:
    """``{term: definition}`` of the page's glossary directive (terms lower-cased, code marks dropped)."""
    text = GLOSSARY.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.DOTALL)
    assert block, "book/glossary.md has no glossary directive"
    found: dict[str, list[str]] = {}
    term = None
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if not line.startswith(" "):
            term = line.strip().strip("`").lower()
            assert term not in found, f"glossary defines {term!r} twice"
            found[term] = []
        else:
            assert term is not None, f"definition before any term: {line!r}"
            found[term].append(line.strip())
    return {t: " ".join(lines) for t, lines in found.items()}


def sources() -> list:
    return sorted((ROOT / "book").glob("*.md")) + book.notebook_sources()


def test_the_jargon_of_the_chapters_is_defined():
    defined = entries()
    missing = [t for t in JARGON if t.lower() not in defined]
    assert not missing, f"book/glossary.md lacks {missing}"


def test_every_definition_links_to_where_the_term_is_defined():
    unlinked = [t for t, d in entries().items() if not re.search(r"\{(ref|doc)\}`", d)]
    assert not unlinked, f"glossary entries without a {{ref}} or {{doc}} link: {unlinked}"


def test_every_term_reference_names_a_defined_term():
    defined = entries()
    used = {(path.name, m.group(1)) for path in sources()
            for m in re.finditer(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", path.read_text(encoding="utf-8"))}
    unknown = sorted((name, t) for name, t in used if t.lower().strip("`") not in defined)
    assert not unknown, f"{{term}} references to undefined terms: {unknown}"


def test_the_glossary_follows_the_model_reference_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files.index("book/glossary") == files.index("book/chapters/model") + 1
