"""candidate_model and evaluation_report materialized for real: a change of features."""

from dataclasses import replace

import dagster as dg

from retrain_assets.core.evaluation import WindowSettings
from retrain_assets.core.training import Hyperparameters
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.assets.training import TrainingConfig
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.project import Project
from retrain_assets_tests.conftest import START, land, training_config


def test_a_champion_missing_todays_columns_fails_once_and_says_what_to_do(project, instance,
                                                                          landing):
    """Issue 13: switching derive_time_features off made the old champion fail in evaluation
    with 'columns are missing', retried three times."""
    days = land(landing, START, 8, rows=150)
    with_time = build_definitions(project)
    assert run_job(with_time, "ingest_job", instance, days=days).success
    assert run_job(with_time, "training_job", instance, run_config=training_config()).success

    plain = replace(project.spec, derive_time_features=False, features_schema=None)
    defs = build_definitions(Project(spec=plain, start_date=project.start_date))
    assert run_job(defs, "ingest_job", instance, days=days).success  # features without them
    refused = run_job(defs, "training_job", instance, run_config=training_config())
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "champion version 1 cannot be compared" in message
    assert "['hour', 'day_of_week', 'is_weekend']" in message
    assert "replace_incompatible_champion" in message and "RETRAIN_ASSETS_MODEL_NAME" in message
    assert not instance.get_records_for_run(
        refused.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records

    config = training_config()
    config["ops"]["evaluation_report"] = {"config": {"replace_incompatible_champion": True}}
    replaced = run_job(defs, "training_job", instance, run_config=config)
    assert replaced.success
    assert defs.resources["mlflow"].registry().version_for("champion") == "3"


def test_the_evaluation_report_gives_numbers_to_plot_and_its_verdict_with_the_plot(
        defs, instance, landing, project):
    from retrain_assets_tests.conftest import SMALL_TRAINING, champion_from

    champion_from(defs, instance, landing)
    result = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    metric = project.spec.primary_metric

    (report,) = [m.materialization for m in result.get_asset_materialization_events()
                 if m.asset_key == dg.AssetKey("evaluation_report")]
    numbers = {name: report.metadata[name].value
               for name in (f"candidate_{metric}", f"champion_{metric}", "improvement")}
    assert all(isinstance(v, float) and v == round(v, 4) for v in numbers.values()), numbers
    (check,) = [e for e in result.get_asset_check_evaluations()
                if e.check_name == "candidate_blessed"]
    assert check.description.startswith("**Candidate version 2: ")
    assert "![predicted vs actual on the holdout](data:image/png;base64," in check.description


def test_the_launchpad_defaults_are_the_core_s_window_and_hyperparameters():
    config = TrainingConfig()
    assert config.window_settings() == WindowSettings()
    assert config.hyperparameters() == Hyperparameters()


def test_the_evaluation_report_shows_the_interval_and_a_table_per_segment(defs, instance,
                                                                         landing):
    from retrain_assets_tests.conftest import SMALL_TRAINING, champion_from

    champion_from(defs, instance, landing)
    segments = {"segment_columns": ["pickup_zone"], "segment_min_rows": 20}
    config = {"ops": {**SMALL_TRAINING["ops"], "evaluation_report": {"config": segments}}}
    result = run_job(defs, "training_job", instance, run_config=config)

    (report,) = [m.materialization for m in result.get_asset_materialization_events()
                 if m.asset_key == dg.AssetKey("evaluation_report")]
    low, high = report.metadata["improvement_low"].value, report.metadata["improvement_high"].value
    assert low <= report.metadata["improvement"].value <= high
    assert "90%-confidence bounds [" in report.metadata["reasons"].value
    table = report.metadata["segments"].value
    assert {c.name for c in table.schema.columns} >= {"column", "segment", "rows", "status"}
    assert {r.data["column"] for r in table.records} == {"pickup_zone"}
    assert "segment" in report.metadata["reasons"].value
