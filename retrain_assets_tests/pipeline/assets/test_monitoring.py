"""drift_report materialized for real: a normal day passes its checks, a drifted day fails them."""

from datetime import timedelta

import dagster as dg
import pytest

from retrain_assets.dev.instance import run_job
from retrain_assets.dev.simulate import SimulationPlan, land_day
from retrain_assets_tests.conftest import START, land

ROWS = 1_000  # below ~500 rows a day, zone shares are too noisy for the default JS threshold
SCORED = ["raw_data", "features", "predictions", "drift_report"]


def materialize_day(defs, instance, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(defs.assets, selection=SCORED, partition_key=day, instance=instance,
                          resources=defs.resources, raise_on_error=False)


def check_result(result, check_name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations()
                     if e.check_name == check_name]
    return evaluation


@pytest.fixture
def champion(defs, instance, landing):
    """35 normal days ingested and a first champion trained on them."""
    history = land(landing, START, 35, rows=ROWS)
    assert run_job(defs, "ingest_job", instance, days=history).success
    assert run_job(defs, "training_job", instance).success
    return defs.resources["mlflow"].registry().version_for("champion")


def test_normal_day_passes_and_drifted_day_fails_with_offenders_named(defs, instance, landing,
                                                                     champion):
    normal, drifted = START + timedelta(days=35), START + timedelta(days=36)
    land(landing, normal, 1, rows=ROWS)
    land_day(landing, drifted, SimulationPlan(start=drifted, days=1, mean_rows=ROWS,
                                              covariate_drift_from=drifted,
                                              concept_drift_from=drifted))

    ok = materialize_day(defs, instance, normal.isoformat())
    assert ok.success
    assert check_result(ok, "no_feature_drift").passed
    assert check_result(ok, "no_performance_decay").passed
    metadata = ok.asset_materializations_for_node("drift_report")[0].metadata
    assert metadata["model_version"].value == champion
    assert metadata["max_psi"].value < 0.2
    assert "drift_over_time" in metadata and "feature_drift" in metadata

    bad = materialize_day(defs, instance, drifted.isoformat())
    assert bad.success  # drift is a finding, not a crash
    drift = check_result(bad, "no_feature_drift")
    assert not drift.passed
    assert "trip_distance_km" in drift.metadata["drifted_features"].value
    assert drift.metadata["score"].value > 0.2
    assert "trip_distance_km (PSI" in drift.description
    decay = check_result(bad, "no_performance_decay")
    assert not decay.passed
    assert decay.metadata["score"].value > decay.metadata["threshold"].value >= 0.25
    assert "worse than model version" in decay.description and "(allowed: " in decay.description
    assert "trip_distance_km (PSI" in drift.description and " vs " in drift.description
    # the stored value is the per-feature drift table of the day
    history = instance.fetch_materializations(dg.AssetKey("drift_report"), limit=10).records
    assert {r.asset_materialization.partition for r in history} == {normal.isoformat(),
                                                                    drifted.isoformat()}


def test_a_scored_range_gives_each_day_its_own_drift_numbers(defs, instance, landing, champion):
    normal, drifted = START + timedelta(days=35), START + timedelta(days=36)
    land(landing, normal, 1, rows=ROWS)
    land_day(landing, drifted, SimulationPlan(start=drifted, days=1, mean_rows=ROWS,
                                              covariate_drift_from=drifted,
                                              concept_drift_from=drifted))
    days = [normal.isoformat(), drifted.isoformat()]
    assert run_job(defs, "ingest_job", instance, days=days).success
    dg.materialize(defs.assets, selection=["predictions", "drift_report"], instance=instance,
                   resources=defs.resources, raise_on_error=False,
                   tags={"dagster/asset_partition_range_start": days[0],
                         "dagster/asset_partition_range_end": days[1]})

    events = {r.asset_materialization.partition: r.asset_materialization.metadata
              for r in instance.fetch_materializations(dg.AssetKey("drift_report"),
                                                       limit=10).records}
    assert events[days[0]]["max_psi"].value < 0.2 < events[days[1]]["max_psi"].value
    assert events[days[1]]["metric_decay"].value > events[days[0]]["metric_decay"].value
    assert "days" not in events[days[0]]  # no run-wide table on a day
    assert "drift_over_time" in events[days[1]] and "drift_over_time" not in events[days[0]]
    assert events[days[1]]["rows_scored"].value > 0
    stored = [c.name for c in events[days[1]]["dagster/column_schema"].value.columns]
    assert "psi" in stored and events[days[1]]["dagster/row_count"].value > 1  # a row a feature
    columns = [c.name for c in events[days[1]]["feature_drift"].value.schema.columns]
    assert columns.index("psi_limit") == columns.index("psi") + 1
    assert columns.index("distance_limit") == columns.index("distance") + 1
