"""Reading a notebook's parameters cell, and the parameter table of the re-run page."""

from __future__ import annotations

from pathlib import Path

import pytest
from _notebooks import FRONT_MATTER

from phantom_lib.book import build as book
from phantom_lib.book import profiles

HEAD = FRONT_MATTER + """
# T

```{code-cell} ipython3
:tags: [parameters]

"""


def notebook(tmp_path: Path, cell: str, name: str = "01_t.md") -> Path:
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    path = tmp_path / "notebooks" / name
    path.write_text(HEAD + cell + "```\n")
    return path


def test_parameters_with_trailing_and_preceding_comments(tmp_path: Path):
    source = notebook(tmp_path, '''profile = None  # set by papermill
seed = 0  # the one seed of every generator
# number of bootstrap resamples
# (ignored in smoke)
n_boot = 2_000
data_source = "standin"
''')
    assert book.notebook_parameters(source) == [
        book.Parameter("profile", "None", "set by papermill"),
        book.Parameter("seed", "0", "the one seed of every generator"),
        book.Parameter("n_boot", "2_000", "number of bootstrap resamples (ignored in smoke)"),
        book.Parameter("data_source", '"standin"', ""),
    ]


@pytest.mark.parametrize("cell, message", [
    ("import os\n", "only `name = literal` lines"),
    ("seed = len([1])\n", "is not a plain literal"),
    ("a, b = 1, 2\n", "only `name = literal` lines"),
])
def test_parameters_cell_must_hold_plain_literals(tmp_path: Path, cell: str, message: str):
    with pytest.raises(ValueError, match=message):
        book.notebook_parameters(notebook(tmp_path, cell))


def test_parameter_table_shows_each_profile_and_rejects_unknown_overrides(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    notebook(tmp_path, "profile = None\nseed = 0  # seed\nn = 100  # draws\n")
    table = book.parameter_table(tmp_path)
    assert list(table.columns) == ["notebook", "parameter", *profiles.names(), "description"]
    assert table[["parameter", "full", "smoke"]].values.tolist() == [["seed", "0", "0"], ["n", "100", "100"]]
    monkeypatch.setitem(profiles.PROFILES["smoke"], "01_t", {"n": 10})
    assert book.parameter_table(tmp_path)["smoke"].tolist() == ["0", "10"]
    monkeypatch.setitem(profiles.PROFILES["smoke"], "01_t", {"n_draws": 10})
    with pytest.raises(ValueError, match=r"overrides \['n_draws'\] in 01_t, which has no such parameter"):
        book.parameter_table(tmp_path)


def test_every_chapter_has_a_readable_parameters_cell_and_valid_profiles():
    table = book.parameter_table()
    assert set(table["notebook"]) == {p.stem for p in book.notebook_sources()}
