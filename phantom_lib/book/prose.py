"""Find numbers typed into the book's prose instead of glued from code.

The book's rule: every number a reader takes as a result is computed and glued
(``{glue:text}`name:.2f```), never typed. :func:`bare_numbers` scans MyST markdown for number
tokens left after removing what may hold numbers legitimately:

* glue roles and every other role (``{cite:p}``, ``{doc}``, ``{ref}``, ...), link targets,
  URLs, HTML comments, MyST targets ``(label)=``, front matter;
* code cells and code blocks; directive option lines (``:width: 80%``);
* references to parts of the book: "chapter 04", "chapters 02 and 04", "section 9",
  "erratum 5", "issue 8", "figure 2", "table 1", "appendix 3";
* years inside a citation's parentheses or brackets: "(Mann and Whitney, 1947)";
* numbered-list markers ("1. ...");
* columns of a markdown table whose header says "published", "paper" or "thesis"
  (the published constants set beside ours).

``strict`` mode (the closing "What we found" sections of the chapters) scans inline code and
math too; the lenient mode for prose pages lets literals in ``code`` and ``$math$`` stand
(commands, parameter values, formulas).

Prose built in Python (the What holds up page's statements and evidence, rendered from
:mod:`phantom_lib.book.findings`) escapes a scan of the markdown sources; :func:`template_numbers`
scans such a string strictly after blanking its ``str.format`` fields, which are the glued values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CLOSING_HEADING = re.compile(r"^(?P<level>#{1,6})\s+what we found\b", re.I)
_HEADING = re.compile(r"^(?P<level>#{1,6})\s")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_CODE_DIRECTIVES = {
    "code-cell", "code-block", "code", "sourcecode", "math", "raw", "eval-rst", "bibliography",
    "glue", "glue:", "glue:any", "glue:figure", "glue:math", "glue:md",
}
_ROLE = re.compile(r"\{[\w:.+-]+\}`[^`]*`")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_URL = re.compile(r"<?https?://\S+?>?(?=[\s)\]]|$)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_MYST_TARGET = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
_LIST_MARKER = re.compile(r"^(\s*)\d+[.)](?=\s)")
_REFERENCE = re.compile(
    r"\b(?:chapters?|notebooks?|sections?|§|errat(?:um|a)|issues?|parts?|tables?|figures?|fig\.|"
    r"equations?|eq\.|appendix|appendices)\s+\d+[a-z]?(?:\s*(?:,|and|or|to|–|-)\s*\d+[a-z]?)*",
    re.I,
)
_CITATION_YEAR = re.compile(r"(?<=[\s,(\[])(?:19|20)\d\d[a-z]?(?=\s*[)\];])")
_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?%?(?![\w])")
_PUBLISHED_HEADER = re.compile(r"published|paper|thesis", re.I)


@dataclass(frozen=True)
class Finding:
    """A number typed into prose: where it is and the line it is on."""

    line: int
    number: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.number!r} in {self.text.strip()!r}"


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def _strip_blocks(lines: list[str]) -> list[str]:
    """Blank front matter, code fences and directive options, keeping line numbers."""
    out = list(lines)
    start = 0
    if out and out[0].strip() == "---":
        end = next((i for i in range(1, len(out)) if out[i].strip() == "---"), None)
        if end is not None:
            out[: end + 1] = [""] * (end + 1)
            start = end + 1
    stack: list[tuple[str, bool]] = []  # open fences: (fence chars, content is code)
    in_options = yaml_options = False
    for i in range(start, len(out)):
        line = out[i]
        match = _FENCE.match(line)
        if match and stack and match["fence"][0] == stack[-1][0][0] and len(match["fence"]) >= len(stack[-1][0]) \
                and not match["info"].strip():
            stack.pop()
            out[i] = ""
            in_options = False
            continue
        if match and (not stack or not stack[-1][1]):
            info = match["info"].strip()
            name = info[1:info.index("}")] if info.startswith("{") and "}" in info else None
            is_code = match["fence"][0] != ":" and (name is None or name in _CODE_DIRECTIVES)
            stack.append((match["fence"], is_code or name in _CODE_DIRECTIVES))
            out[i] = ""
            in_options = True
            continue
        if stack and stack[-1][1]:
            out[i] = ""
            continue
        if stack and in_options:  # a directive's options: ":key: value" lines or a --- block
            if line.strip() == "---":
                yaml_options = not yaml_options
                in_options = yaml_options
                out[i] = ""
                continue
            if yaml_options or line.lstrip().startswith(":"):
                out[i] = ""
                continue
            in_options = False
    return out


def _published_columns(header: str) -> set[int]:
    cells = header.strip().strip("|").split("|")
    return {i for i, cell in enumerate(cells) if _PUBLISHED_HEADER.search(cell)}


def _strip_published_cells(lines: list[str]) -> list[str]:
    """Blank the cells of markdown-table columns headed "published" / "paper" / "thesis"."""
    out = list(lines)
    i = 0
    while i < len(out):
        is_table = out[i].lstrip().startswith("|") and i + 1 < len(out) and re.match(r"^\s*\|[\s:|-]+\|\s*$", out[i + 1])
        if not is_table:
            i += 1
            continue
        columns = _published_columns(out[i])
        j = i + 2
        while j < len(out) and out[j].lstrip().startswith("|"):
            if columns:
                cells = out[j].strip().strip("|").split("|")
                out[j] = "|" + "|".join(" " * len(c) if k in columns else c for k, c in enumerate(cells)) + "|"
            j += 1
        i = j
    return out


def bare_numbers(markdown: str, strict: bool = True) -> list[Finding]:
    """Numbers typed into ``markdown`` prose, with 1-based line numbers (see the module doc)."""
    lines = _strip_published_cells(_strip_blocks(markdown.splitlines()))
    text = _HTML_COMMENT.sub(_blank, "\n".join(lines))
    if not strict:
        text = _DISPLAY_MATH.sub(_blank, text)
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        if _MYST_TARGET.match(line):
            continue
        original = line
        if not strict:
            line = _CODE_SPAN.sub(_blank, line)
            line = _INLINE_MATH.sub(_blank, line)
        for pattern in (_ROLE, _LINK_TARGET, _URL, _REFERENCE, _CITATION_YEAR, _LIST_MARKER):
            line = pattern.sub(_blank, line)
        found += [Finding(number, m.group(0), original) for m in _NUMBER.finditer(line)]
    return found


_FORMAT_FIELD = re.compile(r"(?<!\{)\{[^{}]*\}(?!\})")


def template_numbers(template: str) -> list[Finding]:
    """Numbers typed into a string built in Python, its ``str.format`` fields (``{name:.2f}``, the
    glued values) blanked first; strict, so inline code and math are scanned too."""
    return bare_numbers(_FORMAT_FIELD.sub(_blank, template), strict=True)


def closing_sections(markdown: str) -> str:
    """The "What we found" sections of a chapter, every other line blanked (line numbers kept).

    A section runs from its heading to the next heading of the same or a higher level;
    ``#`` lines inside code cells are not headings.
    """
    lines = markdown.splitlines()
    keep = [False] * len(lines)
    level = None
    for i, line in enumerate(_strip_blocks(lines)):
        heading = _HEADING.match(line)
        closing = CLOSING_HEADING.match(line)
        if closing:
            level = len(closing["level"])
        elif heading and level is not None and len(heading["level"]) <= level:
            level = None
        keep[i] = level is not None
    return "\n".join(line if k else "" for line, k in zip(lines, keep))


def check_chapter(path: Path) -> list[Finding]:
    """Typed numbers in the "What we found" sections of a chapter source (strict)."""
    return bare_numbers(closing_sections(Path(path).read_text(encoding="utf-8")), strict=True)


def check_page(path: Path) -> list[Finding]:
    """Typed numbers in a prose page (lenient about inline code and math)."""
    return bare_numbers(Path(path).read_text(encoding="utf-8"), strict=False)
