"""Papermill reads the chapters' jupytext sources: ``papermill notebooks/03_coi.md out.ipynb -p seed 7``.

Papermill reads a notebook through the I/O handler registered for the path's scheme (a prefix such
as ``s3://``) and parses what it returns as ``.ipynb`` JSON, so a jupytext ``.md`` source fails with
``NotJSONError``. The package declares :data:`HANDLER` in the ``papermill.io`` entry-point group
(``pyproject.toml``); papermill loads that group when it starts, which imports this module, and
:func:`_install` puts the handler first for every path (the empty scheme). For a jupytext source
(a ``.md`` file whose front matter declares ``jupytext:``) it returns the notebook as ``.ipynb``
JSON; every other path, and every write, goes to the handler papermill would have used without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _jupytext_source(path: Any) -> bool:
    """True for a local ``.md`` path with jupytext front matter."""
    if not isinstance(path, str) or not path.endswith(".md") or "://" in path:
        return False
    from phantom_lib.book.build import is_jupytext_markdown

    return Path(path).is_file() and is_jupytext_markdown(Path(path))


class JupytextHandler:
    """A papermill I/O handler: jupytext ``.md`` sources read as ``.ipynb`` JSON, the rest delegated."""

    def _other(self, path: Any) -> Any:
        """The handler papermill picks for ``path`` when this one is left out (its own rule: the
        first registered scheme that prefixes the path, else the local handler)."""
        from papermill.iorw import papermill_io

        handlers = [(scheme, h) for scheme, h in papermill_io._handlers if h is not self]
        local = next(h for scheme, h in reversed(handlers) if scheme == "local")
        return next((h for scheme, h in handlers if isinstance(path, str) and path.startswith(scheme)), local)

    def read(self, path: str) -> str:
        """The notebook at ``path`` as ``.ipynb`` JSON (a jupytext source converted in memory)."""
        text = str(self._other(path).read(path))
        if not _jupytext_source(path):
            return text
        import jupytext
        import nbformat

        return str(nbformat.writes(jupytext.reads(text, fmt="md")))

    def write(self, buf: str, path: str) -> Any:
        return self._other(path).write(buf, path)

    def listdir(self, path: str) -> Any:
        return self._other(path).listdir(path)

    def pretty_path(self, path: str) -> Any:
        return self._other(path).pretty_path(path)

    def cwd(self, new_path: str) -> Any:
        """papermill's ``--cwd`` for local files: set on the local handler this one reads through."""
        return self._other("local").cwd(new_path)


HANDLER = JupytextHandler()
"""The handler the ``papermill.io`` entry point names."""


def _install() -> None:
    """Register :data:`HANDLER` for every path (papermill tries handlers last registered first)."""
    from papermill.iorw import papermill_io

    if not any(h is HANDLER and scheme == "" for scheme, h in papermill_io._handlers):
        papermill_io.register("", HANDLER)


_install()
