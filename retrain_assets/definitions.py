"""The code location: `dagster dev` loads `defs` from here (see workspace.yaml)."""

from retrain_assets.pipeline.build import build_definitions

defs = build_definitions()
