"""Issue 16's acceptance through the real Dagster daemon: a churn classifier whose labels land
`LABEL_DELAY_DAYS` after its features (`churn_late_labels`) is scored on arrival, has its
realized metric filled in when the labels land, and recovers from a concept change its
labels reveal a week late (slow: a daemon, a code server and a run process per landed file and
per retrain).

The history is labelled from the start, as in the policy benchmark's late-label streams: its
labels land with it, before the daemon, so the first champion trains on the whole history and
only the days after it wait for their labels.
"""

from __future__ import annotations

import importlib
import os
from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest

from bench.streams import CHURN, World
from retrain_assets.adapters.registry import CHAMPION, PROMOTE
from retrain_assets.core.simulation import daily_row_count
from retrain_assets.datasets.churn.simulator import (
    FILE_NAME,
    LABEL_DELAY_DAYS,
    LABELS_FILE_NAME,
    split_labels,
)
from retrain_assets.dev.demo import DEMO_START, Daemon, Model, Watcher, submit_backfill
from retrain_assets.dev.simulate import encode_frame
from retrain_assets.pipeline.resources import open_store
from retrain_assets_tests.daemon_project import (
    POLL_SECONDS,
    bootstrapped_champion,
    compressed_project,
    sensor_looked_after,
)

MODEL = "churn_late_labels"
HISTORY_DAYS = 28
ROWS = 3_000  # a day: the change day's labelled rows alone train a candidate and judge it
MAX_DRIFTED_DAYS = LABEL_DELAY_DAYS + 3
TIMEOUT_SECONDS = 240.0  # per wait, on a loaded 2-core machine


def simulate(index: int, world: World) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Day `index` of the churn stream: its key, snapshots and labels."""
    day = DEMO_START + timedelta(days=index)
    rows = daily_row_count(day, ROWS, seed=CHURN.seed)
    return (day.isoformat(),
            *split_labels(CHURN.simulate(day, rows, CHURN.seed, world)))


def land(store, day: str, frame: pd.DataFrame, name: str) -> None:
    store.write_bytes(f"{day}/{name}.parquet", encode_frame(frame, "parquet"))


def latest(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> dg.EventLogRecord:
    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1).records
    return record


@pytest.mark.slow
def test_a_late_labelled_classifier_is_scored_judged_and_recovers_through_the_daemon(
        home, tmp_path, monkeypatch):
    module = compressed_project(tmp_path / "project", MODEL,
                                labels_url=str(tmp_path / "label_zone"))
    monkeypatch.syspath_prepend(str(tmp_path / "project"))
    defs = importlib.import_module(module).defs
    model = Model.of(defs, MODEL, CHURN.seed)
    registry, landing, names = model.registry, model.landing, model.names
    label_zone = open_store(defs.resources[names.of("labels_zone")].url)
    environment = {"PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "project"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    history = []
    for index in range(HISTORY_DAYS):
        day, snapshots, labels = simulate(index, World())
        land(landing, day, snapshots, FILE_NAME)
        land(label_zone, day, labels, LABELS_FILE_NAME)
        history.append(day)

    with dg.DagsterInstance.get() as instance:
        backfill = submit_backfill(instance, defs, history,
                                   [names.raw_data, names.features, names.labels])
    with dg.DagsterInstance.get() as instance, \
            Daemon(home, environment, module=module) as daemon:
        watch = Watcher(instance, daemon, TIMEOUT_SECONDS, poll_seconds=POLL_SECONDS)
        first = bootstrapped_champion(watch, names, registry, backfill,
                                      ("landing_zone_sensor", "labels_sensor"))

        change, held, labelled, recovered = None, {}, [], None
        for index in range(HISTORY_DAYS, HISTORY_DAYS + MAX_DRIFTED_DAYS):
            day, snapshots, held[day] = simulate(index, World(concept=1.0))
            change = change or day
            land(landing, day, snapshots, FILE_NAME)
            runs = [watch.until(f"the landing run for {day}",
                                lambda d=day: model.sensor_runs(watch, d))[0]]
            due = (DEMO_START + timedelta(days=index - LABEL_DELAY_DAYS)).isoformat()
            if due in held:  # the labels of the day a week ago land today
                land(label_zone, due, held[due], LABELS_FILE_NAME)
                labelled.append(due)
                runs.append(watch.until(f"the labels run for {due}", lambda d=due: watch.runs(
                    tags={"labels/day": d,
                          "dagster/sensor_name": names.of("labels_sensor")}))[0])
            ended = max(watch.until(f"run {run.run_id} to finish",
                                    lambda r=run: watch.finished(r)).end_time for run in runs)
            watch.until("drift_retrain_sensor to look at the day", lambda t=ended: (
                sensor_looked_after(watch, names.of("drift_retrain_sensor"), t)))
            watch.until("the retrains it asked for", watch.quiet)
            champion = registry.champion_window()
            if (champion.trained_from or "") >= change:
                recovered = champion
                break
        decayed = [run.tags for run in watch.runs(job_name=names.training_job)
                   if run.tags.get("retrain/trigger") == "performance_decay"]

        assert recovered is not None, (
            f"no champion trained from the change on {change} within {MAX_DRIFTED_DAYS} drifted "
            f"days (labels {LABEL_DELAY_DAYS} days late, landed for {labelled}); the champion is "
            f"version {registry.version_for(CHAMPION)} ({registry.champion_window()}); see "
            f"{daemon.log_path}")
        for day in labelled:  # scored on arrival, judged when the labels landed
            scored = latest(instance, names.predictions, day)
            labels = latest(instance, names.labels, day)
            judged = latest(instance, names.performance, day)
            assert scored.timestamp < labels.timestamp < judged.timestamp, day
            assert 0.5 <= scored.asset_materialization.metadata["estimated_roc_auc"].value <= 1.0
            realized = judged.asset_materialization.metadata
            assert realized["label_coverage"].value == 1.0, day
            assert realized["judged"].value is True, day
            assert 0.0 <= realized["realized_roc_auc"].value <= 1.0, day
            assert "estimated_roc_auc" in realized, day
        change_day = latest(instance, names.performance, change).asset_materialization.metadata
        # the concept change the estimate cannot see hurt the champion that scored the day
        assert change_day["realized_roc_auc"].value < \
            change_day["estimated_roc_auc"].value - 0.05, change_day

    promotions = [record for record in registry.history() if record.action == PROMOTE]
    assert promotions[0].to_version == first
    assert promotions[-1].to_version == recovered.version
    tags = registry.run_tags(recovered.version)
    assert tags["trigger"] in ("performance_decay", "drift", "change_follow_up"), tags
    assert tags["retrain/change_day"] == change, tags
    assert recovered.holdout_end <= labelled[-1], recovered  # judged on labelled days only
    reason = registry.client.get_model_version(
        registry.model_name, recovered.version).tags["promotion_reason"]
    assert reason == promotions[-1].reason
    assert reason.startswith("blessed by evaluation_report") and "roc_auc " in reason, reason
    assert "vs champion" in reason, reason
    assert decayed, "no retrain was asked for by the realized decay check"
    assert all(run_tags["retrain/check"].endswith(":no_performance_decay")
               for run_tags in decayed), decayed
