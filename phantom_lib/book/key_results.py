"""A chapter's key results as numbers a reader of ``phantom run`` sees: its "What we found" section filled in.

The chapters' prose quotes computed numbers through myst-nb roles (``{glue:text}`name:.2f```),
which only the book build resolves; an executed notebook written by ``phantom run`` keeps the
placeholders. :func:`fill_key_results` renders every role of the "What we found" section from
the notebook's own glued outputs (:mod:`phantom_lib.book.glued`), writes the filled text into
the executed copy and returns the values, which ``phantom run`` prints and can write as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from phantom_lib.book.glued import Glued, read

FOUND_HEADING = "## What we found"
"""The heading of the section whose placeholders are filled."""

_ROLE = re.compile(r"\{glue:(text|md)\}`([^`:]+)(?::([^`]*))?`")
"""``{glue:text}`name``` or ``{glue:text}`name:format```; ``{glue:md}`` too."""


def render(glued: Glued, kind: str, spec: str | None) -> str:
    """A glued value as the book shows it: ``text/markdown`` for ``glue:md``, else the value
    formatted with ``spec`` (a Python format spec such as ``.2f``) or its ``text/plain`` form."""
    if kind == "md" and "text/markdown" in glued.data:
        markdown = glued.data["text/markdown"]
        return "".join(markdown) if isinstance(markdown, list) else str(markdown)
    return format(glued.value, spec) if spec else glued.text.strip().strip("'\"")


def fill(text: str, glued: Mapping[str, Glued]) -> str:
    """``text`` with every glue role whose name ``glued`` holds rendered as the book shows it
    (a figure caption or a sentence of a chapter quoted on another page); other roles are left as written."""
    def replace(match: re.Match[str]) -> str:
        kind, name, spec = match.groups()
        return render(glued[name], kind, spec) if name in glued else match.group(0)
    return _ROLE.sub(replace, text)


def _filled_cells(executed: Path) -> tuple[object, dict[str, str], list[str]]:
    """The notebook with its "What we found" roles filled in place, the values filled
    (``{role target: text}``) and the section's markdown (heading left out)."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    glued = read(executed)
    found: dict[str, str] = {}
    section: list[str] = []

    def replace(match: re.Match[str]) -> str:
        kind, name, spec = match.groups()
        if name not in glued:
            return match.group(0)
        text = render(glued[name], kind, spec)
        found[name + (f":{spec}" if spec else "")] = text
        return text

    inside = False
    for cell in (c for c in notebook.cells if c.cell_type == "markdown"):
        lines = cell.source.split("\n")
        for index, line in enumerate(lines):
            if line.startswith("## "):
                inside = line.strip() == FOUND_HEADING
            elif inside:
                lines[index] = _ROLE.sub(replace, line)
                section.append(lines[index])
        cell.source = "\n".join(lines)
    return notebook, found, section


def fill_key_results(executed: Path) -> dict[str, str]:
    """Replace every glue role of the executed notebook's "What we found" section by its value and
    return ``{role target: text}`` in order (``name`` or ``name:format``). A role whose name the
    notebook did not glue is left as written (the book build reports it)."""
    import nbformat

    notebook, found, _ = _filled_cells(executed)
    if found:
        nbformat.write(notebook, executed)
    return found


def found_section(executed: Path) -> str:
    """The executed notebook's "What we found" section as MyST text with its glue roles filled in
    (the notebook file is left as it is); ``""`` when the chapter has no such section."""
    return "\n".join(_filled_cells(executed)[2]).strip()
