"""How `phantom run` treats its kernel: quiet on success, no interrupt at shutdown, the failing line
named, and Ctrl-C ending in one line with no traceback and no kernel left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _kill import as_a_terminal_starts_it
from _notebooks import FRONT_MATTER
from jupyter_client.manager import AsyncKernelManager

from phantom_lib.book import build, kernel

PHANTOM = Path(sys.executable).parent / "phantom"


def chapter(tmp_path: Path, *cells: str, name: str = "01_t.md") -> Path:
    """A notebook whose first cell is the parameters cell ``profile = None``, then ``cells``."""
    body = "".join(f"\n```{{code-cell}} ipython3\n{cell}```\n" for cell in cells)
    path = tmp_path / name
    path.write_text(FRONT_MATTER + "\n# T\n\n```{code-cell} ipython3\n:tags: [parameters]\n\nprofile = None\n```\n" + body)
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_successful_run_prints_no_kernel_noise(tmp_path: Path):
    source = chapter(tmp_path, "x = 1\n", "print(x + 1)\n")
    result = subprocess.run([str(PHANTOM), "run", str(source), "-o", str(tmp_path / "out.ipynb")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for noise in ("without encryption", "KeyboardInterrupt", "ERROR", "WARNING", "Traceback"):
        assert noise not in result.stderr, result.stderr


def test_the_error_names_the_failing_line_of_the_md_source(tmp_path: Path):
    source = chapter(tmp_path, "a = 1\nb = 2\nc = a / (b - 2)\nd = 4\n")
    with pytest.raises(build.NotebookError) as caught:
        build.run_notebook(source, tmp_path / "out.ipynb", progress=False)
    lines = source.read_text().splitlines()
    failing = lines.index("c = a / (b - 2)") + 1
    assert f"failed in code cell 2 (line {failing}: 'c = a / (b - 2)'): ZeroDivisionError" in str(caught.value)


SPAWN_WATCHER = """import pathlib, subprocess, sys, time
watcher = subprocess.Popen([sys.executable, "-c", '''
import os, pathlib, signal, sys, time
mark, ready = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
signal.signal(signal.SIGINT, lambda *_: mark.write_text("SIGINT"))
ready.write_text(str(os.getpid()))
time.sleep(4)
''', {mark!r}, {ready!r}])
while not pathlib.Path({ready!r}).exists():  # the watcher's handler is in place before the cell ends
    time.sleep(0.05)
"""


@pytest.mark.parametrize("manager", [AsyncKernelManager, kernel.BookKernelManager], ids=lambda m: m.__name__)
def test_shutdown_sends_no_sigint_to_the_kernels_process_group(tmp_path: Path, monkeypatch, manager):
    """A child process of the kernel (as a notebook's worker pool would be) records any SIGINT. jupyter_client's
    own manager interrupts the kernel's process group before every shutdown (the control, so this
    test can fail); the book's manager does not."""
    mark, pid_file = tmp_path / "mark", tmp_path / "watcher.pid"
    source = chapter(tmp_path, SPAWN_WATCHER.format(mark=str(mark), ready=str(pid_file)))
    monkeypatch.setattr(kernel, "BookKernelManager", manager)
    build.run_notebook(source, tmp_path / "out.ipynb", progress=False)
    watcher = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while alive(watcher) and time.monotonic() < deadline:  # the watcher outlives the kernel by design
        time.sleep(0.2)
    interrupted = mark.exists()
    assert interrupted is (manager is AsyncKernelManager)


def test_ctrl_c_ends_phantom_run_with_one_line_and_stops_the_kernel(tmp_path: Path):
    started, pid_file = tmp_path / "started", tmp_path / "kernel.pid"
    source = chapter(tmp_path, f"import os, pathlib, time\npathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
                               f"pathlib.Path({str(started)!r}).touch()\ntime.sleep(120)\n")
    run = subprocess.Popen([str(PHANTOM), "run", str(source), "-o", str(tmp_path / "out.ipynb")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                           preexec_fn=as_a_terminal_starts_it)
    deadline = time.monotonic() + 120
    while not started.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), "the notebook never reached its long cell"
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends to the foreground process group
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in err and "Error" not in err, err
    assert err.strip().splitlines()[-1] == ("phantom run: interrupted: run the same command again to execute "
                                            "the notebook from the start")
    kernel_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while alive(kernel_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(kernel_pid), "the kernel outlived phantom run"
