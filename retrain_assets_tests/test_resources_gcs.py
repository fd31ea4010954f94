"""ParquetIOManager and the GCS settings of the code location, on the fake-gcs-server emulator."""

import io
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from dagster_gcp import GCSResource

from retrain_assets.build import GCP_PROJECT_ENV, build_definitions
from retrain_assets.resources import (
    LandingZoneResource,
    MlflowResource,
    ParquetIOManager,
    PartitionFrames,
    open_store,
)

DAYS = dg.StaticPartitionsDefinition(["2025-01-01", "2025-01-02", "2025-01-03"])


@dg.asset(partitions_def=DAYS)
def daily(context: dg.AssetExecutionContext) -> dict:
    return {day: (None if day == "2025-01-02" else pd.DataFrame({"day": [day] * 3, "x": [1, 2, 3]}))
            for day in context.partition_keys}


@dg.asset(ins={"daily": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
def summary(daily: PartitionFrames) -> dict:
    return {"days": list(daily), "rows": sum(len(daily[d]) for d in daily)}


@pytest.mark.service
def test_io_manager_stores_one_parquet_per_partition_on_gcs_and_reads_them_back(gcs_bucket,
                                                                                 monkeypatch):
    monkeypatch.setenv(GCP_PROJECT_ENV, "retrain-test")
    gcs = GCSResource(project=dg.EnvVar(GCP_PROJECT_ENV))
    resources = {"io_manager": ParquetIOManager(url=gcs_bucket.url("assets"), gcs=gcs)}

    written = dg.materialize([daily], resources=resources, tags={
        "dagster/asset_partition_range_start": "2025-01-01",
        "dagster/asset_partition_range_end": "2025-01-03"})
    summarized = dg.materialize([daily, summary], selection=[summary], resources=resources)

    assert written.success and summarized.success
    names = sorted(b.name for b in gcs_bucket.client.list_blobs(gcs_bucket.name))
    assert names == ["assets/daily/2025-01-01.parquet", "assets/daily/2025-01-03.parquet",
                     f"assets/summary/runs/{summarized.run_id}.json"]
    blob = gcs_bucket.client.bucket(gcs_bucket.name).blob("assets/daily/2025-01-03.parquet")
    assert pd.read_parquet(io.BytesIO(blob.download_as_bytes()))["day"].tolist() == \
        ["2025-01-03"] * 3
    assert summarized.output_for_node("summary") == {"days": ["2025-01-01", "2025-01-03"],
                                                     "rows": 6}
    materializations = written.asset_materializations_for_node("daily")
    assert {m.metadata["stored_at"].value for m in materializations} == {
        f"gs://{gcs_bucket.name}/assets/daily"}


def test_a_gs_url_in_the_environment_configures_gcs_through_the_shared_gcs_resource(
        home, project, monkeypatch):
    """The project is an EnvVar reference (resolved at run time), never a literal in config."""
    monkeypatch.setenv("RETRAIN_ASSETS_LANDING_URL", "gs://acme-landing/taxi")
    monkeypatch.setenv("RETRAIN_ASSETS_STORAGE_URL", "gs://acme-assets/retrain")
    monkeypatch.setenv(GCP_PROJECT_ENV, "acme-ml")

    resources = build_definitions(project).resources

    gcs = resources["gcs"]
    assert isinstance(gcs, GCSResource)
    assert isinstance(gcs.project, dg.EnvVar) and gcs.project.env_var_name == GCP_PROJECT_ENV
    landing, storage = resources["landing_zone"], resources["io_manager"]
    assert isinstance(landing, LandingZoneResource) and landing.url == "gs://acme-landing/taxi"
    assert isinstance(storage, ParquetIOManager) and storage.url == "gs://acme-assets/retrain"
    assert landing.gcs is gcs and storage.gcs is gcs



def test_a_gcs_setting_that_is_not_a_gcs_resource_is_refused_with_what_it_was():
    not_gcs = MlflowResource(tracking_uri="sqlite:///x.db", model_name="m")

    with pytest.raises(TypeError, match="gs://acme/x: the `gcs` setting must be a dagster-gcp "
                                        "GCSResource .* not MlflowResource"):
        open_store("gs://acme/x", gcs=not_gcs)


@dg.op
def shout():
    print("hello from a step")


@dg.job
def shouting():
    shout()


@pytest.mark.service
def test_compute_logs_land_in_gcs_with_the_deploy_configs_log_manager(gcs_bucket, tmp_path,
                                                                      monkeypatch):
    """deploy/dagster.yaml's `compute_logs` block, for real against the GCS emulator."""
    deploy = yaml.safe_load((Path(__file__).parents[1] / "deploy" / "dagster.yaml").read_text())
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(
        {"compute_logs": deploy["compute_logs"], "telemetry": {"enabled": False}}))
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", gcs_bucket.name)

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        run = shouting.execute_in_process(instance=instance)

    assert run.success
    logs = {b.name: b for b in gcs_bucket.client.list_blobs(
        gcs_bucket.name, prefix="dagster-compute-logs/")}
    assert logs, "no compute log object was written to the bucket"
    assert any(b"hello from a step" in blob.download_as_bytes() for blob in logs.values())
