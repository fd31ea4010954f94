"""deploy/: the production stack's config files, loaded and validated as Dagster reads them.

What cannot run here, plainly: the test machine has no Kubernetes cluster, no Docker engine, no
real GCS bucket and no Cloud SQL. So nothing here launches a Kubernetes Job, builds the image or
installs the Helm chart. What is checked instead: Dagster accepts deploy/dagster.yaml (its own
instance schema, then each configured class's config schema, as DagsterInstance would before
instantiating them); the Helm values carry what the chart needs, and their instance settings pass
the same Dagster schemas; the image, the chart and the code location agree on names.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config, get_concurrency_config
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import class_from_code_pointer

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CODE_MODULE = PYPROJECT["tool"]["dagster"]["module_name"]
ENV = {"DAGSTER_PG_HOST": "pg.internal", "DAGSTER_PG_DB": "dagster",
       "DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "placeholder-not-a-secret",
       "DAGSTER_K8S_NAMESPACE": "retrain", "DAGSTER_COMPUTE_LOGS_BUCKET": "acme-dagster-logs"}


@pytest.fixture
def deploy_env(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def _class_config(data) -> tuple[type, dict]:
    """The configured class and its config, processed by the class's own schema (env resolved),
    exactly as ConfigurableClassData.rehydrate does just before instantiating it."""
    cls = class_from_code_pointer(data.module_name, data.class_name)
    result = process_config(resolve_to_config_type(cls.config_type()), data.config_dict)
    assert result.success, f"{data.class_name}: {[e.message for e in result.errors]}"
    return cls, result.value


def test_instance_config_names_the_production_classes_and_each_accepts_its_config(
        deploy_env, tmp_path):
    ref = InstanceRef.from_dir(str(tmp_path), config_dir=str(DEPLOY))

    classes = {}
    for field in ("storage_data", "run_coordinator_data", "run_launcher_data",
                  "compute_logs_data"):
        cls, config = _class_config(getattr(ref, field))
        classes[cls.__name__] = config

    assert set(classes) == {"DagsterPostgresStorage", "QueuedRunCoordinator",
                            "K8sRunLauncher", "GCSComputeLogManager"}
    assert classes["DagsterPostgresStorage"]["postgres_db"]["hostname"] == "pg.internal"
    assert classes["DagsterPostgresStorage"]["postgres_db"]["password"] == ENV[
        "DAGSTER_PG_PASSWORD"]  # read from the environment, not written in the file
    assert classes["K8sRunLauncher"]["job_namespace"] == "retrain"
    assert classes["K8sRunLauncher"]["instance_config_map"] == "dagster-instance"
    assert classes["GCSComputeLogManager"]["bucket"] == "acme-dagster-logs"
    assert ref.run_storage_data.class_name == "PostgresRunStorage"
    assert ref.event_storage_data.class_name == "PostgresEventLogStorage"
    assert ref.schedule_storage_data.class_name == "PostgresScheduleStorage"


def test_instance_config_holds_no_secret_and_no_site_name():
    text = (DEPLOY / "dagster.yaml").read_text()
    for name in ENV:
        assert f"env: {name}" in text
    assert "password: " not in text.replace("password:\n", "")


def test_production_queue_keeps_the_local_limits_on_retraining_and_pools(deploy_env):
    production, _ = dagster_instance_config(str(DEPLOY))
    local, _ = dagster_instance_config(str(ROOT))

    limits = {t["key"]: t["limit"] for t in production["concurrency"]["runs"][
        "tag_concurrency_limits"]}
    for tag in local["concurrency"]["runs"]["tag_concurrency_limits"]:
        assert limits[tag["key"]] == tag["limit"]
    assert production["concurrency"]["pools"] == local["concurrency"]["pools"]


def test_a_mistyped_key_is_rejected_so_these_checks_have_teeth(deploy_env, tmp_path):
    broken = (DEPLOY / "dagster.yaml").read_text().replace("max_concurrent_runs:",
                                                          "max_concurent_runs:")
    (tmp_path / "dagster.yaml").write_text(broken)

    with pytest.raises(DagsterInvalidConfigError, match="max_concurent_runs"):
        dagster_instance_config(str(tmp_path))


# --- Helm values for the dagster/dagster chart --------------------------------------------------

@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _snake(mapping: dict) -> dict:
    """Chart values are camelCase; the Dagster config they render to is snake_case."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _snake(v) if isinstance(v, dict) else v
            for k, v in mapping.items()}


def test_helm_values_deploy_this_code_location_with_its_settings(values):
    user_code = values["dagster-user-deployments"]
    assert user_code["enabled"] and user_code["enableSubchart"]
    [deployment] = user_code["deployments"]
    assert deployment["codeServerArgs"] == ["--module-name", CODE_MODULE]
    assert {"repository", "tag", "pullPolicy"} <= set(deployment["image"])
    assert deployment["image"]["tag"] != "latest"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["RETRAIN_ASSETS_LANDING_URL"].startswith("gs://")
    assert env["RETRAIN_ASSETS_STORAGE_URL"].startswith("gs://")
    assert "RETRAIN_ASSETS_GCP_PROJECT" in env and "MLFLOW_TRACKING_URI" in env
    assert deployment["envSecrets"] == [{"name": "retrain-assets-env"}]


def test_helm_values_use_the_k8s_run_launcher_external_postgres_and_gcs_logs(values):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["loadInclusterConfig"] is True
    postgres = values["postgresql"]
    assert postgres["enabled"] is False
    assert {"postgresqlHost", "postgresqlUsername", "postgresqlDatabase", "postgresqlParams",
            "service"} <= set(postgres)
    assert postgres["postgresqlPassword"] == ""  # the password only lives in the Secret
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert values["dagsterDaemon"]["runCoordinator"] == {"enabled": True,
                                                         "type": "QueuedRunCoordinator"}
    assert values["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert not any(values[broker]["enabled"] for broker in ("rabbitmq", "redis", "flower"))


def test_helm_instance_settings_pass_dagsters_own_schemas_and_match_deploy_yaml(values,
                                                                               deploy_env):
    logs = values["computeLogManager"]
    assert logs["type"] == "GCSComputeLogManager"
    gcs_logs = class_from_code_pointer("dagster_gcp.gcs.compute_log_manager",
                                       "GCSComputeLogManager")
    rendered_logs = _snake(logs["config"]["gcsComputeLogManager"])
    assert process_config(resolve_to_config_type(gcs_logs.config_type()),
                          rendered_logs).success

    assert values["concurrency"]["enabled"] is True
    concurrency = _snake({k: v for k, v in values["concurrency"].items() if k != "enabled"})
    assert process_config(resolve_to_config_type(get_concurrency_config().config_type),
                          concurrency).success
    production, _ = dagster_instance_config(str(DEPLOY))
    assert concurrency == production["concurrency"]


# --- the user code image -------------------------------------------------------------------------

def test_dockerfile_installs_the_locked_deps_with_k8s_and_serves_this_code_location():
    """Read, not built: there is no Docker engine on the test machine."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M).group(1)
    assert python == "3.11" and ">=3.11" in PYPROJECT["project"]["requires-python"]
    assert "uv sync --frozen --no-dev --extra k8s" in dockerfile
    assert any(d.startswith("dagster-k8s") for d in
               PYPROJECT["project"]["optional-dependencies"]["k8s"])
    assert f'"--module-name", "{CODE_MODULE}"]' in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.M)  # never runs as root
