"""Run a script in a subprocess and kill it (SIGKILL) once it has written enough trial files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_after(script: str, trials_dir: Path, files: int, timeout: float = 60.0) -> None:
    """Start ``python -c script``; SIGKILL it as soon as ``trials_dir`` holds ``files`` parquet files
    (or after ``timeout`` seconds) and wait for it to die."""
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + timeout
    while time.time() < deadline and len(list(Path(trials_dir).glob("*.parquet"))) < files:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def as_a_terminal_starts_it() -> None:
    """``preexec_fn`` for a command a test interrupts with Ctrl-C: SIGINT at its default, as a shell
    starts a foreground job. A test run started in the background of a non-interactive shell (``make
    test &``) inherits SIGINT ignored, and an exec keeps ignored signals ignored: the command would
    never see the Ctrl-C the test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
