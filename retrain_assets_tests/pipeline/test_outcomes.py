"""Outcomes are not failures: a rejected candidate ends green and pages nobody; approval mode
parks a blessed candidate until a person decides; outcome alerts go along their routes."""

import logging

import dagster as dg
import pytest

from retrain_assets.adapters.registry import AWAITING_APPROVAL, CHAMPION
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.alerts import (
    AlertRoute,
    OutcomeAlerts,
    build_outcome_alert_sensor,
)
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.project import Project
from retrain_assets_tests.conftest import SMALL_TRAINING, START, champion_from, land

DRIFT_REPORT = dg.AssetKey("drift_report")
CRIPPLED = {"ops": {"candidate_model": {"config": {
    **SMALL_TRAINING["ops"]["candidate_model"]["config"], "max_iter": 2, "learning_rate": 0.01}}}}


def _tick(instance, alerts: OutcomeAlerts, cursor: str | None) -> str:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"outcome_alerts": alerts})
    build_outcome_alert_sensor(Project(spec=TAXI_TRIPS))(context)
    return context.cursor


def _events(instance, kind) -> list[dict]:
    fetch = (instance.fetch_observations if kind == "observation"
             else instance.fetch_materializations)
    records = fetch(dg.AssetKey("production_model"), limit=100).records
    return [{k: v.value for k, v in (r.asset_observation or r.asset_materialization)
             .metadata.items()} | {"run_id": r.run_id} for r in records]


def test_a_rejected_candidate_ends_green_pages_nobody_and_alerts_its_route(
        defs, instance, landing, slack):
    champion = champion_from(defs, instance, landing)
    alerts = OutcomeAlerts(slack_token="xoxb-test", not_blessed_in_a_row=1,
                           dagster_ui_url="http://dagster.example/",
                           routes=[AlertRoute(kinds=["not_blessed"], slack_channel="#ml"),
                                   AlertRoute(kinds=["promotion"], slack_channel="#deploys")])
    cursor = _tick(instance, alerts, None)  # starts from the present: the bootstrap is history

    worse = run_job(defs, "training_job", instance, run_config=CRIPPLED)

    assert worse.success, "a candidate that is not blessed is an outcome, not a failure"
    assert instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])) == [], \
        "run_failure_alert has no failed run to page about"
    registry = defs.resources["mlflow"].registry()
    assert registry.version_for(CHAMPION) == champion
    assert _events(instance, "materialization")[0]["run_id"] != worse.run_id
    observed = _events(instance, "observation")[0]
    assert observed["outcome"] == "not promoted" and observed["model_version"] == champion
    candidate = observed["candidate_version"]
    verdict = registry.client.get_model_version(registry.model_name, candidate).tags["verdict"]
    assert verdict.startswith("not blessed: ") and "FAIL" in verdict

    _tick(instance, alerts, cursor)
    assert [m["channel"] for m in slack] == ["#ml"]
    assert f"1 candidates in a row were not blessed; champion version {champion}" \
        in slack[0]["text"]
    assert f"http://dagster.example/runs/{worse.run_id}" in slack[0]["text"]

    # promotion_history on its own re-reads the history; it never acts on a verdict
    refreshed = dg.materialize(defs.assets, selection=["promotion_history"], instance=instance,
                               resources=defs.resources)
    assert refreshed.success and registry.version_for(CHAMPION) == champion
    assert [e.asset_key.path[0] for e in refreshed.get_asset_materialization_events()] == \
        ["promotion_history"]
    assert _events(instance, "observation")[0]["run_id"] == worse.run_id


def test_approval_mode_parks_a_blessed_candidate_until_approved_and_expiry_moves_nothing(
        home, project, instance, landing, monkeypatch, slack):
    days = land(landing, START, 8, rows=120)
    monkeypatch.setenv("RETRAIN_ASSETS_PROMOTION", "approve")
    monkeypatch.setenv("RETRAIN_ASSETS_APPROVAL_HOURS", "0")
    expiring = build_definitions(project)
    registry = expiring.resources["mlflow"].registry()
    assert run_job(expiring, "ingest_job", instance, days=days).success
    approve = {"ops": {"decide_approval": {"config": {"decision": "approve",
                                                      "reason": "report reviewed"}}}}

    # expired: nothing moves, the history says so
    assert run_job(expiring, "training_job", instance, run_config=SMALL_TRAINING).success
    assert registry.version_for(AWAITING_APPROVAL) == "1"
    late = run_job(expiring, "approve_job", instance, run_config=approve)
    assert not late.success
    assert registry.version_for(CHAMPION) is None
    assert registry.version_for(AWAITING_APPROVAL) is None
    assert [r.action for r in registry.history()] == ["await_approval", "expire"]

    # blessed -> waiting (visible on production_model) -> approved -> champion
    monkeypatch.setenv("RETRAIN_ASSETS_APPROVAL_HOURS", "72")
    monkeypatch.setenv("RETRAIN_ASSETS_RETRAIN_BOOTSTRAP_DAYS", "5")
    defs = build_definitions(project)
    alerts = OutcomeAlerts(slack_token="xoxb-test", routes=[AlertRoute(
        kinds=["awaiting_approval", "promotion"], slack_channel="#approvals")])
    cursor = _tick(instance, alerts, None)
    waiting = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    assert waiting.success and registry.version_for(CHAMPION) is None
    assert registry.version_for(AWAITING_APPROVAL) == "2"
    observed = _events(instance, "observation")[0]
    assert observed["outcome"] == "awaiting approval" and "run approve_job" in observed["reason"]
    cursor = _tick(instance, alerts, cursor)
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
        bootstrap = defs.resolve_sensor_def("drift_retrain_sensor")(context)
    assert not bootstrap.run_requests, "a first candidate awaiting approval is not retrained"

    approved = run_job(defs, "approve_job", instance, run_config=approve,
                       tags={"user": "carol"})
    assert approved.success
    assert registry.version_for(CHAMPION) == "2"
    alias_check, = (e for e in approved.get_asset_check_evaluations()
                    if e.check_name == "champion_alias_matches")
    assert alias_check.passed and "points at version 2" in alias_check.description
    champion = _events(instance, "materialization")[0]
    assert champion["outcome"] == "approved" and champion["model_version"] == "2"
    history = registry.history()
    assert [(r.action, r.to_version) for r in history[-2:]] == \
        [("await_approval", "2"), ("approve", "2")]
    assert history[-1].user == "carol" and history[-1].run_id == approved.run_id
    table = instance.get_latest_materialization_event(dg.AssetKey("promotion_history")) \
        .asset_materialization.metadata["history"].value
    assert [r.data["action"] for r in table.records] == \
        ["approve", "await_approval", "expire", "await_approval"]

    _tick(instance, alerts, cursor)
    assert [m["text"].split(" ")[0] for m in slack] == [":hourglass:", ":trophy:"]
    assert "version 2 is champion (approved" in slack[1]["text"]


def test_drift_and_decay_failures_alert_once_each_along_their_routes(monkeypatch):
    from retrain_assets.core.policy import CheckResult
    from retrain_assets.pipeline.alerts import AlertCursor, check_alerts

    def result(check, day, execution_id, passed=False):
        return CheckResult(check=check, partition=day, passed=passed, execution_id=execution_id,
                           model_version="3", description=f"{check} on {day}\nthe table")

    mails = []
    import retrain_assets.pipeline.alerts as alerts_module

    monkeypatch.setattr(alerts_module, "send_email_via_starttls",
                        lambda *args: mails.append(args))
    alerts = OutcomeAlerts(dagster_ui_url="http://dagster.example", email_from="ml@example.com",
                           smtp_password="secret", routes=[AlertRoute(
                               kinds=["drift"], email_to=["oncall@example.com"])])
    recent = [result("no_feature_drift", "2025-03-03", 12),
              result("no_feature_drift", "2025-03-02", 11),
              result("no_performance_decay", "2025-03-02", 10),
              result("no_feature_drift", "2025-03-01", 9, passed=True)]
    sent, cursor = check_alerts(recent, AlertCursor(), alerts, DRIFT_REPORT)
    assert [(a.kind, a.text.split(":", 2)[2].split("(")[0].strip()) for a in sent] == [
        ("drift", "no_feature_drift failed on 2025-03-02, 2025-03-03"),
        ("decay", "no_performance_decay failed on 2025-03-02")]
    assert sent[0].links == ("http://dagster.example/assets/drift_report",)
    assert "the table" not in sent[0].text
    assert cursor.alerted_failures == (10, 11, 12)
    for alert in sent:
        alerts.send(alert, logging.getLogger("test"))
    assert len(mails) == 1
    sender, password, to, message = mails[0][:4]
    assert (sender, password, to) == ("ml@example.com", "secret", ["oncall@example.com"])
    assert "Subject: [retrain_assets] drift:" in message

    again, cursor = check_alerts([*recent, result("no_feature_drift", "2025-03-04", 13)],
                                 cursor, alerts, DRIFT_REPORT)
    assert [a.text.split(" failed on ")[1].split(" ")[0] for a in again] == ["2025-03-04"]
    # ids that left the window of recent results are forgotten, so the cursor stays small
    assert check_alerts([], cursor, alerts, DRIFT_REPORT)[1].alerted_failures == ()


def test_alert_routes_from_the_environment_name_only_known_kinds(monkeypatch):
    monkeypatch.setenv("RETRAIN_ASSETS_ALERT_ROUTES",
                       '[{"kinds": ["promotion", "rollbak"], "slack_channel": "#deploys"}]')
    with pytest.raises(ValueError, match=r"unknown kinds \['rollbak'\]; the kinds are drift, "):
        OutcomeAlerts.from_env()
    monkeypatch.setenv("RETRAIN_ASSETS_ALERT_ROUTES",
                       '[{"kinds": ["promotion", "rollback"], "slack_channel": "#deploys"}]')
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    alerts = OutcomeAlerts.from_env()
    assert alerts.routes[0].kinds == ["promotion", "rollback"]
    assert isinstance(alerts.slack_token, dg.EnvVar)  # the secret is never in config text
    assert alerts.process_config_and_initialize().slack_token == "xoxb-secret"


def test_not_blessed_alerts_at_each_streak_of_n_and_a_promotion_resets_it():
    from retrain_assets.pipeline.alerts import AlertCursor, ChampionEvent, champion_alerts

    def event(storage_id, outcome, **meta):
        return ChampionEvent(storage_id, f"run-{storage_id}", {"outcome": outcome, **meta})

    alerts = OutcomeAlerts(not_blessed_in_a_row=2)
    rejected = [event(i, "not promoted", model_version="3", candidate_version=str(i),
                      reason="rmse no better") for i in (10, 11, 12)]
    sent, cursor = champion_alerts(rejected, AlertCursor(), alerts)
    assert [a.kind for a in sent] == ["not_blessed"]
    assert sent[0].text.startswith(":warning: 2 candidates in a row were not blessed; "
                                   "champion version 3 keeps serving. Latest (version 11)")
    assert (cursor.last_event, cursor.not_blessed_in_a_row) == (12, 3)

    later = [event(13, "rolled back", model_version="2", replaced_version="3",
                   reason="3 misbehaves", mlflow_run="http://mlflow/runs/r2"),
             event(14, "promoted", model_version="5", replaced_version="2", reason="blessed"),
             event(15, "not promoted", model_version="5", candidate_version="6")]
    sent, cursor = champion_alerts(later, cursor, alerts)
    assert [(a.kind, a.text.split(":", 2)[2].strip()[:40]) for a in sent] == [
        ("rollback", "rolled back to version 2 (from 3): 3 mis"),
        ("promotion", "version 5 is champion (promoted; replace")]
    assert sent[0].links == ("http://mlflow/runs/r2",)
    assert (cursor.last_event, cursor.not_blessed_in_a_row) == (15, 1)  # reset by the promotion


def test_a_stale_champion_alerts_once_per_version_and_again_after_it_was_fresh():
    from retrain_assets.pipeline.alerts import AlertCursor, Freshness, stale_alerts

    alerts = OutcomeAlerts(dagster_ui_url="http://dagster.example")
    key = dg.AssetKey(["taxi", "production_model"])
    stale = Freshness(False, "3", "champion version 3 trained on data through 2025-01-01")
    cursor, sent = AlertCursor(), []
    for latest in (stale, stale, Freshness(True, "3", "fresh"), stale,
                   Freshness(False, "4", "champion version 4 is stale too"), None):
        alerted, cursor = stale_alerts(latest, cursor, alerts, key)
        sent += alerted
    assert [(a.kind, a.text) for a in sent] == [
        ("stale", ":hourglass_flowing_sand: champion version 3 trained on data through "
                  "2025-01-01")] * 2 + [
        ("stale", ":hourglass_flowing_sand: champion version 4 is stale too")]
    assert sent[0].links == ("http://dagster.example/assets/taxi/production_model",)
    assert cursor.stale_version is None
    assert AlertCursor.from_json(AlertCursor(stale_version="4").to_json()).stale_version == "4"


def test_a_realized_decay_alert_links_to_the_models_performance_asset():
    from retrain_assets.core.policy import CheckResult
    from retrain_assets.pipeline.alerts import AlertCursor, check_alerts

    decayed = CheckResult(check="no_performance_decay", partition="2025-03-02", passed=False,
                          execution_id=10, model_version="3", asset="performance",
                          description="2025-03-02: realized roc_auc 0.61 is 18% worse")
    (alert,) = check_alerts([decayed], AlertCursor(), OutcomeAlerts(
        dagster_ui_url="http://dagster.example"), dg.AssetKey(["churn", "drift_report"]))[0]
    assert alert.kind == "decay"
    assert alert.links == ("http://dagster.example/assets/churn/performance",)
