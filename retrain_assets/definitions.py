"""The code location: every model under `defs/` (one `RetrainingPipeline` YAML each), as
`dagster dev`, `dg` and the daemon load it (workspace.yaml, pyproject.toml's [tool.dg])."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
