"""Broken gzip files, duplicated rows, zone-less time stamps and formula-looking cells: each is
one clear line from the loader and from `phantom data check`."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_data import fixture_rows, write

from phantom_lib import cli, data


@pytest.fixture
def gz(tmp_path: Path) -> bytes:
    """The hand-written fixture file, gzip-compressed."""
    return gzip.compress(write(tmp_path / "plain.csv", fixture_rows()).read_bytes(), mtime=0)


def check_error(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`phantom data check PATH` must fail with exit 1 and exactly one stderr line; returns it."""
    assert cli.main(["data", "check", str(path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_truncated_gzip_file_is_one_line_with_the_fix(tmp_path, gz, capsys):
    path = tmp_path / "whoclicked.csv.gz"
    path.write_bytes(gz[: len(gz) // 2])
    assert check_error(path, capsys) == (
        f"phantom data check: error: {path} is a truncated gzip file (the compressed data ends early): "
        "copy or download it again (`gzip -t FILE` checks a .gz file)")


@pytest.mark.parametrize("damage", ["crc", "stream"])
def test_a_corrupt_gzip_file_is_one_line_with_the_fix(tmp_path, gz, capsys, damage):
    broken = bytearray(gz)
    if damage == "crc":
        broken[-8] ^= 0xFF  # the stored CRC-32 no longer matches the data
    else:
        broken[10:30] = bytes(20)  # the deflate stream itself
    path = tmp_path / "whoclicked.csv.gz"
    path.write_bytes(bytes(broken))
    line = check_error(path, capsys)
    assert line.startswith(f"phantom data check: error: {path} is a corrupt gzip file (")
    assert line.endswith("copy or download it again (`gzip -t FILE` checks a .gz file)")


def test_a_gz_name_on_plain_text_is_read_by_content_with_a_note(tmp_path, gz):
    fake = tmp_path / "whoclicked.csv.gz"  # e.g. a browser decompressed the download and kept the name
    fake.write_bytes(gzip.decompress(gz))
    loaded = data.load(fake)
    assert len(loaded.frame) == len(fixture_rows())
    assert loaded.report.notes[0] == ("whoclicked.csv.gz is named .gz but holds plain text (a browser may have "
                                      "decompressed it): read as plain CSV")
    compressed_as_csv = tmp_path / "whoclicked.csv"  # and gzip data under a .csv name is decompressed
    compressed_as_csv.write_bytes(gzip.compress(fake.read_bytes()))
    assert data.load(compressed_as_csv).frame.equals(loaded.frame)


def test_duplicated_rows_are_an_error_unless_allowed(tmp_path, capsys):
    rows = fixture_rows()
    path = write(tmp_path / "twice.csv", rows + rows[:3])  # three rows exported twice
    with pytest.raises(data.WhoClickedValidationError) as caught:
        data.load(path)
    assert caught.value.problems == [
        "rows: 3 row(s) repeat an earlier row in every column; e.g. row 14 (line 16) repeats row 0 (line 2). "
        "Fix: remove the copies (pandas: frame.drop_duplicates()), or, if they are genuine repeated events, "
        "allow them: load(..., allow_duplicates=True) or `phantom data check --allow-duplicates`"]
    assert len(data.load(path, allow_duplicates=True).frame) == len(rows) + 3
    assert cli.main(["data", "check", str(path), "--allow-duplicates"]) == 0
    assert cli.main(["data", "check", str(path)]) == 1
    assert "repeat an earlier row" in capsys.readouterr().err


def test_zone_less_time_stamps_and_formula_cells_are_reported_and_kept(tmp_path, capsys):
    rows = fixture_rows()
    rows[1]["ts"] = "2025-12-05T10:00:10.000"  # no zone
    rows[2]["ts"] = "2025-12-05 10:00:15"  # no zone either (and after row 1, so in order)
    rows[4]["page"] = "=HYPERLINK(\"http://example.invalid\",\"click\")"
    rows[5]["productId"] = "@SUM(A1:A9)"
    rows[6]["productId"] = "-12"  # a number, not a formula
    loaded = data.load(write(tmp_path / "odd.csv", rows))
    assert loaded.report.notes == (
        "ts: 2 row(s) have no time zone and were read as UTC; e.g. row 1 (line 3) has "
        "ts='2025-12-05T10:00:10.000'. Fix: append Z if they are UTC, or write their offset (e.g. +01:00)",
        "page: 1 row(s) start with =, +, - or @ (a spreadsheet opening an export would run them as formulas); "
        "e.g. row 4 (line 6) has page='=HYPERLINK(\"http://example.invalid\",\"click\")'. Fix: kept as read; before "
        "opening an export in a spreadsheet, prefix such cells with a single quote",
        "productId: 1 row(s) start with =, +, - or @ (a spreadsheet opening an export would run them as formulas); "
        "e.g. row 5 (line 7) has productId='@SUM(A1:A9)'. Fix: kept as read; before opening an export in a "
        "spreadsheet, prefix such cells with a single quote",
    )
    assert loaded.frame["ts"].iloc[1] == pd.Timestamp("2025-12-05T10:00:10Z")  # read as UTC, as the note says
    assert loaded.frame["page"].iloc[4].startswith("=HYPERLINK")  # kept verbatim
    assert cli.main(["data", "check", str(tmp_path / "odd.csv")]) == 0
    out = capsys.readouterr().out
    assert out.count("\nnote: ") == 3 and "read as UTC" in out


def test_the_shipped_standin_has_no_notes():
    loaded = data.load("standin")
    assert loaded.report.notes == () and loaded.provenance.label == "synthetic"


@settings(max_examples=40, deadline=None)
@given(copies=st.lists(st.integers(0, 13), max_size=6), near=st.lists(st.integers(0, 13), max_size=6))
def test_exactly_the_rows_equal_in_every_column_count_as_duplicates(copies, near):
    """Exact copies count; near-copies (equal in the key columns, different elsewhere) do not.
    Oracle: pandas' own full-row comparison."""
    rows = fixture_rows()
    extra = [dict(rows[i]) for i in copies] + [dict(rows[i], userAgent=f"other agent {k}") for k, i in enumerate(near)]
    raw = pd.DataFrame(rows + extra, dtype="str")
    expected = int(raw.duplicated().sum())
    if expected == 0:
        data.validate(raw)
        return
    with pytest.raises(data.WhoClickedValidationError) as caught:
        data.validate(raw)
    duplicates = [p for p in caught.value.problems if p.startswith("rows: ")]
    assert duplicates and duplicates[0].startswith(f"rows: {expected} row(s) repeat an earlier row")


def test_time_stamps_out_of_order_within_a_session_are_reported_and_kept(tmp_path, capsys):
    """The hand-written fixture has one such row: s1's admin page view at 10:00:05 written after its
    page view at 10:00:10 (s2's row at 10:00:40 before them is another session; price logs are their
    own stream)."""
    rows = fixture_rows()
    loaded = data.load(write(tmp_path / "fixture.csv", rows))
    assert [note for note in loaded.report.notes if "out of order" in note] == [
        "ts: 1 row(s) are earlier than the previous row of their session (same record_type): out of order; "
        f"e.g. row 2 (line 4) has sessionId='s1', ts={rows[2]['ts']!r}. Fix: kept as read (analyses sort by ts); "
        "check the export's clock or row order for these sessions"]
    assert loaded.frame["ts"].iloc[2] == pd.Timestamp("2025-12-05T10:00:05Z")  # kept
    assert cli.main(["data", "check", str(tmp_path / "fixture.csv")]) == 0
    assert "out of order" in capsys.readouterr().out

    rows[2]["ts"] = rows[1]["ts"]  # the same instant is not out of order
    assert not any("out of order" in note for note in data.load(write(tmp_path / "ordered.csv", rows)).report.notes)
