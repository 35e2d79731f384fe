"""Tables of a configuration class's fields, defaults and meanings, read from the code itself.

The book's Model reference page shows every default the library computes with. Typing those
numbers into prose would let them drift from the code; instead the page calls
:func:`defaults_table` on the configuration classes, which reads each field's default from the
dataclass and its meaning from the ``Attributes:`` section of the class docstring.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pandas as pd

_ATTRIBUTE = re.compile(r"^(?P<names>[A-Za-z_][\w, ]*?):\s+(?P<text>.+)$")
_ROLE = re.compile(r":\w+:`~?(?P<target>[^`]+)`")
_LITERAL = re.compile(r"``(?P<text>[^`]+)``")


def plain(text: str) -> str:
    """Docstring markup as plain text: ``:class:`~a.b.C``` becomes ``C``, double-backquoted literals lose their quotes."""
    text = _ROLE.sub(lambda m: m["target"].rsplit(".", 1)[-1], text)
    return _LITERAL.sub(lambda m: m["text"], text)


def attribute_docs(cls: type) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` section of ``cls``'s docstring.

    An entry may name several fields (``p_low, p_high: price bounds``); continuation lines
    (indented deeper) are joined to their entry.
    """
    doc = inspect.getdoc(cls) or ""
    if "Attributes:" not in doc:
        return {}
    section = doc.split("Attributes:", 1)[1].splitlines()
    out: dict[str, str] = {}
    current: list[str] = []
    indent = None
    for line in section:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break
        match = _ATTRIBUTE.match(line.strip()) if width == indent else None
        if match:
            current = [n.strip() for n in match["names"].split(",")]
            for name in current:
                out[name] = match["text"].strip()
        elif current:
            for name in current:
                out[name] += " " + line.strip()
    return out


def defaults_table(cls: type, symbols: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per field of the dataclass ``cls``: its name, symbol, default and meaning.

    Args:
        cls: a dataclass (fields without a default show "required").
        symbols: optional ``{field: math symbol}`` shown in a ``symbol`` column.

    Returns:
        a frame with columns ``field``, ``symbol``, ``default``, ``meaning`` (fields whose default
        is another configuration object are shown by class name).
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"defaults_table needs a dataclass; got {cls!r}")
    docs = attribute_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default: Any
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            made = f.default_factory()  # type: ignore[misc]
            default = type(made).__name__ if dataclasses.is_dataclass(made) else made
        else:
            default = "required"
        rows.append({"field": f.name, "symbol": (symbols or {}).get(f.name, ""), "default": repr(default)
                     if isinstance(default, str) and default != "required" else default,
                     "meaning": plain(docs.get(f.name, ""))})
    return pd.DataFrame(rows, columns=["field", "symbol", "default", "meaning"])
