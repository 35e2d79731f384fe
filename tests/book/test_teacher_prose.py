"""Chapter 07 names the distilled tree's teacher only through glue: the teacher is chosen per cohort
by the code (the highest AUC), so a detector name typed beside "teacher" would go stale."""

from __future__ import annotations

import re

from phantom_lib import detection
from phantom_lib.book import build as book
from phantom_lib.book.prose import _strip_blocks

CHAPTER = book.repo_root() / "notebooks" / "07_detection.md"


def typed_teachers(markdown: str, names: set[str]) -> list[str]:
    """Sentences of the prose that mention a teacher beside a detector name typed as code
    (`` `boosted` ``), not glued (``{glue:text}`tree_teacher_all` ``)."""
    prose = " ".join(_strip_blocks(markdown.splitlines()))
    sentences = re.split(r"(?<=[.;:])\s+", " ".join(prose.split()))
    return [s for s in sentences if "teacher" in s.lower()
            and any(m.group(1) in names for m in re.finditer(r"(?<!\})`([^`]+)`", s))]


def test_the_chapter_never_types_the_teacher_it_glues():
    names = set(detection.detector_suite())
    assert {"boosted", "net_multitask", "net_single"} <= names
    assert typed_teachers(CHAPTER.read_text(encoding="utf-8"), names) == []
    text = CHAPTER.read_text(encoding="utf-8")
    for key in ("tree_teacher_small", "tree_teacher_all", "tree_teacher_native"):
        assert f'glue("{key}", ' in text and f"{{glue:text}}`{key}`" in text, key


def test_a_typed_teacher_is_caught():
    names = {"boosted", "net_multitask"}
    assert typed_teachers("The tree's teacher is `net_multitask`. Fine: `boosted` scores well.", names) == [
        "The tree's teacher is `net_multitask`."]
    assert typed_teachers("Its teacher is {glue:text}`tree_teacher_all`.", names) == []
