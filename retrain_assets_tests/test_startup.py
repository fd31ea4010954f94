"""Every Dagster run process and code server imports the code location first; what it imports is
paid by every run, also by ingest runs and backfills that never train, score or plot."""

import os
import subprocess
import sys

HEAVY = ("mlflow", "sklearn", "scipy", "matplotlib", "skops",
         "dagster_gcp", "google.cloud", "google.api_core")  # GCS: only when a gs:// URL is set


def test_loading_the_code_location_imports_no_training_plotting_or_cloud_library():
    loaded = subprocess.run(
        [sys.executable, "-W", "ignore", "-c",
         "import sys, retrain_assets.definitions as d; d.defs.get_repository_def(); "
         f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("RETRAIN_ASSETS_")}
    ).stdout.strip()
    assert loaded == "", f"loading the code location imported {loaded}: import it where used"


def test_run_workers_let_openmp_threads_wait_passively_unless_the_user_chose():
    def policy(env: dict[str, str]) -> str:
        return subprocess.run(
            [sys.executable, "-c",
             "import os, retrain_assets; print(os.environ['OMP_WAIT_POLICY'])"],
            capture_output=True, text=True, check=True, env=env).stdout.strip()

    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert policy(environment) == "PASSIVE"
    assert policy({**environment, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
