"""Provenance that cannot lie: generated rows are synthetic wherever they live, every other file is
user-supplied (never "real"), and `phantom data standin` never overwrites a file unasked."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_data import fixture_rows, write

from phantom_lib import cli, data
from phantom_lib.data import sources
from phantom_lib.data.schema import STANDIN_HEADER
from phantom_lib.standin import model as standin_model
from phantom_lib.standin import rows as standin


@pytest.fixture(scope="module")
def seed3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`phantom data standin --seed 3 -o FILE`: a stand-in the shipped sha256 knows nothing about."""
    path = tmp_path_factory.mktemp("standin") / "mine.csv.gz"
    assert cli.main(["data", "standin", "--seed", "3", "-o", str(path)]) == 0
    return path


def test_a_generated_file_is_synthetic_under_any_name_compressed_or_not(seed3: Path, tmp_path: Path):
    plain = tmp_path / "whoclicked.csv"  # the real file's name, decompressed
    plain.write_bytes(gzip.decompress(seed3.read_bytes()))
    copy = tmp_path / "data" / "real_whoclicked.csv.gz"
    copy.parent.mkdir()
    shutil.copy(data.STANDIN_PATH, copy)
    for path in (seed3, plain, copy):
        prov = data.load(path).provenance
        assert (prov.kind, prov.label, prov.synthetic_rows) == ("path", "synthetic", prov.rows)
        assert prov.banner().startswith("> **SYNTHETIC STAND-IN DATA**")
        assert "Real" not in prov.banner() and "user-supplied" not in prov.banner().lower()
        assert prov.as_dict()["label"] == "synthetic" and prov.as_dict()["synthetic"] is True


def test_generated_rows_mixed_into_another_file_are_counted(seed3: Path, tmp_path: Path):
    generated = pd.read_csv(seed3, dtype=str, keep_default_na=False).head(40)
    other = pd.DataFrame(fixture_rows()).reindex(columns=generated.columns, fill_value="")
    mixed = tmp_path / "mixed.csv"
    pd.concat([other, generated]).to_csv(mixed, index=False)
    prov = data.load(mixed).provenance
    assert prov.label == "synthetic" and prov.synthetic_rows == 40 and prov.rows == 40 + len(other)
    assert f"(40 of the {prov.rows:,} rows)" in prov.banner()


def test_any_other_file_is_user_supplied_until_it_matches_a_published_checksum(tmp_path: Path, monkeypatch):
    path = write(tmp_path / "whoclicked.csv", fixture_rows())
    prov = data.load(path).provenance
    assert (prov.label, prov.synthetic) == ("user-supplied", False)
    assert prov.banner().startswith("> **User-supplied data**") and "publishes no checksum" in prov.banner()
    assert sources.PUBLISHED_SHA256 == frozenset()  # the study publishes none: nothing is ever "published"
    monkeypatch.setattr(sources, "PUBLISHED_SHA256", frozenset({prov.sha256}))
    assert data.load(path).provenance.label == "published"
    assert "matches the study's" in data.load(path).provenance.banner()


def test_the_marker_names_the_generator_and_its_configuration():
    config = standin_model.StandinConfig(seed=5, scale=2, admin_views=1)
    assert STANDIN_HEADER in standin.marker(config) and "seed=5 scale=2 admin_views=1" in standin.marker(config)
    frame = standin.generate(standin_model.StandinConfig(seed=1))
    assert (frame["kafka_headers"] == standin.marker(standin_model.StandinConfig(seed=1))).all()


def test_standin_never_overwrites_a_file_unless_forced(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exited:  # no -o: the shipped stand-in is not a default target
        cli.main(["data", "standin", "--seed", "3"])
    assert exited.value.code == 2 and "-o/--output" in capsys.readouterr().err
    target = tmp_path / "standin.csv.gz"
    target.write_bytes(b"keep me")
    assert cli.main(["data", "standin", "--seed", "3", "-o", str(target)]) == 1
    assert target.read_bytes() == b"keep me"
    err = capsys.readouterr().err.strip()
    assert err == (f"phantom data standin: error: {target} already exists: choose another file, or pass "
                   "--force (overwrite=True) to replace it")
    assert cli.main(["data", "standin", "--seed", "3", "-o", str(target), "--force"]) == 0
    assert data.load(target).provenance.label == "synthetic"
    with pytest.raises(FileExistsError):
        standin.write(data.STANDIN_PATH, standin_model.StandinConfig(seed=3))  # the library refuses too


@pytest.mark.parametrize("chapter", sorted(Path(data.STANDIN_PATH).parents[1].glob("notebooks/[0-9][0-9]_*.md")),
                         ids=lambda p: p.stem)
def test_every_chapter_that_loads_data_shows_the_provenance_banner(chapter: Path):
    text = chapter.read_text()
    if "data.load(data_source)" in text:
        assert ".banner()" in text, f"{chapter.name} loads data but shows no provenance banner"


def test_chapter_01_run_on_a_copy_of_the_standin_labels_it_synthetic(tmp_path: Path):
    """The issue's case: `phantom run 01 -p data_source COPY` once called the copy "Real WhoClickedIt data"."""
    import subprocess
    import sys

    import nbformat

    copy = tmp_path / "whoclicked.csv.gz"
    shutil.copy(data.STANDIN_PATH, copy)
    out = tmp_path / "01.ipynb"
    subprocess.run([str(Path(sys.executable).parent / "phantom"), "run", "01", "--profile", "smoke",
                    "-p", "data_source", str(copy), "-o", str(out)], check=True, capture_output=True)
    shown = [o.get("data", {}).get("text/markdown", "") for c in nbformat.read(out, as_version=4).cells
             if c.cell_type == "code" for o in c.get("outputs", [])]
    banners = [text for text in shown if "DATA**" in text or "data**" in text]
    assert len(banners) == 1 and banners[0].startswith("> **SYNTHETIC STAND-IN DATA** (`whoclicked.csv.gz`")


def test_provenance_round_trips_through_its_json_form():
    loaded = data.provenance("standin")
    again = data.Provenance.from_dict(json.loads(json.dumps(loaded.as_dict())))
    assert again == loaded and again.label == "synthetic" and again.banner() == loaded.banner()
