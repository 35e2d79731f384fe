"""What the `phantom` command says about its own choices: folders it creates, defaults it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantom_lib import cli


def test_an_output_path_in_missing_folders_is_created_and_said(tmp_path: Path, capsys):
    target = tmp_path / "a" / "b" / "x.json"
    assert cli._output_file(str(target), "x.json") == target and target.parent.is_dir()
    assert capsys.readouterr().out == f"[phantom] created folder {target.parent} for -o {target}\n"
    cli._output_file(str(target), "x.json")  # the folder exists now: nothing to say
    assert capsys.readouterr().out == ""


def test_the_sweep_help_names_the_default_engine(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["sweep", "--help"])
    flowing = " ".join(capsys.readouterr().out.split())
    assert "Default: the design's engine, sb3 when it names none" in flowing
    assert (
        "(sb3: full, smoke; jax: as-run" in flowing
    )  # each built-in design's engine (argparse may wrap inside a name)


def test_the_bench_help_says_it_creates_folders(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "--help"])
    assert "missing folders are created" in " ".join(capsys.readouterr().out.split())
