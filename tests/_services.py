"""Helpers for tests that start real servers (a Jupyter server, a Ray head) as separate processes.

Servers listen on a free port of 127.0.0.1 and are stopped by the id of the process the test
started. A test skips only when the machine lacks a program the project's own install provides;
with ``PHANTOM_REQUIRE_SERVICES=1`` (``.ci/run`` sets it) it fails instead, so a missing install
step cannot pass as green.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REQUIRE = "PHANTOM_REQUIRE_SERVICES"
BIN = Path(sys.executable).parent
"""The virtual environment's scripts (``jupyter``, ``ray``, ``phantom``)."""


def program(name: str) -> Path:
    """The environment's ``name`` script; skip (or fail under ``PHANTOM_REQUIRE_SERVICES=1``) without it."""
    path = BIN / name
    if not path.exists():
        reason = f"{path} is not installed (pip install -e '.[all]' provides it)"
        (pytest.fail if os.environ.get(REQUIRE) == "1" else pytest.skip)(reason)
    return path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now (so it also refuses connections)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen, seconds: float) -> None:
    """Wait until ``127.0.0.1:port`` accepts connections; fail with the process's output if it exits
    or the port stays closed for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"nothing listened on 127.0.0.1:{port} after {seconds:g} s")


def stop(process: subprocess.Popen, grace: float = 60.0) -> None:
    """Stop a server this test started with ``start_new_session=True``: SIGTERM to its process group
    (the server and whatever it started, e.g. ``make`` and its ``jupyter lab``), wait up to
    ``grace`` seconds for the process itself, then SIGKILL whatever is left in that group."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)
