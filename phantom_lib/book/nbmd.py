"""pytest plugin: let nbval collect jupytext MyST notebooks (``.md``) in place.

Enabled from the repository's ``conftest.py`` (or ``pytest -p phantom_lib.book.nbmd``). With
``--nbval`` or ``--nbval-lax``, every ``.md`` file whose front matter has a ``jupytext:``
block is collected as a notebook; nbval's reader is swapped for one that converts such
files with jupytext, so no ``.ipynb`` is ever written next to the sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbval import plugin as nbval_plugin

from phantom_lib.book.build import is_jupytext_markdown


class _JupytextAwareReader:
    """Stands in for the ``nbformat`` module inside nbval: reads ``.md`` through jupytext."""

    def __getattr__(self, name: str) -> Any:
        return getattr(nbformat, name)

    @staticmethod
    def read(path: str, as_version: int = 4) -> nbformat.NotebookNode:
        if path.endswith(".md"):
            import jupytext

            return jupytext.read(path, fmt="md:myst")
        return nbformat.read(path, as_version=as_version)


nbval_plugin.nbformat = _JupytextAwareReader()  # type: ignore[assignment]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect jupytext ``.md`` notebooks when nbval is switched on."""
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and is_jupytext_markdown(file_path):
        return nbval_plugin.IPyNbFile.from_parent(parent, path=file_path)
    return None
