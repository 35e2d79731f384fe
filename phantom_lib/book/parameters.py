"""A chapter's parameters: read from its ``parameters`` cell, checked before any kernel starts.

Every chapter declares its parameters once, as plain ``name = literal`` lines in the cell tagged
``parameters`` (the ``full`` profile's values). Everything that is injected into a chapter (a
profile's overrides, ``$PHANTOM_WHOCLICKED``, ``phantom run -p NAME VALUE``) is checked here
against that cell first: an unknown name is an error that lists the known ones and suggests the
closest, and a value must have its default's type (an integer for ``seed = 0``, a number for
``p_min = 10.0``, text for ``data_source = "standin"``, a list for ``table_ns = [1, 2]``; any
value where the default is ``None``), within its range (:mod:`phantom_lib.book.parameter_ranges`:
``seed >= 0``, counts at least 1, shares in [0, 1]), and ``data_source`` a file that loads. Papermill itself would only warn about an unknown name and
run with the default, and a wrong type would fail minutes later inside the kernel.

A chapter's key in the profile table (:mod:`phantom_lib.book.profiles`) is the ``chapter`` entry
of the ``phantom`` block of its front matter, so a chapter copied under a new name keeps its
origin's overrides; without that block the key is the file stem.
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phantom_lib._validation import is_integer, is_real, problem
from phantom_lib.book import profiles
from phantom_lib.book.parameter_ranges import data_source_problem, range_problem


class ParameterError(ValueError):
    """Parameters given to a chapter do not match its ``parameters`` cell (one line per problem)."""


@dataclass(frozen=True)
class Parameter:
    """One assignment of a notebook's ``parameters`` cell: ``name = value  # description``.

    ``value`` is the literal's source text (the ``full`` profile's default); ``description``
    is the trailing comment, or else the comment lines just above the assignment, joined.
    """

    name: str
    value: str
    description: str

    @property
    def default(self) -> Any:
        """The default as a Python value (the literal evaluated)."""
        return ast.literal_eval(self.value)


def _read(source: Path) -> Any:
    import jupytext

    return jupytext.read(source, fmt="md:myst")


def chapter_id(source: Path) -> str:
    """The key of ``source`` in the profile table: ``phantom: {chapter: NN_name}`` from its front
    matter (a copy keeps it), else the file stem."""
    block = _read(source).metadata.get("phantom", {})
    chapter = block.get("chapter") if isinstance(block, Mapping) else None
    return str(chapter) if chapter else Path(source).stem


def notebook_parameters(source: Path) -> list[Parameter]:
    """The parameters a notebook accepts, read from its cell tagged ``parameters``.

    Raises ``ValueError`` when the notebook has no such cell or the cell holds anything but
    plain ``name = literal`` assignments (papermill could not override those reliably).
    """
    notebook = _read(source)
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{Path(source).name}: expected one cell tagged 'parameters', found {len(cells)}")
    code = cells[0].source
    lines = code.splitlines()
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(code + "\n").readline)
                if tok.type == tokenize.COMMENT}
    found = []
    for node in ast.parse(code).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{Path(source).name}: the parameters cell may hold only `name = literal` lines, "
                             f"not {ast.get_source_segment(code, node)!r}")
        value = ast.get_source_segment(code, node.value) or ""
        try:
            ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(f"{Path(source).name}: parameter {node.targets[0].id} = {value} is not a plain literal") from None
        description = comments.get(node.end_lineno or node.lineno, "")
        above = node.lineno - 1
        block: list[str] = []
        while above >= 1 and lines[above - 1].lstrip().startswith("#"):
            block.insert(0, comments[above])
            above -= 1
        description = description or " ".join(block)
        found.append(Parameter(node.targets[0].id, value, description))
    return found


def parse_value(text: str, default: Any = None) -> Any:
    """Read a command-line value: a Python literal (``7``, ``0.5``, ``True``, ``[1, 2]``), else the
    plain string (``standin``). Where the parameter's ``default`` is text, the text as typed
    (``-p data_source 2024`` is the file name "2024", not the number)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return text if isinstance(default, str) and not isinstance(value, str) else value


def _expected(default: Any) -> str:
    """What a value must be, read from the default's type."""
    if isinstance(default, bool):
        return "True or False"
    if is_integer(default):
        return "an integer"
    if is_real(default):
        return "a number"
    if isinstance(default, str):
        return "text"
    if isinstance(default, (list, tuple)):
        return "a list" + (f" of {_expected(default[0]).removeprefix('a ').removeprefix('an ')}s"
                           if default and not isinstance(default[0], (list, tuple, dict)) else "")
    return f"a {type(default).__name__}"


def _conforms(value: Any, default: Any) -> bool:
    """True when ``value`` may replace ``default`` (same kind; an integer where a number is expected)."""
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if is_integer(default):
        return is_integer(value)
    if is_real(default):
        return is_real(value)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple)) and (not default or all(_conforms(v, default[0]) for v in value))
    return isinstance(value, type(default))


def check_parameters(source: Path, values: Mapping[str, Any], declared: Iterable[Parameter] | None = None) -> dict[str, Any]:
    """``values`` checked against the ``parameters`` cell of ``source``; returns them with an
    integer given for a number widened to float.

    Raises :class:`ParameterError` naming every unknown name (with the closest known one and the
    full list), every value whose type differs from its default's, every value outside its range
    (:data:`phantom_lib.book.parameter_ranges.RANGES`) and a ``data_source`` that cannot be read.
    """
    params = {p.name: p for p in (declared if declared is not None else notebook_parameters(source))}
    owner = chapter_id(source)
    problems, checked = [], {}
    for name, value in values.items():
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{owner} has no parameter {name!r}{hint}; its parameters are {', '.join(params)}")
            continue
        default = params[name].default
        if not _conforms(value, default):
            problems.append(problem(owner, name, value, f"{_expected(default)}, like its default {params[name].value}"))
            continue
        value = float(value) if is_real(default) and not is_integer(default) and is_integer(value) else value
        found = data_source_problem(owner, value) if name == "data_source" else range_problem(owner, name, value)
        if found is not None:
            problems.append(found)
            continue
        checked[name] = value
    if problems:
        raise ParameterError("; ".join(problems))
    return checked


def parse_parameters(source: Path, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``phantom run -p NAME VALUE`` pairs read with :func:`parse_value` against each name's
    default, then checked (:func:`check_parameters`)."""
    params = notebook_parameters(source)
    defaults = {p.name: p.default for p in params}
    values = {name: parse_value(text, defaults.get(name)) for name, text in pairs}
    return check_parameters(source, values, params)


def resolve(source: Path, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every value papermill injects into ``source``, checked before its kernel starts: the
    profile's overrides for its :func:`chapter_id`, then ``data_source`` from
    ``$PHANTOM_WHOCLICKED`` (:func:`phantom_lib.book.profiles.data_override`), then ``overrides``,
    then ``profile`` itself (when the chapter declares it)."""
    profiles.check_profile(profile)
    params = notebook_parameters(source)
    names = {p.name for p in params}
    values = profiles.parameters(chapter_id(source), profile)
    values.update(profiles.data_override(names))
    values.update(overrides or {})
    if "profile" in names:
        values["profile"] = profile
    return check_parameters(source, values, params)
