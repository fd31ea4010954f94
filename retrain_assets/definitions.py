"""The code location: every model under `defs/` (one `RetrainingPipeline` YAML each), as
`dagster dev`, `dg` and the daemon load it (workspace.yaml, pyproject.toml's [tool.dg])."""

from pathlib import Path

import dagster as dg


# `dg.load_from_defs_folder` builds this same tree and adds a catalog of every component type
# the installed packages offer, importing each of them (dagster-gcp's BigQuery and Dataproc
# clients, dagster-k8s, ...): about half a second more in every process that loads the code
# location, each run worker included. Building the defs folder alone loads the same models.
def load_definitions() -> dg.Definitions:
    """Every model under defs/, built from the environment as it is now."""
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    return tree.build_defs(tree.defs_module_path)


defs = load_definitions()
