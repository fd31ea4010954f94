"""The Airflow peer benchmark's own environment stays a fair peer and out of the product."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from bench.airflow_peer import AIRFLOW_VERSION, REQUIREMENTS

SHARED = ("pandas", "pyarrow", "pandera", "numpy")  # what its task's work runs on


def pins() -> dict[str, str]:
    lines = (line.split("==") for line in REQUIREMENTS.read_text().splitlines()
             if line and not line.startswith("#"))
    return {name.lower(): pinned for name, pinned in lines}


def test_the_airflow_task_runs_on_the_product_locks_data_libraries():
    """The bare work in Airflow's task must run on the same pandas/pyarrow/pandera/numpy as
    ours: when the product's lock moves, regenerate bench/airflow-peer-requirements.txt."""
    pinned = pins()
    assert {name: pinned[name] for name in SHARED} == {name: version(name) for name in SHARED}
    assert pinned["apache-airflow"] == AIRFLOW_VERSION


def test_airflow_is_never_in_the_products_dependencies():
    root = REQUIREMENTS.parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    declared = [*project["project"]["dependencies"],
                *(dep for group in project.get("dependency-groups", {}).values() for dep in group
                  if isinstance(dep, str)),
                *(dep for extra in project["project"].get("optional-dependencies", {}).values()
                  for dep in extra)]
    assert not [dep for dep in declared if dep.lower().startswith("apache-airflow")]
    assert 'name = "apache-airflow"' not in (root / "uv.lock").read_text()
