"""`phantom sweep` as a user meets it: nothing printed but its progress and its own lines (no Ray
notices), Ctrl-C keeps what finished and says how to resume, and a folder that already holds
results is one line, not a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _kill import as_a_terminal_starts_it

from phantom_lib import study

PHANTOM = Path(sys.executable).parent / "phantom"

SLOW_TRAINABLE = """
import time

def train(config, seed):
    time.sleep(1.0)  # slow enough that Ctrl-C lands mid-run on a busy machine
    return {"score": float(config["alpha0"])}
"""


def sweep_env(tmp_path: Path) -> dict[str, str]:
    """The environment of `phantom sweep` run as the README shows it: no RAY_AUTH_MODE, no
    RAY_USAGE_STATS_ENABLED, and a home without a Ray token (so Ray would generate one and say so);
    the trainable ``slowtrain:train`` lives in ``tmp_path`` (Ray's local workers inherit the path)."""
    (tmp_path / "slowtrain.py").write_text(SLOW_TRAINABLE)
    env = dict(os.environ, HOME=str(tmp_path / "home"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    for name in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "RAY_ADDRESS"):
        env.pop(name, None)
    return env


def test_a_plain_ray_init_announces_the_token_it_generates(tmp_path: Path):
    """The control for the quiet check below: in that environment Ray itself prints a notice."""
    control = subprocess.run([sys.executable, "-c", "import ray; ray.init(num_cpus=1, include_dashboard=False); "
                              "ray.shutdown()"], env=sweep_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert "authentication token" in control.stderr


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_ctrl_c_keeps_finished_trials_and_says_how_to_resume(tmp_path: Path, executor: str):
    out = tmp_path / "sweep"
    command = [str(PHANTOM), "sweep", "--design", "smoke", "--trainable", "slowtrain:train", "--out", str(out),
               "--executor", executor, "--num-cpus", "2"]
    run = subprocess.Popen(command, env=sweep_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True, preexec_fn=as_a_terminal_starts_it)
    deadline = time.monotonic() + 180
    while len(list((out / "trials").glob("*.parquet"))) < 3 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in a terminal
    _, err = run.communicate(timeout=180)
    kept = study.ResultsStore(out).finished()
    assert 3 <= len(kept) < len(study.design(study.DESIGNS["smoke"])), "the sweep should stop mid-run"
    assert run.returncode == 1 and "Traceback" not in err, err
    printed = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and not line.startswith("trials:")]
    assert printed == [f"phantom sweep: interrupted: {len(kept)} trials kept in {out}; run again with --resume"]

    again = subprocess.run(command, env=sweep_env(tmp_path), capture_output=True, text=True)
    assert again.returncode == 1
    assert again.stderr.strip() == (f"phantom sweep: error: {out} already holds results: pass --resume to run "
                                    "only the missing trials, or choose another --out")
    events = [json.loads(line)["event"] for line in (out / "runs.jsonl").read_text().splitlines()]
    assert events == ["start"]  # the refused run logged nothing; the interrupted one has no end
    assert study.ResultsStore(out).runs()["interrupted"].tolist() == [True]
