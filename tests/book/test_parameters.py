"""Reading a notebook's parameters cell, and the parameter table of the re-run page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _notebooks import FRONT_MATTER

from phantom_lib import book
from phantom_lib.book import build, profiles
from phantom_lib.book import parameters as book_parameters

PHANTOM = Path(sys.executable).parent / "phantom"

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


# --------------------------------------------------------------------------- checked before the kernel


@pytest.fixture
def chapter(tmp_path: Path) -> Path:
    return notebook(tmp_path, 'profile = None\nseed = 0\nrate = 0.5\nname = "standin"\nsizes = [5, 13]\n'
                              'alphas = [0.1, 0.4]\nloo = True\nextra = None\n')


def test_an_unknown_name_lists_the_known_ones_and_suggests_the_closest(chapter: Path):
    with pytest.raises(book.ParameterError) as caught:
        book.check_parameters(chapter, {"sead": 1})
    assert str(caught.value) == ("01_t has no parameter 'sead' (did you mean 'seed'?); its parameters are "
                                 "profile, seed, rate, name, sizes, alphas, loo, extra")
    with pytest.raises(book.ParameterError, match=r"^01_t has no parameter 'nosuch'; its parameters are profile"):
        book.check_parameters(chapter, {"nosuch": 1})


@pytest.mark.parametrize("name, value, expected", [
    ("seed", "abc", "an integer, like its default 0"),
    ("seed", 1.5, "an integer, like its default 0"),
    ("seed", True, "an integer, like its default 0"),
    ("rate", "x", "a number, like its default 0.5"),
    ("rate", False, "a number, like its default 0.5"),
    ("name", 3, 'text, like its default "standin"'),
    ("sizes", 5, "a list of integers, like its default [5, 13]"),
    ("sizes", [5, 1.5], "a list of integers, like its default [5, 13]"),
    ("alphas", ["a"], "a list of numbers, like its default [0.1, 0.4]"),
    ("loo", 1, "True or False, like its default True"),
])
def test_a_value_of_the_wrong_type_is_refused(chapter: Path, name: str, value, expected: str):
    with pytest.raises(book.ParameterError) as caught:
        book.check_parameters(chapter, {name: value})
    assert str(caught.value) == f"01_t.{name} = {value!r}: expected {expected}"


def test_values_of_the_default_type_pass_and_integers_widen_to_numbers(chapter: Path):
    given = {"seed": 3, "rate": 1, "name": "x.csv", "sizes": [1], "alphas": [0, 0.5], "loo": False,
             "extra": {"any": "thing"}, "profile": "smoke"}
    checked = book.check_parameters(chapter, given)
    assert checked == given and type(checked["rate"]) is float


def test_command_line_text_is_read_by_the_default_type(chapter: Path):
    assert book.parse_parameters(chapter, [("seed", "7"), ("name", "2024"), ("rate", "1"), ("alphas", "[0.2]")]) == {
        "seed": 7, "name": "2024", "rate": 1.0, "alphas": [0.2]}
    assert book.parse_value("2024", default="standin") == "2024" and book.parse_value("2024") == 2024
    with pytest.raises(book.ParameterError, match=r"01_t\.seed = 'abc': expected an integer"):
        book.parse_parameters(chapter, [("seed", "abc")])


def test_a_copied_chapter_keeps_its_origins_profile_overrides(tmp_path: Path):
    origin = book.find_notebook("03")
    copy = tmp_path / "notebooks" / "08_my_coi.md"
    copy.parent.mkdir()
    copy.write_text(origin.read_text())
    assert book.chapter_id(copy) == "03_coi" and book.chapter_id(notebook(tmp_path, "seed = 0\n")) == "01_t"
    smoke = profiles.parameters("03_coi", "smoke")
    assert smoke and book_parameters.resolve(copy, "smoke") == {**smoke, "profile": "smoke"}
    table = book.parameter_table(tmp_path).set_index("parameter")
    for name, value in smoke.items():
        assert table.loc[name, "smoke"] == repr(value)


def test_every_chapter_accepts_every_profile_it_is_given():
    for source in book.notebook_sources():
        assert book.chapter_id(source) == source.stem  # the front matter names the chapter itself
        for name in profiles.names():
            assert book_parameters.resolve(source, name)["profile"] == name


def test_phantom_run_refuses_bad_parameters_before_a_kernel_starts(tmp_path: Path):
    out = tmp_path / "out.ipynb"
    not_data = tmp_path / "notes.csv"
    not_data.write_text("a,b\n1,2\n")  # a readable file, but not WhoClickedIt
    for args, message in [
        (["-p", "nosuch", "1"], "phantom run: error: 03_coi has no parameter 'nosuch'; its parameters are profile, seed,"),
        (["-p", "n_drawz", "5"], "phantom run: error: 03_coi has no parameter 'n_drawz' (did you mean 'n_draws'?);"),
        (["-p", "seed", "abc"], "phantom run: error: 03_coi.seed = 'abc': expected an integer, like its default 0"),
        (["-p", "seed", "-1"], "phantom run: error: 03_coi.seed = -1: expected an integer >= 0\n"),
        (["-p", "n_draws", "0"], "phantom run: error: 03_coi.n_draws = 0: expected an integer >= 1\n"),
        (["-p", "data_source", str(tmp_path / "nowhere.csv")],
         f"phantom run: error: 03_coi.data_source = '{tmp_path / 'nowhere.csv'}': expected 'standin', 'hub' or a "
         "readable whoclicked.csv (data source"),
        (["-p", "data_source", str(not_data)], f"phantom run: error: 03_coi.data_source = '{not_data}': expected "
         "'standin', 'hub' or a readable whoclicked.csv ("),
    ]:
        result = subprocess.run([str(PHANTOM), "run", "03", *args, "-o", str(out)], capture_output=True, text=True)
        assert result.returncode == 1 and result.stderr.startswith(message), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Executing" not in result.stderr and not out.exists()  # papermill never started


def test_the_book_checks_every_chapters_parameters_before_executing_any(tmp_path: Path, monkeypatch):
    first = notebook(tmp_path, "profile = None\nseed = 0\n", "01_a.md")
    notebook(tmp_path, "profile = None\nn = 10\n", "02_b.md")
    monkeypatch.setitem(profiles.PROFILES["smoke"], "02_b", {"n": "ten"})
    with pytest.raises(book.ParameterError, match=r"02_b\.n = 'ten': expected an integer"):
        build.execute_notebooks("smoke", root=tmp_path)
    assert not build.chapter_path(first, tmp_path).exists()


@pytest.mark.parametrize("chapter", book.notebook_sources(), ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_line_without_a_warning(chapter: Path, tmp_path: Path, caplog):
    """papermill parses the parameters cell itself (to inject and to list parameters); a comment it
    cannot read makes every run print 'Unable to parse line ...' (an '=' inside a comment did)."""
    import jupytext
    import papermill

    notebook = tmp_path / f"{chapter.stem}.ipynb"
    jupytext.write(jupytext.read(chapter), notebook)
    with caplog.at_level("WARNING"):
        names = papermill.inspect_notebook(str(notebook))
    assert not [r.getMessage() for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert names


@pytest.mark.parametrize("name, value, expected", [
    ("seed", -1, "an integer >= 0"),
    ("n_boot", 0, "an integer >= 1"),
    ("headline_alpha", 1.5, "a finite number in [0, 1]"),
    ("power_alpha", 0.0, "a finite number in (0, 1)"),
    ("temperature", 0.0, "a finite number > 0"),
    ("alphas", [0.1, 1.2], "a list whose items are a finite number in [0, 1]"),
    ("engine", "torch", "one of 'jax', 'sb3'"),
])
def test_a_value_outside_its_declared_range_is_refused(name: str, value, expected: str):
    assert book_parameters.range_problem("07_x", name, value) == f"07_x.{name} = {value!r}: expected {expected}"


def test_every_declared_range_names_a_parameter_and_every_default_is_inside_it():
    from phantom_lib.book.parameter_ranges import RANGES

    declared = {}
    for source in book.notebook_sources() + build.page_sources():
        for p in book_parameters.notebook_parameters(source):
            declared[(source.stem, p.name)] = p.default
    assert set(RANGES) <= {name for _, name in declared}  # no range for a name no chapter has (a typo)
    outside = [(chapter, name, value) for (chapter, name), value in declared.items()
               if book_parameters.range_problem(chapter, name, value) is not None]
    assert outside == []
