"""A label-fed dataset end to end: churn snapshots land first, their labels a week later."""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest

from retrain_assets.adapters.registry import Actor
from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.core.dataset import LabelFeed
from retrain_assets.core.policy import OpenChange
from retrain_assets.datasets.churn import CUSTOMER_CHURN_LATE_LABELS
from retrain_assets.datasets.churn.simulator import (
    LABEL_DELAY_DAYS,
    LABELS_FILE_NAME,
    simulated_day,
    split_labels,
)
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.assets.training import TrainingConfig
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.sensors import RetrainCursor, RetrainPolicy
from retrain_assets_tests.conftest import START, land_frame, sensor_tick, training_config

DAYS = 12
ROWS = 200
ESTIMATE_TRIGGERED = replace(CUSTOMER_CHURN_LATE_LABELS,
                             labels=LabelFeed(estimate_trigger=True))


@pytest.fixture
def late(home):
    """The late-label churn pipeline with every day's snapshots landed and its labels kept
    back: {day: labels} to land when the test says they arrived."""
    defs = build_definitions(Project(spec=CUSTOMER_CHURN_LATE_LABELS,
                                     start_date=START.isoformat()))
    landing = LocalObjectStore(home / "landing")
    held = {}
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        snapshots, labels = split_labels(simulated_day(day, ROWS))
        land_frame(landing, day.isoformat(), snapshots, "customers.csv")
        held[day.isoformat()] = labels
    return defs, LocalObjectStore(home / "labels"), held


def labels_tick(defs, instance, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                 resources=defs.resources) as context:
        return defs.resolve_sensor_def("labels_sensor")(context)


def run_requested(defs, instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """A sensor's run as the daemon launches it: the asset job with its partition and assets."""
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags,
        asset_selection=request.asset_selection, raise_on_error=False)


def materialize_labels(defs, instance, days: list[str]) -> dg.ExecuteInProcessResult:
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("labels")],
        tags={"dagster/asset_partition_range_start": days[0],
              "dagster/asset_partition_range_end": days[-1]})


def land_labels(store, day: str, labels: pd.DataFrame, name: str = LABELS_FILE_NAME) -> None:
    land_frame(store, day, labels, f"{name}.csv")


def materialization(result, asset: str) -> dg.AssetMaterialization:
    (event,) = [e.materialization for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(asset)]
    return event


def check(result, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_features_without_labels_are_ingested_and_training_uses_labelled_rows_only(
        late, instance):
    defs, label_zone, held = late
    days = sorted(held)
    assert run_job(defs, "ingest_job", instance, days=days).success  # no target in the files
    small = training_config(window_days=DAYS, min_train_days=3)
    unlabelled = run_job(defs, "training_job", instance, run_config=small)
    assert not unlabelled.success
    (failure,) = [e for e in unlabelled.all_events if e.is_step_failure]
    assert "no labelled rows to train on" in failure.step_failure_data.error.message

    cursor = labels_tick(defs, instance, None).cursor
    today = date.fromisoformat(days[-1]) + timedelta(days=1)
    labelled_days = [d for d in days  # a week on, the newest days' labels are not due yet
                     if date.fromisoformat(d) + timedelta(days=LABEL_DELAY_DAYS) <= today]
    for day in labelled_days[:-1]:
        land_labels(label_zone, day, held[day])
    partly = labelled_days[-1]
    land_labels(label_zone, partly, held[partly].iloc[:ROWS // 2])
    ticked = labels_tick(defs, instance, cursor)
    assert [r.partition_key for r in ticked.run_requests] == labelled_days
    assert all(r.asset_selection == [dg.AssetKey("labels")]  # no champion yet: labels only
               for r in ticked.run_requests)
    assert run_requested(defs, instance, ticked.run_requests[0]).success
    assert materialize_labels(defs, instance, labelled_days[1:]).success  # the rest at once

    trained = run_job(defs, "training_job", instance, run_config=small)
    assert trained.success
    model = materialization(trained, "candidate_model").metadata
    labelled = ROWS * (len(labelled_days) - 1) + ROWS // 2
    assert model["unlabelled_rows_left_out"].value == ROWS // 2
    assert model["train_rows"].value + model["holdout_rows"].value == labelled
    assert model["train_days"].value.endswith(labelled_days[-1]) or \
        model["holdout_days"].value.endswith(labelled_days[-1])
    registry = defs.resources["mlflow"].registry()
    run = registry.client.get_run(registry.client.get_model_version(
        registry.model_name, model["model_version"].value).run_id)
    assert run.data.params["unlabelled_rows_left_out"] == str(ROWS // 2)


def test_labels_ask_for_performance_only_of_days_whose_predictions_are_stored(late, instance,
                                                                            home):
    """A day scoring skipped (one its champion trained on, or whose features were rejected) is
    a materialized predictions partition with nothing stored: performance has nothing to
    judge there."""
    defs, label_zone, held = late
    cursor = labels_tick(defs, instance, None).cursor
    scored, skipped = sorted(held)[7:9]
    folder = home / "storage" / "predictions"
    folder.mkdir(parents=True)
    pd.DataFrame({"row_id": ["a"], "prediction": [0.5], "model_version": ["1"]}).to_parquet(
        folder / f"{scored}.parquet", index=False)
    for day in (scored, skipped):
        instance.report_runless_asset_event(dg.AssetMaterialization("predictions",
                                                                    partition=day))
        land_labels(label_zone, day, held[day])
    ticked = labels_tick(defs, instance, cursor)
    assert {r.partition_key: [key.path[-1] for key in r.asset_selection]
            for r in ticked.run_requests} == {scored: ["labels", "performance"],
                                              skipped: ["labels"]}


def trained_on_the_first_labelled_days(defs, instance, label_zone, held) -> list[str]:
    """Every day ingested, the first six days' labels landed, a champion trained on them;
    returns the days."""
    days = sorted(held)
    assert run_job(defs, "ingest_job", instance, days=days).success
    for day in days[:6]:
        land_labels(label_zone, day, held[day])
    assert materialize_labels(defs, instance, days[:6]).success
    assert run_job(defs, "training_job", instance,
                   run_config=training_config(window_days=6, min_train_days=3)).success
    return days


def test_a_late_label_file_fills_in_its_days_realized_metric(late, instance):
    defs, label_zone, held = late
    days = trained_on_the_first_labelled_days(defs, instance, label_zone, held)
    scored_day = days[-1]
    scored = run_job(defs, "scoring_job", instance, days=[scored_day])
    assert scored.success

    cursor = labels_tick(defs, instance, None).cursor
    first = held[scored_day].iloc[:ROWS // 4]
    land_labels(label_zone, scored_day, first)
    ticked = labels_tick(defs, instance, cursor)
    (request,) = ticked.run_requests
    assert request.asset_selection == [dg.AssetKey("labels"), dg.AssetKey("performance")]
    early = run_requested(defs, instance, request)
    assert early.success
    performance = materialization(early, "performance").metadata
    assert performance["label_coverage"].value == 0.25
    assert performance["judged"].value is False
    # what the labels would show was estimated when the day was scored, and stays beside them
    estimated = performance["estimated_roc_auc"].value
    assert estimated == materialization(scored, "predictions").metadata[
        "estimated_roc_auc"].value
    decay = check(early, "no_performance_decay")
    assert decay.passed and "not judged yet" in decay.description
    assert check(early, "labels_match_features").passed

    rest = pd.concat([held[scored_day].iloc[ROWS // 4:],
                      held[scored_day].iloc[:1],  # a customer labelled twice
                      pd.DataFrame({"customer_id": ["C9999999"], "churned": [False]})])
    land_labels(label_zone, scored_day, rest, name="churn_labels_late")
    (again,) = labels_tick(defs, instance, ticked.cursor).run_requests
    assert again.partition_key == scored_day and again.run_key != request.run_key
    complete = run_requested(defs, instance, again)
    assert complete.success
    performance = materialization(complete, "performance").metadata
    assert performance["labelled_rows"].value == ROWS - 1  # the twice-labelled one is not used
    assert performance["judged"].value is True
    assert 0.5 < performance["realized_roc_auc"].value <= 1.0
    assert abs(performance["realized_roc_auc"].value - estimated) < 0.15
    match = check(complete, "labels_match_features")
    assert not match.passed
    assert match.metadata["duplicate_ids"].value == 1
    assert match.metadata["unmatched_ids"].value == 1
    assert match.metadata["unmatched_id_sample"].value == ["C9999999"]
    assert "C9999999" in match.description


def test_a_label_file_that_breaks_its_contract_is_quarantined(late, instance, home):
    defs, label_zone, held = late
    day = sorted(held)[0]
    assert run_job(defs, "ingest_job", instance, days=[day]).success
    land_labels(label_zone, day, held[day].assign(churned="maybe"))
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=day, asset_selection=[dg.AssetKey("labels")],
        raise_on_error=False)
    contract = check(result, "contract")
    assert not contract.passed and "churned" in contract.description
    quarantined = list((home / "labels" / "_quarantine" / day).rglob("*.csv"))
    assert [p.name for p in quarantined] == [f"{LABELS_FILE_NAME}.csv"]
    assert not (home / "labels" / day / f"{LABELS_FILE_NAME}.csv").exists()


def test_realized_decay_and_drift_are_separate_triggers_of_a_label_fed_model(home, instance):
    defs = build_definitions(Project(spec=ESTIMATE_TRIGGERED, start_date=START.isoformat()))
    policy = RetrainPolicy(min_interval_seconds=0, min_new_rows=0, bootstrap_days=0)

    def retrain_tick(cursor):
        return drift_retrain_tick(defs, instance, policy, cursor)

    def fail(asset: str, check_name: str, day: str):
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(asset), check_name=check_name, passed=False, partition=day,
            metadata={"score": dg.MetadataValue.float(0.3)}, description=f"{day}: failed"))

    fail("performance", "no_performance_decay", "2025-01-05")
    decayed = retrain_tick(None)
    (request,) = decayed.run_requests
    assert request.tags["retrain/trigger"] == "performance_decay"
    assert request.tags["retrain/check"] == "performance:no_performance_decay"

    fail("drift_report", "no_feature_drift", "2025-01-12")
    drifted = retrain_tick(decayed.cursor)
    (request,) = drifted.run_requests
    assert request.tags["retrain/trigger"] == "drift"
    assert request.tags["retrain/check"] == "drift_report:no_feature_drift"

    # with LabelFeed(estimate_trigger=True), the estimate's decay is a third trigger
    fail("drift_report", "no_estimated_performance_decay", "2025-01-20")
    (request,) = retrain_tick(drifted.cursor).run_requests
    assert request.tags["retrain/trigger"] == "estimated_decay"
    assert request.tags["retrain/check"] == "drift_report:no_estimated_performance_decay"


def test_an_estimate_triggered_model_checks_each_scored_day_before_its_labels(late, instance):
    _, label_zone, held = late
    defs = build_definitions(Project(spec=ESTIMATE_TRIGGERED, start_date=START.isoformat()))
    days = trained_on_the_first_labelled_days(defs, instance, label_zone, held)
    scored_day = days[-1]
    assert run_job(defs, "scoring_job", instance, days=[scored_day]).success
    monitored = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=scored_day,
        asset_selection=[dg.AssetKey("drift_report")])
    estimated = check(monitored, "no_estimated_performance_decay")
    assert estimated.passed, estimated.description
    assert estimated.description.startswith(f"{scored_day}: estimated roc_auc 0.")
    assert 0.5 < estimated.metadata["estimated_roc_auc"].value <= 1.0
    assert materialization(monitored, "drift_report").metadata[
        "estimated_metric_decay"].value < estimated.metadata["threshold"].value
    with pytest.raises(ValueError, match="needs a binary classifier judged on roc_auc"):
        replace(TAXI_TRIPS, labels=LabelFeed(estimate_trigger=True))


def test_the_first_champion_of_a_label_fed_model_waits_for_labelled_days(home, instance):
    defs = build_definitions(Project(spec=CUSTOMER_CHURN_LATE_LABELS,
                                     start_date=START.isoformat()))
    policy = RetrainPolicy(min_interval_seconds=0, min_new_rows=0, bootstrap_days=3)

    def bootstrap_requests():
        return drift_retrain_tick(defs, instance, policy).run_requests

    def materialized(asset: str, days: int):
        for offset in range(days):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=asset, partition=(START + timedelta(days=offset)).isoformat()))

    materialized("features", 5)
    materialized("labels", 2)
    assert bootstrap_requests() == []  # five days of features, two of them labelled
    materialized("labels", 3)
    (request,) = bootstrap_requests()
    assert request.tags["retrain/trigger"] == "bootstrap"
    assert request.tags["retrain/days_with_features"] == "3"


def drift_retrain_tick(defs, instance, policy: RetrainPolicy, cursor: str | None = None):
    """One evaluation of drift_retrain_sensor under `policy`."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                 resources={**defs.resources,
                                            "retrain_policy": policy}) as context:
        return defs.resolve_sensor_def("drift_retrain_sensor")(context)


def report_day(instance, asset: str, day: str, **counts: int) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=asset, partition=day,
        metadata={key.replace("row_count", "dagster/row_count"): dg.MetadataValue.int(n)
                  for key, n in counts.items()}))


def test_a_label_fed_models_data_volume_counts_the_rows_it_can_train_on(home, instance):
    """Feature rows without a label yet are nothing to train on; a day's labels landing in
    several files count the day once."""
    defs = build_definitions(Project(spec=CUSTOMER_CHURN_LATE_LABELS,
                                     start_date=START.isoformat()))
    policy = RetrainPolicy(min_interval_seconds=0, min_new_rows=500, bootstrap_days=0)

    def volume_tick():
        return drift_retrain_tick(defs, instance, policy)

    days = [(START + timedelta(days=offset)).isoformat() for offset in range(3)]
    for day in days:
        report_day(instance, "features", day, row_count=400)
    report_day(instance, "labels", days[0], labelled_rows=200)
    skipped = volume_tick()
    assert skipped.run_requests == []
    assert "200 of the 500 new labelled rows" in skipped.skip_reason.skip_message
    report_day(instance, "labels", days[0], labelled_rows=300)  # its second label file
    report_day(instance, "labels", days[1], labelled_rows=150)
    assert volume_tick().run_requests == []  # 450 rows labelled
    report_day(instance, "labels", days[2], labelled_rows=100)
    (request,) = volume_tick().run_requests
    assert (request.tags["retrain/trigger"], request.tags["retrain/new_rows"]) == (
        "data_volume", "550")
    report_day(instance, "candidate_model", None)  # a training: the count restarts
    report_day(instance, "labels", days[2], labelled_rows=250)
    assert "150 of the 500 new labelled rows" in volume_tick().skip_reason.skip_message


def test_a_label_fed_models_change_follow_up_weighs_the_rows_it_can_train_on(home, instance):
    """The follow-up of a change is asked for once the labelled rows since it can train a
    candidate from it: feature rows whose labels are still out cannot."""
    defs = build_definitions(Project(spec=CUSTOMER_CHURN_LATE_LABELS,
                                     start_date=START.isoformat()))
    days = [(START + timedelta(days=offset)).isoformat() for offset in range(10)]
    for day in days:
        report_day(instance, "features", day, row_count=400)
    for day in days[:7]:  # the last three days' labels are not due yet
        report_day(instance, "labels", day, labelled_rows=380)
    registry = defs.resources["mlflow"].registry()  # a champion judged after the change
    registry.client.create_registered_model(registry.model_name)
    run = registry.client.create_run(registry._activate(), tags={
        "train_days": f"{days[0]}..{days[3]}", "holdout_days": f"{days[4]}..{days[5]}"})
    version = str(registry.client.create_model_version(
        registry.model_name, source=str(home / "model"), run_id=run.info.run_id).version)
    registry.client.set_model_version_tag(registry.model_name, version, "trained_from_change",
                                          "no")
    registry.promote(version, expected_champion=None, reason="blessed",
                     actor=Actor("run", "test"))
    policy = RetrainPolicy(min_interval_seconds=0, min_new_rows=0, bootstrap_days=0,
                           training=TrainingConfig(window_days=10, min_train_days=3,
                                                   min_holdout_rows=100,
                                                   min_rows_after_change=1000))
    cursor = RetrainCursor(change=OpenChange(day=days[5], asked_through=days[5])).to_json()
    result = drift_retrain_tick(defs, instance, policy, cursor)
    assert result.run_requests == []
    assert "760 rows since it are not yet enough to train from it" in \
        result.skip_reason.skip_message


def test_a_shadow_challenger_of_a_label_fed_model_is_judged_when_the_labels_land(
        late, instance, monkeypatch):
    """Its predictions are stored before the labels: the labels landing is what lets the
    shadow decision judge the day."""
    monkeypatch.setenv("RETRAIN_ASSETS_PROMOTION", "shadow")
    monkeypatch.setenv("RETRAIN_ASSETS_SHADOW_DAYS", "1")
    _, label_zone, held = late
    defs = build_definitions(Project(spec=CUSTOMER_CHURN_LATE_LABELS,
                                     start_date=START.isoformat()))
    registry = defs.resources["mlflow"].registry()
    days = sorted(held)
    assert run_job(defs, "ingest_job", instance, days=days).success
    for day in days[:9]:
        land_labels(label_zone, day, held[day])
    assert materialize_labels(defs, instance, days[:9]).success
    assert run_job(defs, "training_job", instance, run_config=training_config(
        window_days=4, min_train_days=3, max_iter=10)).success
    assert run_job(defs, "training_job", instance, run_config=training_config(
        window_days=4, min_train_days=3, max_iter=40)).success  # another model, not better
    # the gate's verdict on so few rows is a coin toss: version 2 is made challenger by hand
    registry.start_shadow("2", champion="1", reason="test", actor=Actor("run", "test"))
    assert (registry.version_for("champion"), registry.version_for("challenger")) == ("1", "2")

    live = days[10]
    assert run_job(defs, "scoring_job", instance, days=[live]).success
    resources = {"mlflow": defs.resources["mlflow"]}
    ticked = sensor_tick(defs, "shadow_sensor", instance, resources)
    (request,) = ticked.run_requests
    assert run_job(defs, "shadow_decision_job", instance, tags=request.tags).success
    report = shadow_report(instance)
    assert report["decision"] == "wait", "no label of the live day has arrived"

    land_labels(label_zone, live, held[live])
    assert materialize_labels(defs, instance, [live]).success
    (request,) = sensor_tick(defs, "shadow_sensor", instance, resources,
                             ticked.cursor).run_requests  # the labels landing, no new scoring
    assert run_job(defs, "shadow_decision_job", instance, tags=request.tags).success
    report = shadow_report(instance)
    (compared,) = report["comparison"].records
    assert (compared.data["day"], compared.data["rows"]) == (live, ROWS)
    assert report["decision"] in ("promote", "retire"), "one labelled day decides at N = 1"


def shadow_report(instance) -> dict:
    record = instance.fetch_materializations(dg.AssetKey("shadow_report"), limit=1).records[0]
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def test_a_rewritten_day_gets_its_performance_only_if_its_labels_are_stored(late, instance,
                                                                           home):
    """A day whose label files broke their contract is a materialized labels partition with
    nothing stored: performance has nothing to judge there."""
    defs, _, held = late
    registry = defs.resources["mlflow"].registry()  # a champion: rewritten days are scored
    registry.client.create_registered_model(registry.model_name)
    version = str(registry.client.create_model_version(
        registry.model_name, source=str(home / "model")).version)
    registry.promote(version, expected_champion=None, reason="blessed",
                     actor=Actor("run", "test"))
    landing = LocalObjectStore(home / "landing")

    def landing_tick(cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                     resources=defs.resources) as context:
            return defs.resolve_sensor_def("landing_zone_sensor")(context)

    stored, rejected = sorted(held)[7:9]
    folder = home / "storage" / "labels"
    folder.mkdir(parents=True)
    held[stored].to_parquet(folder / f"{stored}.parquet", index=False)
    cursor = landing_tick(None).cursor  # the first look: history
    for day in (stored, rejected):
        instance.report_runless_asset_event(dg.AssetMaterialization("labels", partition=day))
        snapshots, _ = split_labels(simulated_day(date.fromisoformat(day), ROWS, seed=99))
        land_frame(landing, day, snapshots, "customers.csv")
    requests = {r.partition_key: [key.path[-1] for key in r.asset_selection]
                for r in landing_tick(cursor).run_requests}
    assert requests[stored][-1] == "performance"
    assert "performance" not in requests[rejected]


def test_a_day_whose_labels_are_all_one_class_is_not_judged():
    """ROC AUC of one class is undefined: the day is reported, never failed or passed on NaN."""
    from retrain_assets.adapters.registry import HoldoutMetrics
    from retrain_assets.core.drift import DriftThresholds
    from retrain_assets.pipeline.assets.labels import realized_day

    ids = [f"C{i}" for i in range(10)]
    scored = pd.DataFrame({"row_id": ids, "prediction": [i / 10 for i in range(10)],
                           "actual": [float("nan")] * 10, "model_version": "3"})
    labels = pd.DataFrame({"customer_id": ids, "churned": [False] * 10})
    day = realized_day("2025-01-05", scored, labels, CUSTOMER_CHURN_LATE_LABELS,
                       HoldoutMetrics({"roc_auc": 0.8}, rows=500), DriftThresholds(), 0.8)
    assert (day.labelled, day.live, day.judged) == (10, None, False)
    outcome = day.outcome()
    assert outcome.passed and "labelled rows of one class" in outcome.description


def test_a_rewritten_day_whose_labels_are_in_gets_its_performance_again(late, instance, home):
    defs, label_zone, held = late
    days = trained_on_the_first_labelled_days(defs, instance, label_zone, held)
    landing = LocalObjectStore(home / "landing")

    def landing_tick(cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                     resources=defs.resources) as context:
            return defs.resolve_sensor_def("landing_zone_sensor")(context)

    labelled, unlabelled = days[7], days[8]  # served by the champion (trained on days[:6])
    land_labels(label_zone, labelled, held[labelled])
    assert materialize_labels(defs, instance, [labelled]).success
    cursor = landing_tick(None).cursor  # the first look: history
    for day in (labelled, unlabelled):  # rewritten: new rows, so new predictions
        snapshots, _ = split_labels(simulated_day(date.fromisoformat(day), ROWS, seed=99))
        land_frame(landing, day, snapshots, "customers.csv")
    requests = {r.partition_key: r for r in landing_tick(cursor).run_requests}
    assert [k.path[-1] for k in requests[labelled].asset_selection][-1] == "performance"
    assert "performance" not in [k.path[-1] for k in requests[unlabelled].asset_selection]
    rerun = run_requested(defs, instance, requests[labelled])
    assert rerun.success
    assert materialization(rerun, "performance").metadata["model_version"].value == "1"


def test_a_realized_day_words_its_decay_as_drift_report_does_adding_its_coverage():
    """A label-fed day's decay check and drift_report's say one thing one way: the same
    sentence and numbers, the label coverage added."""
    from retrain_assets.core.drift import performance_decay
    from retrain_assets.pipeline.assets.labels import RealizedDay
    from retrain_assets.pipeline.assets.monitoring import DayDrift

    for live in (0.6, 0.79):  # decayed, and not
        decay = performance_decay("roc_auc", live, 0.8)
        drift = DayDrift("2025-01-05", "3", summary=None, decay=decay).decay_outcome()
        realized = RealizedDay("2025-01-05", "3", rows=100, labelled=90, metric="roc_auc",
                               live=live, decay=decay, min_coverage=0.8).outcome()
        covered = "90 of 100 scored rows labelled (90%)"
        assert realized.passed == drift.passed == (live > 0.7)
        assert realized.description == (
            drift.description.replace(")", f"; {covered})", 1) if not drift.passed
            else f"{drift.description} ({covered})")
        assert {k: v for k, v in realized.metadata.items() if k != "label_coverage"} == \
            drift.metadata
