"""The publishing machinery: execute the chapters, build the book, read glued values, check pages.

:func:`build_book` executes every chapter with papermill (parameters from a profile,
:mod:`~phantom_lib.book.profiles`) and runs a strict Jupyter Book build;
:func:`run_notebook` executes one chapter after :mod:`~phantom_lib.book.parameters` has checked
every value it is given against the chapter's ``parameters`` cell, under the quiet kernel manager
of :mod:`~phantom_lib.book.kernel`. :mod:`~phantom_lib.book.glued` reads the values a
chapter glued, :mod:`~phantom_lib.book.reproduction` builds the paper-versus-book table from
them, :mod:`~phantom_lib.book.prose` rejects numbers typed into prose, :mod:`~phantom_lib.book.offline`
keeps the HTML offline, :mod:`~phantom_lib.book.browser` checks the built pages in Chromium, and
:mod:`~phantom_lib.book.nbmd` lets pytest/nbval collect the jupytext sources.
"""

from phantom_lib.book.build import (
    NotebookError,
    build_book,
    execute_notebooks,
    find_notebook,
    notebook_sources,
    parameter_table,
    repo_root,
    run_notebook,
)
from phantom_lib.book.parameters import (
    Parameter,
    ParameterError,
    chapter_id,
    check_parameters,
    notebook_parameters,
    parse_parameters,
    parse_value,
)

__all__ = [
    "NotebookError", "Parameter", "ParameterError", "build_book", "chapter_id", "check_parameters",
    "execute_notebooks", "find_notebook", "notebook_parameters", "notebook_sources", "parameter_table",
    "parse_parameters", "parse_value", "repo_root", "run_notebook",
]
