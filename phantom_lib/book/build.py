"""Execute the book's notebooks with papermill and build the HTML with Jupyter Book.

The notebooks' sources are jupytext MyST files ``notebooks/NN_name.md``. ``phantom book``
executes each of them with papermill (parameters injected from a profile), writes the
executed ``.ipynb`` under ``book/chapters/`` (git-ignored, referenced by ``_toc.yml``),
then executes the book pages that are notebooks too (``book/*.md`` with jupytext front
matter, such as the reproduction table, which reads the chapters' glued values), and
finally runs a strict ``jupyter-book build`` that does not execute anything again.
"""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import tokenize
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phantom_lib.book import profiles

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


def parse_value(text: str) -> Any:
    """Read a command-line parameter value as a Python literal (``7``, ``0.5``, ``True``,
    ``[1, 2]``), falling back to the plain string (``standin``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_notebook(
    source: Path,
    output: Path,
    profile: str = profiles.DEFAULT_PROFILE,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Execute one jupytext notebook with papermill and write the executed ``.ipynb``.

    Parameters injected: the profile's overrides for this notebook, then ``data_source`` from
    ``$PHANTOM_WHOCLICKED`` when set (:func:`phantom_lib.book.profiles.data_override`), then
    ``overrides``, then ``profile`` itself. Raises :class:`NotebookError` naming the notebook and the failing cell.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    profiles.check_profile(profile)
    source = Path(source).resolve()
    parameters = profiles.parameters(source.stem, profile)
    parameters.update(profiles.data_override({p.name for p in notebook_parameters(source)}))
    parameters.update(overrides or {})
    parameters["profile"] = profile
    notebook = jupytext.read(source, fmt="md:myst")
    if "parameters" not in {t for c in notebook.cells for t in c.get("metadata", {}).get("tags", [])}:
        raise NotebookError(f"{source.name}: no cell tagged 'parameters' to inject {sorted(parameters)} into")
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
            )
    except PapermillExecutionError as err:
        raise NotebookError(
            f"notebook {source.name} failed in {_describe_cell(notebook, source, err.source)}: "
            f"{err.ename}: {err.evalue}\nthe partly executed notebook is {output}"
        ) from None
    return output


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


def _describe_cell(notebook: Any, source: Path, cell_source: str) -> str:
    """Name a failing cell as the reader sees it: its number among the source's code cells
    (from 1) and the line of the ``.md`` file where its code starts."""
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    number = code.index(cell_source) + 1 if cell_source in code else None
    first = next((line for line in cell_source.splitlines() if line.strip()), "")
    text = source.read_text(encoding="utf-8").splitlines()
    line = next((i + 1 for i, row in enumerate(text) if first and row == first), None)
    where = f"code cell {number}" if number else "a code cell"
    return where + (f" (line {line}: {first.strip()!r})" if line else "")


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


@dataclass(frozen=True)
class Parameter:
    """One assignment of a notebook's ``parameters`` cell: ``name = value  # description``.

    ``value`` is the literal's source text (the ``full`` profile's default); ``description``
    is the trailing comment, or else the comment lines just above the assignment, joined.
    """

    name: str
    value: str
    description: str


def notebook_parameters(source: Path) -> list[Parameter]:
    """The parameters a notebook accepts, read from its cell tagged ``parameters``.

    Raises ``ValueError`` when the notebook has no such cell or the cell holds anything but
    plain ``name = literal`` assignments (papermill could not override those reliably).
    """
    import jupytext

    notebook = jupytext.read(source, fmt="md:myst")
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
        for name in profiles.names():
            unknown = sorted(set(profiles.parameters(source.stem, name)) - known)
            if unknown:
                raise ValueError(f"profile {name!r} overrides {unknown} in {source.stem}, which has no such "
                                 f"parameter; its parameters are {sorted(known)}")
        for p in params:
            record = {"notebook": source.stem, "parameter": p.name}
            for name in profiles.names():
                overrides = profiles.parameters(source.stem, name)
                record[name] = repr(overrides[p.name]) if p.name in overrides else p.value
            record["description"] = p.description
            records.append(record)
    return pandas.DataFrame.from_records(
        records, columns=["notebook", "parameter", *profiles.names(), "description"])
