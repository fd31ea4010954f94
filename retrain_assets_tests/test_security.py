"""Security basics: secrets stay out of metadata and logs, the UI binds to loopback, landed
files are never unpickled, and models load only from the registry with our trusted types."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from retrain_assets.build import build_definitions, default_resources
from retrain_assets.registry import SKOPS_TRUSTED_TYPES, ModelRegistry, UntrustedModelError
from retrain_assets.resources import MlflowResource
from retrain_assets_tests.conftest import champion_from

ROOT = Path(__file__).resolve().parents[1]
SECRET = "S3CR3T-tok-9f2c"


@pytest.mark.slow
def test_secrets_from_env_never_reach_metadata_or_logs(home, project, instance, landing,
                                                       monkeypatch):
    monkeypatch.setenv("RETRAIN_TEST_MLFLOW_UI", f"https://admin:{SECRET}@mlflow.example.org")
    mlflow_store = default_resources(project)["mlflow"]
    defs = build_definitions(project, {**default_resources(project), "mlflow": MlflowResource(
        tracking_uri=mlflow_store.tracking_uri, artifact_location=mlflow_store.artifact_location,
        model_name=project.spec.name, ui_url=dg.EnvVar("RETRAIN_TEST_MLFLOW_UI"))})

    champion_from(defs, instance, landing)

    runs = instance.get_runs()
    assert len(runs) == 2
    for run in runs:
        assert SECRET not in repr(run.run_config) + repr(run.tags)
        logs = instance.all_logs(run.run_id)
        assert logs and not [e.message for e in logs if SECRET in dg.serialize_value(e)]
    links = [e.asset_materialization.metadata["mlflow_run"].value
             for e in instance.fetch_materializations(dg.AssetKey("candidate_model"),
                                                      limit=1).records
             for e in [e.event_log_entry]]
    assert links == [links[0]] and links[0].startswith("https://mlflow.example.org/#/")


def test_dev_binds_the_webserver_to_loopback(tmp_path):
    """`./tasks dev` with stand-ins for uv and dagster that record the command line."""
    (tmp_path / "tasks").write_bytes((ROOT / "tasks").read_bytes())
    (tmp_path / "tasks").chmod(0o755)
    fake_bin, venv_bin = tmp_path / "bin", tmp_path / ".venv" / "bin"
    for folder, name in ((fake_bin, "uv"), (venv_bin, "dagster")):
        folder.mkdir(parents=True)
        (folder / name).write_text('#!/bin/sh\necho "$0 $*"\n')
        (folder / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}",
           "RETRAIN_ASSETS_HOME": str(tmp_path / "home")}

    out = subprocess.run([str(tmp_path / "tasks"), "dev"], env=env, capture_output=True,
                         text=True, check=True).stdout

    dagster_line = next(line for line in out.splitlines() if line.startswith(str(venv_bin)))
    args = dagster_line.split()[1:]
    assert args[:2] == ["dev", "-w"] and args[args.index("-h") + 1] == "127.0.0.1"


class Tripwire(BaseEstimator):
    """A type nobody reviewed: restoring it would create a file (standing in for any code)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X

    def __setstate__(self, state):
        marker = os.environ.get("RETRAIN_TEST_TRIPWIRE")
        if marker:
            Path(marker).touch()
        self.__dict__.update(state)


def test_a_model_version_with_an_untrusted_type_is_refused(home, monkeypatch):
    registry = ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                             experiment="trust", model_name="crafted",
                             artifact_location=str(home / "artifacts"))
    experiment_id = registry._activate()
    model = Pipeline([("x", Tripwire()), ("lr", LinearRegression())]).fit(
        np.arange(10.0).reshape(-1, 1), np.arange(10.0))
    untrusted = f"{__name__}.Tripwire"
    # the crafted model lists its own type as trusted in its MLmodel file
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.sklearn.log_model(model, name="model", registered_model_name="crafted",
                                 serialization_format="skops", pip_requirements=[],
                                 skops_trusted_types=[*SKOPS_TRUSTED_TYPES, untrusted])
    marker = home / "tripwire"
    monkeypatch.setenv("RETRAIN_TEST_TRIPWIRE", str(marker))

    with pytest.raises(UntrustedModelError, match=rf"crafted version 1 contains types .*"
                                                  rf"{untrusted}"):
        registry.load_model("1")

    assert not marker.exists(), "the untrusted type was instantiated"
    mlflow.sklearn.load_model("models:/crafted/1")  # MLflow's own loader would have run it
    assert marker.exists()
