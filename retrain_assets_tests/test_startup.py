"""Every Dagster run process and code server imports the code location first; what it imports is
paid by every run, also by ingest runs and backfills that never train, score or plot."""

import subprocess
import sys

HEAVY = ("mlflow", "sklearn", "scipy", "matplotlib", "skops")


def test_loading_the_code_location_imports_no_training_or_plotting_library():
    loaded = subprocess.run(
        [sys.executable, "-W", "ignore", "-c",
         "import sys, retrain_assets.definitions as d; d.defs.get_repository_def(); "
         f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"loading the code location imported {loaded}: import it where used"
