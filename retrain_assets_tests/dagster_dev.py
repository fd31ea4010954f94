"""`dagster dev` (webserver + daemon) as a test service: loopback, free port, whole group killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from retrain_assets.dev.instance import REPO_DAGSTER_YAML
from retrain_assets.dev.services import free_port

REPO = REPO_DAGSTER_YAML.parent
DAGSTER = Path(sys.executable).with_name("dagster")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def dagster_dev(log_path: Path, *, startup_deadline_s: float = 300,
                workspace: Path = REPO / "workspace.yaml") -> Iterator[str]:
    """Start `dagster dev` on `workspace` (the repo's) with the current DAGSTER_HOME; yields its
    URL once the webserver answers. Everything it started is in its own process group, which
    is terminated (then killed) on exit, so no code server or daemon outlives the test."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", str(workspace), "-h", "127.0.0.1",
             "-p", str(port)],
            cwd=REPO, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + startup_deadline_s
        while not _answers(f"{url}/server_info"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`dagster dev` did not come up on {url}; its log:\n"
                            f"{log_path.read_text()[-5000:]}", pytrace=False)
            time.sleep(1)
        yield url
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=60)
    # the daemon's and webserver's code servers share the group: none may survive
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
