"""What running the study costs: the thesis's run times, a study's core-seconds per trial, GNU time reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from phantom_lib.book import costs

REPORT = """\tCommand being timed: "phantom run 03 --profile smoke"
\tUser time (seconds): 50.10
\tSystem time (seconds): 1.90
\tElapsed (wall clock) time (h:mm:ss or m:ss): {wall}
\tMaximum resident set size (kbytes): 812345
\tExit status: {status}
"""


def test_thesis_runtime_by_hand():
    runs = pd.DataFrame({"run_id": ["a", "b", "c", "d"], "runtime_s": [3600.0, 7200.0, 1800.0, 5400.0]})
    got = costs.thesis_runtime(runs)
    assert (got.n, got.min_s, got.median_s, got.max_s, got.total_hours) == (4, 1800.0, 4500.0, 7200.0, 5.0)
    with pytest.raises(ValueError, match="run_id repeats"):
        costs.thesis_runtime(pd.concat([runs, runs.head(1)]))
    with pytest.raises(ValueError, match="no runs"):
        costs.thesis_runtime(runs.head(0))


def test_the_thesis_runs_shipped_record_their_runtime():
    from phantom_lib.study import thesis_runs

    got = costs.thesis_runtime(thesis_runs.load_runs())
    assert got.n == 95 and got.min_s <= got.median_s <= got.max_s
    assert got.total_hours == pytest.approx(thesis_runs.load_runs()["runtime_s"].sum() / 3600)


def _provenance(folder: Path, **record) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provenance.json").write_text(json.dumps(record))
    return folder


def test_study_cost_is_wall_time_times_cores_per_trial(tmp_path: Path):
    folder = _provenance(tmp_path / "f", n_ok=8, wall_seconds_this_run=100.0, machine={"cpus": 2},
                         design={"settings": {"timesteps": 1000}})
    got = costs.study_cost(folder)
    assert (got.trials, got.wall_s, got.cores, got.timesteps, got.core_s_per_trial) == (8, 100.0, 2, 1000, 25.0)
    # every run that filled the folder counts when recorded
    folder = _provenance(tmp_path / "g", n_ok=8, wall_seconds_this_run=10.0, wall_seconds_all_runs=40.0,
                         machine={"cpus": 4})
    assert costs.study_cost(folder).core_s_per_trial == 20.0 and costs.study_cost(folder).timesteps is None
    with pytest.raises(KeyError, match="machine.cpus"):
        costs.study_cost(_provenance(tmp_path / "h", n_ok=8, wall_seconds=5.0))
    with pytest.raises(FileNotFoundError, match="no provenance"):
        costs.study_cost(tmp_path / "none")


@pytest.mark.parametrize(("wall", "seconds"), [("1:02.50", 62.5), ("1:00:03", 3603.0), ("0:07.25", 7.25)])
def test_parse_time_v_reads_wall_clock_and_peak_memory(wall, seconds):
    got = costs.parse_time_v(REPORT.format(wall=wall, status=0))
    assert got == costs.Measured(seconds, 812.345, 0, 52.0)


def test_chapter_runs_reads_every_committed_report(tmp_path: Path):
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "03.time.txt").write_text(REPORT.format(wall="2:00.00", status=1))
    assert costs.chapter_runs(tmp_path, "smoke") == {"03": costs.Measured(120.0, 812.345, 1, 52.0)}
    assert costs.chapter_runs(tmp_path, "full") == {}
    with pytest.raises(ValueError, match="not a `/usr/bin/time -v` report"):
        costs.parse_time_v("real 0m1.0s")


def test_run_table_puts_chapters_and_studies_side_by_side(tmp_path: Path):
    (tmp_path / "m" / "smoke").mkdir(parents=True)
    (tmp_path / "m" / "smoke" / "03.time.txt").write_text(REPORT.format(wall="0:30.40", status=0))
    (tmp_path / "m" / "smoke" / "log.txt").write_text("03 rc=0 load=12.50 11.00 9.00\n04 rc=0 load=3.25 4 5\n")
    study = _provenance(tmp_path / "sweep", n_ok=10, wall_seconds_this_run=50.0, machine={"cpus": 2})
    table = costs.run_table(["03_coi", "04_distinguish"], tmp_path / "m", [study])
    assert table["what"].tolist() == ["chapter 03_coi", "chapter 04_distinguish", "study sweep (10 trials on 2 cores)"]
    assert table.loc[0, "smoke: wall (s)"] == 30 and table.loc[0, "smoke: peak memory (MB)"] == 812
    assert table.loc[0, "full: wall (s)"] == costs.NOT_MEASURED == table.loc[1, "smoke: wall (s)"]
    assert table.loc[2, "full: wall (s)"] == 50 and table.loc[2, "full: CPU (s)"].startswith("10.0 per trial")
    assert table.loc[2, "smoke: wall (s)"] == "—"
    assert costs.load_averages(tmp_path / "m", "smoke") == [12.5, 3.25]


def test_a_crosscheck_counts_its_trial_rows(tmp_path: Path):
    folder = _provenance(tmp_path / "xc", wall_seconds=30.0, machine={"cpus": 2}, settings={"timesteps": 500})
    pd.DataFrame({"engine": ["sb3", "jax", "jax"]}).to_parquet(folder / "trials.parquet")
    got = costs.study_cost(folder)
    assert (got.trials, got.timesteps, got.core_s_per_trial) == (3, 500, 20.0)
