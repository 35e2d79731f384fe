"""Read the values a notebook glued (``myst_nb.glue``) back out of its executed ``.ipynb``.

``glue(name, value)`` stores the value's display form (a MIME bundle: ``text/plain`` always,
``image/png`` for a figure, ``text/html`` for a table) in a cell output whose metadata names
it. Pages that compare or collect results (the reproduction table) read these stored outputs,
so every number they show was computed by a chapter, never typed.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NUMPY_SCALAR = re.compile(r"^np\.(?:float|int|uint|bool|complex|str)\w*\((?P<inner>.*)\)$", re.S)


class MissingGlue(KeyError):
    """A notebook does not glue a name that a reader of its results requires."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Glued:
    """One glued output: its ``name`` and MIME bundle ``data`` (mime type -> content)."""

    name: str
    data: Mapping[str, Any]

    @property
    def text(self) -> str:
        """The ``text/plain`` form, as the notebook displayed it."""
        text = self.data.get("text/plain", "")
        return "".join(text) if isinstance(text, list) else str(text)

    @property
    def value(self) -> Any:
        """The Python value of the ``text/plain`` form: a number, string, bool, tuple, list or
        dict (numpy scalars such as ``np.float64(0.5)`` are unwrapped).

        Raises ``ValueError`` naming the glue when the form is not a plain literal (a figure,
        a DataFrame): read those through :attr:`data`.
        """
        text = self.text.strip()
        match = _NUMPY_SCALAR.match(text)
        try:
            return ast.literal_eval(match["inner"] if match else text)
        except (ValueError, SyntaxError):
            raise ValueError(
                f"glue {self.name!r} is not a plain value (text/plain is {text[:60]!r}); "
                f"its MIME types are {sorted(self.data)}"
            ) from None


def read(notebook: str | Path) -> dict[str, Glued]:
    """Every glued output of an executed notebook, by name, in cell order.

    Raises ``FileNotFoundError`` when the notebook does not exist and ``ValueError`` when one
    name is glued twice (the book build would refuse it too).
    """
    path = Path(notebook)
    if not path.exists():
        raise FileNotFoundError(f"no executed notebook at {path}: run `phantom book` (or `phantom run`) first")
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    found: dict[str, Glued] = {}
    for cell in cells:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if not scrapbook:
                continue
            name = scrapbook["name"]
            prefix = len(scrapbook.get("mime_prefix", ""))
            if name in found:
                raise ValueError(f"{path.name} glues {name!r} more than once")
            found[name] = Glued(name, {mime[prefix:]: content for mime, content in output["data"].items()})
    return found


def values(notebook: str | Path, names: Iterable[str]) -> dict[str, Any]:
    """The plain values of ``names`` glued by ``notebook``.

    Raises :class:`MissingGlue` listing every missing name and what the notebook does glue.
    """
    glued = read(notebook)
    names = list(names)
    missing = [n for n in names if n not in glued]
    if missing:
        raise MissingGlue(
            f"{Path(notebook).name} does not glue {missing}; it glues {sorted(glued) or 'nothing'}. "
            "Add `glue(name, value, display=False)` to the chapter or fix the name in the reader."
        )
    return {n: glued[n].value for n in names}


def snapshot(chapters_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every glued value of every executed notebook in ``chapters_dir``, for comparing two builds.

    Returns ``{"NN_name:glue_name": {"text": ..., "kind": ..., "timing": ...}}``: the ``text/plain``
    form (figures and tables by kind only), the kind (``text``, ``figure``, ``html``) and whether
    the gluing cell is tagged ``nbval-ignore-output`` (a timing, expected to change run to run).
    """
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(chapters_dir).glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            timing = "nbval-ignore-output" in cell.get("metadata", {}).get("tags", [])
            for output in cell.get("outputs", []):
                scrapbook = output.get("metadata", {}).get("scrapbook")
                if not scrapbook:
                    continue
                prefix = len(scrapbook.get("mime_prefix", ""))
                glued = Glued(scrapbook["name"], {m[prefix:]: c for m, c in output["data"].items()})
                kind = "figure" if "image/png" in glued.data else "html" if "text/html" in glued.data else "text"
                out[f"{path.stem}:{glued.name}"] = {"text": glued.text if kind == "text" else "", "kind": kind,
                                                    "timing": timing}
    return out


def differences(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What changed between two :func:`snapshot` results, timings left out: one line per glue
    that disappeared, appeared, or shows a different value."""
    lines = [f"only before: {k}" for k in sorted(set(before) - set(after))]
    lines += [f"only after: {k}" for k in sorted(set(after) - set(before))]
    lines += [f"changed: {k}: {before[k]['text']!r} -> {after[k]['text']!r}"
              for k in sorted(set(before) & set(after))
              if not (before[k]["timing"] or after[k]["timing"]) and before[k] != after[k]]
    return lines


@dataclass(frozen=True)
class Figure:
    """A chapter figure read back from its executed notebook: the PNG bytes and the caption as written
    (``mystnb: figure: caption`` of the cell, glue roles unresolved)."""

    label: str
    png: bytes
    caption: str


def figure(notebook: str | Path, label: str) -> Figure:
    """The figure labelled ``label`` (the cell's ``mystnb: figure: name``) in an executed notebook.

    Raises ``FileNotFoundError`` for a missing notebook and ``KeyError`` naming the labels the notebook
    has when no cell carries ``label`` or the cell shows no PNG.
    """
    import base64

    path = Path(notebook)
    if not path.exists():
        raise FileNotFoundError(f"no executed notebook at {path}: run `phantom book` (or `phantom run`) first")
    labels = []
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        spec = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        labels.append(spec.get("name"))
        if spec.get("name") != label:
            continue
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                return Figure(label, base64.b64decode("".join(png) if isinstance(png, list) else png),
                              " ".join(str(spec.get("caption", "")).split()))
    raise KeyError(f"{path.name} shows no PNG figure labelled {label!r}; its figures are "
                   f"{sorted(n for n in labels if n)}")
