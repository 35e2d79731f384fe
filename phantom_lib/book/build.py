"""Execute the book's notebooks with papermill and build the HTML with Jupyter Book.

The notebooks' sources are jupytext MyST files ``notebooks/NN_name.md``. ``phantom book``
executes each of them with papermill (parameters injected from a profile), writes the
executed ``.ipynb`` under ``book/chapters/`` (git-ignored, referenced by ``_toc.yml``),
then executes the book pages that are notebooks too (``book/*.md`` with jupytext front
matter, such as the reproduction table, which reads the chapters' glued values), and
finally runs a strict ``jupyter-book build`` that does not execute anything again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phantom_lib.book import profiles
from phantom_lib.book.parameters import chapter_id, notebook_parameters, resolve

if TYPE_CHECKING:
    import pandas

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
"""The kernel's matplotlib backend while a notebook executes, whatever the caller's
``MPLBACKEND`` (the tests set ``Agg``, under which a kernel would show no figure at all)."""

NOTEBOOK_GLOB = "[0-9][0-9]_*.md"
CHAPTERS_DIR = Path("book") / "chapters"


class NotebookError(RuntimeError):
    """A notebook failed to execute; the message names the notebook and the cell."""


def repo_root() -> Path:
    """The repository root (the folder that holds ``_toc.yml`` and ``phantom_lib/``)."""
    return Path(__file__).resolve().parents[2]


def notebook_sources(root: Path | None = None) -> list[Path]:
    """The notebook sources ``notebooks/NN_*.md`` of ``root``, in reading order."""
    return sorted(((root or repo_root()) / "notebooks").glob(NOTEBOOK_GLOB))


def is_jupytext_markdown(path: Path) -> bool:
    """True for a ``.md`` file whose YAML front matter declares a ``jupytext:`` block."""
    if path.suffix != ".md":
        return False
    with path.open(encoding="utf-8") as handle:
        head = handle.read(2000)
    if not head.startswith("---"):
        return False
    front = head.split("---", 2)[1] if head.count("---") >= 2 else ""
    return "jupytext:" in front


def page_sources(root: Path | None = None) -> list[Path]:
    """The book pages that are notebooks (``book/*.md`` with jupytext front matter), sorted.

    They are executed after the chapters, in the ``book/`` folder, so they can read the
    executed chapters under ``chapters/``.
    """
    return sorted(p for p in ((root or repo_root()) / "book").glob("*.md") if is_jupytext_markdown(p))


def find_notebook(spec: str, root: Path | None = None) -> Path:
    """Resolve ``spec`` (a path, a file stem, or a two-digit number like ``"03"``) to a source."""
    path = Path(spec)
    if path.suffix == ".md" and path.exists():
        return path.resolve()
    matches = [p for p in notebook_sources(root) if p.stem == spec or p.stem.split("_")[0] == spec]
    if len(matches) != 1:
        known = ", ".join(p.stem for p in notebook_sources(root))
        raise FileNotFoundError(f"no single notebook matches {spec!r}; known notebooks: {known}")
    return matches[0]


def run_notebook(
    source: Path,
    output: Path,
    profile: str = profiles.DEFAULT_PROFILE,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Execute one jupytext notebook with papermill and write the executed ``.ipynb``.

    Parameters injected (:func:`phantom_lib.book.parameters.resolve`, checked before the kernel
    starts: :class:`~phantom_lib.book.parameters.ParameterError` for an unknown name or a value of
    the wrong type): the profile's overrides for this notebook, then ``data_source`` from
    ``$PHANTOM_WHOCLICKED`` when set, then ``overrides``, then ``profile`` itself. The kernel runs
    under :class:`~phantom_lib.book.kernel.BookKernelManager`. Raises :class:`NotebookError` naming
    the notebook, the failing cell and the failing line of the ``.md`` source.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from phantom_lib.book.kernel import BookKernelManager

    source = Path(source).resolve()
    parameters = resolve(source, profile, overrides)
    notebook = jupytext.read(source, fmt="md:myst")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _environment({profiles.ENV_VAR: profile, "MPLBACKEND": INLINE_BACKEND}):
            papermill.execute_notebook(
                notebook,
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(source.parent),
                kernel_manager_class=BookKernelManager,
            )
    except PapermillExecutionError as err:
        raise NotebookError(
            f"notebook {source.name} failed in {_describe_cell(notebook, source, err.source, err.traceback)}: "
            f"{err.ename}: {err.evalue}\nthe partly executed notebook is {output}"
        ) from None
    hide_injected_parameters(output)
    return output


def hide_injected_parameters(path: Path) -> None:
    """Tag the cell papermill injected (``injected-parameters``) ``remove-cell`` in the executed
    notebook at ``path``, so the book shows the chapter's own parameters cell and not a copy of its
    values. papermill writes that cell's tags itself, so a source notebook cannot hide it."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
            changed = True
    if changed:
        nbformat.write(notebook, path)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the kernel papermill starts), then restore them."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")


def _describe_cell(notebook: Any, source: Path, cell_source: str, traceback: Sequence[str] = ()) -> str:
    """Name a failing cell as the reader sees it: its number among the source's code cells
    (from 1), and the line of the ``.md`` file that failed (IPython's ``Cell In[n], line k``
    frame of ``traceback``; the cell's first line when the traceback names none) with its text."""
    text = source.read_text(encoding="utf-8")
    cursor, start, number = 0, None, None
    for index, cell in enumerate(c.source for c in notebook.cells if c.cell_type == "code"):
        found = text.find(cell, cursor) if cell else -1
        cursor = found + len(cell) if found >= 0 else cursor
        if cell == cell_source:
            number, start = index + 1, (text.count("\n", 0, found) + 1 if found >= 0 else None)
            break
    where = f"code cell {number}" if number else "a code cell"
    if start is None:
        return where
    frame = _CELL_FRAME.search(_ANSI.sub("", "\n".join(traceback)))
    offset = int(frame.group(1)) - 1 if frame else next(
        (i for i, row in enumerate(cell_source.splitlines()) if row.strip()), 0)
    rows = cell_source.splitlines()
    shown = rows[offset].strip() if 0 <= offset < len(rows) else ""
    return f"{where} (line {start + offset}: {shown!r})"


def chapter_path(source: Path, root: Path) -> Path:
    """Where the executed notebook of ``source`` goes inside the book tree."""
    return root / CHAPTERS_DIR / f"{source.stem}.ipynb"


def execute_notebooks(
    profile: str, only: Iterable[str] = (), root: Path | None = None
) -> list[Path]:
    """Execute the book's notebooks (all, or those named in ``only`` plus any chapter that
    has no executed notebook yet), then every page of :func:`page_sources` (they depend on
    the chapters); return the executed paths, chapters in reading order, then the pages."""
    root = root or repo_root()
    sources = notebook_sources(root)
    chosen = {find_notebook(s, root) for s in only}
    stale = [s for s in sources if not chosen or s in chosen or not chapter_path(s, root).exists()]
    unexecuted = [s.stem for s in stale if chosen and s not in chosen]
    if unexecuted:
        print(f"[phantom] --only: also executing {', '.join(unexecuted)}: they have no executed notebook "
              "yet and the book needs every chapter (later --only runs re-execute just the chapters named)",
              flush=True)
    for source in stale + page_sources(root):  # every parameter checked before the first kernel starts
        resolve(source, profile)
    for source in stale + page_sources(root):
        print(f"[phantom] executing {source.relative_to(root)} (profile {profile})", flush=True)
        run_notebook(source, chapter_path(source, root), profile)
    return [chapter_path(s, root) for s in sources + page_sources(root)]


def build_html(root: Path | None = None) -> Path:
    """Strict ``jupyter-book build`` of the executed chapters; returns ``index.html``.

    Warnings are errors (``-W -n --keep-going --all``); nothing is executed again.
    """
    root = root or repo_root()
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(root), "-W", "-n", "--keep-going", "--all"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {result.returncode}); see the warnings above")
    index = root / "_build" / "html" / "index.html"
    if not index.exists():
        raise RuntimeError(f"jupyter-book build finished but {index} is missing")
    return index


def build_book(profile: str, only: Sequence[str] = (), root: Path | None = None) -> Path:
    """Execute the notebooks for ``profile`` and build the HTML book; returns ``index.html``."""
    execute_notebooks(profile, only, root)
    index = build_html(root)
    print(f"[phantom] book built: {index}", flush=True)
    return index


def parameter_table(root: Path | None = None) -> "pandas.DataFrame":
    """Every chapter's parameters with their value in each profile, as one table.

    Columns: ``notebook``, ``parameter``, one column per profile (the value papermill injects;
    the literal when the profile does not override it) and ``description``. The ``profile``
    parameter itself is left out. Raises ``ValueError`` when a profile overrides a parameter
    that a notebook does not have (papermill would only warn and the override would be lost).
    """
    import pandas

    records = []
    for source in notebook_sources(root):
        params = [p for p in notebook_parameters(source) if p.name != "profile"]
        known = {p.name for p in params}
        key = chapter_id(source)
        for name in profiles.names():
            unknown = sorted(set(profiles.parameters(key, name)) - known)
            if unknown:
                raise ValueError(f"profile {name!r} overrides {unknown} in {key}, which has no such "
                                 f"parameter; its parameters are {sorted(known)}")
        for p in params:
            record = {"notebook": source.stem, "parameter": p.name}
            for name in profiles.names():
                overrides = profiles.parameters(key, name)
                record[name] = repr(overrides[p.name]) if p.name in overrides else p.value
            record["description"] = p.description
            records.append(record)
    return pandas.DataFrame.from_records(
        records, columns=["notebook", "parameter", *profiles.names(), "description"])
