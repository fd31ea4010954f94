"""`shadow` promotion mode end to end: a blessed candidate becomes the challenger, predictions
store its scores beside the champion's, and it is promoted only after N labelled live wins."""

import time

import dagster as dg
import pandas as pd
import pytest

from retrain_assets.adapters.registry import CHALLENGER, CHAMPION, Actor
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.alerts import (
    AlertCursor,
    AlertRoute,
    OutcomeAlerts,
    champion_alerts,
    champion_events,
)
from retrain_assets.pipeline.assets.shadow import build_shadow_sensor
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.component import RetrainingPipeline
from retrain_assets_tests.conftest import START, land, training_config

WEAK = training_config(min_train_days=3, max_iter=8)  # blessed on its own, beaten by STRONG
STRONG = training_config(min_train_days=3, max_iter=60)


def _report(instance) -> dict:
    record = instance.fetch_materializations(dg.AssetKey("shadow_report"), limit=1).records[0]
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def _decide(project, defs, instance, cursor: str | None
            ) -> tuple[str | None, dg.ExecuteInProcessResult]:
    """One shadow_sensor tick; runs the decision job it asks for."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"mlflow": defs.resources["mlflow"]})
    requested = build_shadow_sensor(project)(context)
    assert isinstance(requested, dg.RunRequest), requested
    return context.cursor, run_job(defs, "shadow_decision_job", instance,
                                   tags=requested.tags)


def test_a_challenger_is_promoted_only_after_n_labelled_live_wins(home, project, instance,
                                                                  landing, monkeypatch):
    monkeypatch.setenv("RETRAIN_ASSETS_PROMOTION", "shadow")
    monkeypatch.setenv("RETRAIN_ASSETS_SHADOW_DAYS", "2")
    defs = build_definitions(project)
    registry = defs.resources["mlflow"].registry()
    days = land(landing, START, 17, rows=150)
    assert run_job(defs, "ingest_job", instance, days=days[:8]).success
    assert run_job(defs, "training_job", instance, run_config=WEAK).success
    assert registry.version_for(CHAMPION) == "1", "no champion to shadow: promoted at once"

    assert run_job(defs, "ingest_job", instance, days=days[8:14]).success
    assert run_job(defs, "training_job", instance, run_config=STRONG).success
    assert (registry.version_for(CHAMPION), registry.version_for(CHALLENGER)) == ("1", "2")

    assert run_job(defs, "ingest_job", instance, days=days[14:]).success
    assert run_job(defs, "scoring_job", instance, days=[days[14]]).success
    stored = pd.read_parquet(home / "storage" / "predictions" / f"{days[14]}.parquet")
    assert set(stored["model_version"]) == {"1"} and set(stored["challenger_version"]) == {"2"}
    assert stored["challenger_prediction"].notna().all()
    day_meta = instance.fetch_materializations(dg.AssetKey("predictions"), limit=1).records[0]\
        .asset_materialization.metadata
    assert (day_meta["model_version"].value, day_meta["challenger_version"].value) == ("1", "2")

    cursor, first = _decide(project, defs, instance, None)
    assert first.success
    report = _report(instance)
    assert (report["decision"], report["wins"], report["required_wins"]) == ("wait", 1, 2)
    assert registry.version_for(CHAMPION) == "1", "one labelled win of two is not enough"

    assert run_job(defs, "scoring_job", instance, days=[days[15]]).success
    cursor, second = _decide(project, defs, instance, cursor)
    assert second.success
    report = _report(instance)
    assert report["decision"] == "promote", report["reason"]
    assert [row.data["day"] for row in report["comparison"].records] == days[14:16]
    assert (registry.version_for(CHAMPION), registry.version_for(CHALLENGER)) == ("2", None)
    history = [(r.action, r.from_version, r.to_version) for r in registry.history()]
    assert history == [("promote", None, "1"), ("shadow_start", "1", "2"),
                       ("shadow_promote", "1", "2")]
    ended = registry.history()[-1]
    assert ended.reason.startswith("shadow end: promoted: beat the champion on 2 of 2")
    assert ended.run_id == second.run_id
    champion_event = instance.fetch_materializations(dg.AssetKey("production_model"),
                                                     limit=1).records[0]
    assert champion_event.run_id == second.run_id
    assert champion_event.asset_materialization.metadata["outcome"].value == "promoted"
    checks = {e.check_name: e for e in second.get_asset_check_evaluations()}
    assert checks["champion_alias_matches"].passed, "the decision run checks the moved alias"
    assert "points at version 2" in checks["champion_alias_matches"].description

    # the new champion serves the days after those it shadowed; a shadowed day re-scored
    # point in time keeps the champion that served it
    assert run_job(defs, "scoring_job", instance, days=[days[14], days[16]]).success
    stored = {day: pd.read_parquet(home / "storage" / "predictions" / f"{day}.parquet")
              for day in (days[14], days[16])}
    assert {day: set(frame["model_version"]) for day, frame in stored.items()} == {
        days[14]: {"1"}, days[16]: {"2"}}
    assert not any("challenger_version" in frame for frame in stored.values())
    # with no challenger left, new predictions ask for no decision
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"mlflow": defs.resources["mlflow"]})
    skipped = build_shadow_sensor(project)(context)
    assert isinstance(skipped, dg.SkipReason) and "no challenger" in skipped.skip_message


def _version_with_window(registry, home, last_train: str, last_judged: str) -> str:
    """A registered version whose run says which days it trained and was judged on."""
    experiment = registry._activate()
    run = registry.client.create_run(experiment, tags={
        "train_days": f"2025-01-01..{last_train}", "holdout_days": f"..{last_judged}"})
    return str(registry.client.create_model_version(
        registry.model_name, source=str(home / "model"), run_id=run.info.run_id).version)


def _store_predictions(home, instance, day: str, *, champion_error: float,
                       challenger_error: float, version: str | None) -> None:
    """A predictions day stored and materialized as scoring does while `version` shadows
    champion 1 (None: scored by the champion alone)."""
    folder = home / "storage" / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    actual = pd.Series([1.0, 3.0, 5.0])
    frame = pd.DataFrame({"row_id": [f"{day}-{i}" for i in range(len(actual))],
                          "prediction": actual + champion_error, "actual": actual,
                          "model_version": "1"})
    if version is not None:
        frame = frame.assign(challenger_prediction=actual + challenger_error,
                             challenger_version=version)
    frame.to_parquet(folder / f"{day}.parquet", index=False)
    instance.report_runless_asset_event(dg.AssetMaterialization("predictions", partition=day))


def _shadowing(home, project, monkeypatch):
    """A shadow-mode model (decided after 2 labelled live days, at most 3) with a champion
    trained on 2025-01-10..12: its definitions, registry, the sensor actor, the champion."""
    monkeypatch.setenv("RETRAIN_ASSETS_PROMOTION", "shadow")
    monkeypatch.setenv("RETRAIN_ASSETS_SHADOW_DAYS", "2")
    monkeypatch.setenv("RETRAIN_ASSETS_SHADOW_MAX_DAYS", "3")
    defs = build_definitions(project)
    registry = defs.resources["mlflow"].registry()
    registry.client.create_registered_model(registry.model_name)
    sensor = Actor(run_id="run-t", user="sensor")
    champion = _version_with_window(registry, home, "2025-01-10", "2025-01-12")
    registry.promote(champion, expected_champion=None, reason="first", actor=sensor)
    return defs, registry, sensor, champion


def test_a_losing_or_expired_challenger_is_retired_with_its_reason_and_alerted(
        home, project, instance, monkeypatch):
    defs, registry, sensor, champion = _shadowing(home, project, monkeypatch)
    loser = _version_with_window(registry, home, "2025-01-20", "2025-01-22")
    registry.start_shadow(loser, champion=champion, reason="blessed", actor=sensor)
    alerts = OutcomeAlerts(routes=[AlertRoute(kinds=["shadow"], slack_channel="#ml")])
    events = champion_events(instance, dg.AssetKey("production_model"), 0)

    def decide():
        assert dg.materialize(defs.assets, selection=["shadow_report"], instance=instance,
                              resources=defs.resources).success
        return _report(instance)

    # its own holdout day is never counted; a tie and one loss: waiting
    for day, challenger_error in (("2025-01-22", 0.0), ("2025-01-23", 0.5),
                                  ("2025-01-24", 0.9)):
        _store_predictions(home, instance, day, champion_error=0.5,
                           challenger_error=challenger_error, version=loser)
    waiting = decide()
    assert (waiting["decision"], waiting["wins"], waiting["losses"],
            waiting["live_days"]) == ("wait", 0, 1, 2)
    assert [row.data["outcome"] for row in waiting["comparison"].records] == ["tie", "loss"]

    _store_predictions(home, instance, "2025-01-25", champion_error=0.5, challenger_error=0.7,
                       version=loser)
    retired = decide()
    assert retired["decision"] == "retire"
    assert retired["reason"] == ("the champion beat it on 2 of 3 labelled live days (rmse), "
                                 "through 2025-01-25; it won 0")
    assert (registry.version_for(CHAMPION), registry.version_for(CHALLENGER)) == (champion,
                                                                                  None)
    assert registry.history()[-1].action == "shadow_retire"
    assert registry.history()[-1].reason == f"shadow end: retired: {retired['reason']}"

    # expiry: no decision within shadow_max_days live days, even on days it could not score
    slow = _version_with_window(registry, home, "2025-01-25", "2025-01-25")
    registry.start_shadow(slow, champion=champion, reason="blessed", actor=sensor)
    for day in ("2025-01-26", "2025-01-27"):
        _store_predictions(home, instance, day, champion_error=0.5, challenger_error=0.5,
                           version=slow)
    _store_predictions(home, instance, "2025-01-28", champion_error=0.5, challenger_error=0.5,
                       version="an earlier challenger")
    expired = decide()
    assert expired["decision"] == "retire"
    assert expired["reason"].startswith("shadow period over: 3 live days (max 3), 0 wins")
    assert registry.version_for(CHALLENGER) is None

    retirements = [e for e in champion_events(instance, dg.AssetKey("production_model"), 0)
                   if e not in events]
    sent, _ = champion_alerts(retirements, AlertCursor(), alerts)
    assert [(a.kind, a.text.split(";")[0]) for a in sent] == [
        ("shadow", f":ghost: challenger version {loser} retired"),
        ("shadow", f":ghost: challenger version {slow} retired")]


def test_the_shadow_period_counts_the_days_scored_while_it_shadowed(home, project, instance,
                                                                   monkeypatch):
    """A label-fed candidate is trained once its holdout's labels land, days after the days
    that followed its holdout were scored by the champion alone: those never count against
    its shadow period."""
    defs, registry, sensor, champion = _shadowing(home, project, monkeypatch)
    for day in ("2025-01-21", "2025-01-22", "2025-01-23"):  # while its labels were awaited
        _store_predictions(home, instance, day, champion_error=0.5, challenger_error=0.0,
                           version=None)
    late = _version_with_window(registry, home, "2025-01-18", "2025-01-20")
    time.sleep(1)  # the promotion history records the start to the second
    registry.start_shadow(late, champion=champion, reason="blessed", actor=sensor)
    _store_predictions(home, instance, "2025-01-24", champion_error=0.5, challenger_error=0.7,
                       version=late)

    assert dg.materialize(defs.assets, selection=["shadow_report"], instance=instance,
                          resources=defs.resources).success
    report = _report(instance)
    assert (report["decision"], report["losses"], report["live_days"]) == ("wait", 1, 1), \
        report["reason"]
    assert registry.version_for(CHALLENGER) == late


def test_shadow_mode_is_a_yaml_setting_and_a_length_under_one_day_is_refused_naming_it():
    pipeline = RetrainingPipeline.resolve_from_yaml(
        "dataset: taxi\npromotion: {mode: shadow, shadow_days: 3}\n")
    assert (pipeline.promotion.mode, pipeline.promotion.shadow_days,
            pipeline.promotion.shadow_max_days) == ("shadow", 3, 30)
    with pytest.raises(Exception, match="promotion.shadow_max_days is 0: it counts live days"):
        RetrainingPipeline.resolve_from_yaml(
            "dataset: taxi\npromotion: {mode: shadow, shadow_max_days: 0}\n")
