"""Outcome alerts: what the loop decided, sent where each team wants it.

Failures page through `run_failure_alert` (sensors.py). Outcomes are not failures and have their
own routes: drift and decay on a scored day, candidates not blessed N times in a row, a blessed
candidate awaiting approval, a rejection, a promotion, a rollback, a shadow challenger started
or retired, a stale champion. Each route takes some kinds
to a Slack channel (dagster-slack) and/or e-mail addresses (Dagster's SMTP helpers, as its
`make_email_on_run_failure_sensor` uses them); every alert is also logged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Literal

import dagster as dg
from pydantic import Field, field_validator

from retrain_assets.core.dataset import LabelFeed
from retrain_assets.core.policy import ESTIMATED_DECAY, CheckResult
from retrain_assets.pipeline.assets.deployment import (
    APPROVED,
    AWAITING,
    NOT_PROMOTED,
    PROMOTED,
    REJECTED,
    ROLLED_BACK,
    SHADOW_RETIRED,
    SHADOW_STARTED,
)
from retrain_assets.pipeline.assets.monitoring import NO_FEATURE_DRIFT, NO_PERFORMANCE_DECAY
from retrain_assets.pipeline.dagster_internals import (
    AssetCheckExecutionRecordStatus,
    send_email_via_ssl,
    send_email_via_starttls,
)
from retrain_assets.pipeline.health import CHAMPION_FRESH
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.sensors import recent_check_results

DRIFT, DECAY, NOT_BLESSED = "drift", "decay", "not_blessed"
AWAITING_APPROVAL, REJECTION, PROMOTION, ROLLBACK, SHADOW, STALE = (
    "awaiting_approval", "rejection", "promotion", "rollback", "shadow", "stale")
KINDS = (DRIFT, DECAY, NOT_BLESSED, AWAITING_APPROVAL, REJECTION, PROMOTION, ROLLBACK, SHADOW,
         STALE)
CHECK_KINDS = {NO_FEATURE_DRIFT: DRIFT, NO_PERFORMANCE_DECAY: DECAY, ESTIMATED_DECAY: DECAY}
OUTCOME_KINDS = {PROMOTED: PROMOTION, APPROVED: PROMOTION, ROLLED_BACK: ROLLBACK,
                 AWAITING: AWAITING_APPROVAL, REJECTED: REJECTION,
                 SHADOW_STARTED: SHADOW, SHADOW_RETIRED: SHADOW}
EVENTS_PER_TICK = 100


@dataclass(frozen=True)
class Alert:
    kind: str
    text: str
    links: tuple[str, ...] = ()

    def message(self) -> str:
        return "\n".join((self.text, *self.links))


class AlertRoute(dg.Config):
    """Some kinds of outcome to one Slack channel and/or some e-mail addresses."""

    kinds: list[str] = Field(description=f"any of {', '.join(KINDS)}")
    slack_channel: str | None = None
    email_to: list[str] = []

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"an alert route names unknown kinds {unknown}; the kinds are "
                             f"{', '.join(KINDS)}")
        return kinds


class OutcomeAlerts(dg.ConfigurableResource):
    """The outcome routes and how to reach them. Secrets come from the environment through
    dg.EnvVar (`SLACK_BOT_TOKEN`, `RETRAIN_ASSETS_SMTP_PASSWORD`), never from config text."""

    routes: list[AlertRoute] = []
    slack_token: str | None = None
    email_from: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_type: Literal["SSL", "STARTTLS"] = "STARTTLS"
    smtp_user: str | None = None
    smtp_password: str | None = None
    dagster_ui_url: str | None = Field(
        default=None, description="Base URL of the Dagster UI, for the links in alerts")
    not_blessed_in_a_row: int = Field(
        default=3, description="Alert when this many candidates in a row were not blessed")

    @classmethod
    def from_env(cls) -> OutcomeAlerts:
        """RETRAIN_ASSETS_ALERT_ROUTES (JSON list of routes) and the variables in README."""
        env = os.environ.get
        secret = {name: dg.EnvVar(var) for name, var in
                  (("slack_token", "SLACK_BOT_TOKEN"),
                   ("smtp_password", "RETRAIN_ASSETS_SMTP_PASSWORD")) if env(var)}
        routes = json.loads(env("RETRAIN_ASSETS_ALERT_ROUTES", "[]"))
        return cls(routes=[AlertRoute(**r) for r in routes], **secret,
                   email_from=env("RETRAIN_ASSETS_ALERT_EMAIL_FROM"),
                   smtp_host=env("RETRAIN_ASSETS_SMTP_HOST", "localhost"),
                   smtp_port=int(env("RETRAIN_ASSETS_SMTP_PORT", 587)),
                   smtp_type=env("RETRAIN_ASSETS_SMTP_TYPE", "STARTTLS"),
                   smtp_user=env("RETRAIN_ASSETS_SMTP_USER"),
                   dagster_ui_url=env("RETRAIN_ASSETS_DAGSTER_UI_URL"),
                   not_blessed_in_a_row=int(env("RETRAIN_ASSETS_ALERT_NOT_BLESSED_IN_A_ROW", 3)))

    def link(self, path: str) -> str | None:
        return f"{self.dagster_ui_url.rstrip('/')}/{path}" if self.dagster_ui_url else None

    def send(self, alert: Alert, logger) -> None:
        logger.info(f"[{alert.kind}] {alert.message()}")
        for route in self.routes:
            if alert.kind not in route.kinds:
                continue
            if route.slack_channel and self.slack_token:
                from dagster_slack import SlackResource

                SlackResource(token=self.slack_token).get_client().chat_postMessage(
                    channel=route.slack_channel, text=alert.message())
            if route.email_to:
                self._email(route.email_to, alert)

    def _email(self, to: Sequence[str], alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"[retrain_assets] {alert.kind}: {alert.text.splitlines()[0]}"
        message["From"] = self.email_from or self.smtp_user or "retrain-assets@localhost"
        message["To"] = ", ".join(to)
        message.set_content(alert.message())
        send = send_email_via_ssl if self.smtp_type == "SSL" else send_email_via_starttls
        send(message["From"], self.smtp_password or "", list(to), message.as_string(),
             self.smtp_host, self.smtp_port, self.smtp_user or message["From"])


# ---------------------------------------------------------------------------------------------
# what happened since the last tick (pure)


@dataclass(frozen=True)
class ChampionEvent:
    """A production_model materialization or observation: one decision about the champion."""

    storage_id: int
    run_id: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class AlertCursor:
    """What outcome_alert_sensor remembers: the last production_model event taken in, how many
    candidates in a row were not blessed, which drift/decay failures were already sent, and the
    champion version a stale alert was sent for (None while the champion is fresh)."""

    last_event: int = 0
    not_blessed_in_a_row: int = 0
    alerted_failures: tuple[int, ...] = ()
    stale_version: str | None = None

    def to_json(self) -> str:
        return json.dumps({"last_event": self.last_event,
                           "not_blessed_in_a_row": self.not_blessed_in_a_row,
                           "alerted_failures": sorted(self.alerted_failures),
                           "stale_version": self.stale_version})

    @classmethod
    def from_json(cls, text: str | None) -> AlertCursor | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(data["last_event"], data["not_blessed_in_a_row"],
                   tuple(data["alerted_failures"]), data.get("stale_version"))


def champion_alerts(events: Iterable[ChampionEvent], cursor: AlertCursor,
                    alerts: OutcomeAlerts) -> tuple[list[Alert], AlertCursor]:
    """Alerts for new production_model events, oldest first; a not-blessed streak alerts when
    it reaches the configured length (and each multiple of it)."""
    sent, streak, last = [], cursor.not_blessed_in_a_row, cursor.last_event
    for event in sorted(events, key=lambda e: e.storage_id):
        last = max(last, event.storage_id)
        outcome, meta = event.metadata.get("outcome"), event.metadata
        links = tuple(link for link in (meta.get("mlflow_run"), alerts.link(f"runs/{event.run_id}"))
                      if link)
        if outcome == NOT_PROMOTED:
            streak += 1
            if streak % max(alerts.not_blessed_in_a_row, 1) == 0:
                sent.append(Alert(NOT_BLESSED, (
                    f":warning: {streak} candidates in a row were not blessed; champion "
                    f"version {meta.get('model_version', 'none')} keeps serving. Latest "
                    f"(version {meta.get('candidate_version')}): {meta.get('reason', '')}"),
                    links))
            continue
        if outcome in (PROMOTED, APPROVED, AWAITING, SHADOW_STARTED):
            streak = 0
        kind = OUTCOME_KINDS.get(outcome or "")
        if kind is None:
            continue
        version = meta.get("model_version")
        text = {
            PROMOTION: f":trophy: version {version} is champion ({outcome}; replaced "
                       f"{meta.get('replaced_version')}): {meta.get('reason', '')}",
            ROLLBACK: f":rewind: rolled back to version {version} (from "
                      f"{meta.get('replaced_version')}): {meta.get('reason', '')}",
            AWAITING_APPROVAL: f":hourglass: {meta.get('reason', '')}",
            REJECTION: f":no_entry: candidate version {meta.get('candidate_version')} "
                       f"{meta.get('reason', '')}",
            SHADOW: f":ghost: {meta.get('reason', '')}",
        }[kind]
        sent.append(Alert(kind, text, links))
    return sent, replace(cursor, last_event=last, not_blessed_in_a_row=streak)


def check_alerts(recent: Iterable[CheckResult], cursor: AlertCursor, alerts: OutcomeAlerts,
                 drift_report: dg.AssetKey) -> tuple[list[Alert], AlertCursor]:
    """One alert per kind (drift, decay) for failures not sent before, naming their days."""
    recent = list(recent)
    new = [r for r in recent if not r.passed and r.check in CHECK_KINDS
           and r.execution_id not in cursor.alerted_failures]
    sent = []
    for check, kind in CHECK_KINDS.items():
        failed = sorted((r for r in new if r.check == check), key=lambda r: r.partition)
        if not failed:
            continue
        days = ", ".join(r.partition for r in failed)
        latest = failed[-1]
        why = (latest.description or "").split("\n")[0]
        checked = dg.AssetKey([*drift_report.path[:-1], latest.asset])  # or `performance`
        link = alerts.link(f"assets/{checked.to_user_string()}")
        sent.append(Alert(kind, (f":chart_with_upwards_trend: {check} failed on {days} (model "
                                 f"version {latest.model_version or '?'}): {why}"),
                          (link,) if link else ()))
    window = {r.execution_id for r in recent}  # ids older than the window are never seen again
    alerted = {i for i in cursor.alerted_failures if i in window} | {r.execution_id for r in new}
    return sent, replace(cursor, alerted_failures=tuple(sorted(alerted)))


@dataclass(frozen=True)
class Freshness:
    """production_model's latest champion_fresh result."""

    passed: bool
    model_version: str | None
    description: str


def stale_alerts(latest: Freshness | None, cursor: AlertCursor, alerts: OutcomeAlerts,
                 production_model: dg.AssetKey) -> tuple[list[Alert], AlertCursor]:
    """One alert when a champion version is found stale (the hourly check fails every hour
    until it is retrained); a fresh result re-arms it."""
    if latest is None or latest.passed:
        return [], replace(cursor, stale_version=None)
    if latest.model_version == cursor.stale_version:
        return [], cursor
    link = alerts.link(f"assets/{production_model.to_user_string()}")
    return ([Alert(STALE, f":hourglass_flowing_sand: {latest.description}",
                   (link,) if link else ())],
            replace(cursor, stale_version=latest.model_version))


# ---------------------------------------------------------------------------------------------
# the sensor


def latest_freshness(instance: dg.DagsterInstance, production_model: dg.AssetKey
                     ) -> Freshness | None:
    """The newest evaluated champion_fresh result, if any (a planned one is skipped)."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(production_model, CHAMPION_FRESH), limit=1,
        status={AssetCheckExecutionRecordStatus.SUCCEEDED,
                AssetCheckExecutionRecordStatus.FAILED})
    event = history[0].event if history else None
    if event is None or event.dagster_event is None:
        return None
    evaluation = event.dagster_event.asset_check_evaluation_data
    version = evaluation.metadata.get("model_version")
    return Freshness(evaluation.passed, None if version is None else str(version.value),
                     evaluation.description or "")


def champion_events(instance: dg.DagsterInstance, production_model: dg.AssetKey,
                    after: int | None, *, limit: int = EVENTS_PER_TICK) -> list[ChampionEvent]:
    """production_model's events after a storage id, oldest first; with `after` None, the
    newest only (where a first tick starts)."""
    query = dg.AssetRecordsFilter(asset_key=production_model, after_storage_id=after)
    ascending = after is not None
    kinds = [instance.fetch_materializations(query, limit=limit, ascending=ascending).records,
             instance.fetch_observations(query, limit=limit, ascending=ascending).records]
    # a full page of one kind may end before the other's: take both only up to where it ends
    full = [records[-1].storage_id for records in kinds if ascending and len(records) == limit]
    cutoff = min(full, default=None)
    events = []
    for record in (r for records in kinds for r in records
                   if cutoff is None or r.storage_id <= cutoff):
        event = record.asset_materialization or record.asset_observation
        events.append(ChampionEvent(record.storage_id, record.run_id or "",
                                    {k: str(v.value) for k, v in event.metadata.items()}))
    return events


def build_outcome_alert_sensor(project: Project) -> dg.SensorDefinition:
    names = project.names

    @dg.sensor(name=names.of("outcome_alert_sensor"), minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               required_resource_keys={names.of("outcome_alerts")},
               description="Sends outcomes (not failures) along the configured routes: drift "
                           "and decay, candidates not blessed N times in a row, a candidate "
                           "awaiting approval, a rejection, a promotion, a rollback, a shadow "
                           "challenger started or retired, a stale champion — each with links. "
                           "Starts from "
                           "the present: history before its first tick is not sent.")
    def outcome_alert_sensor(context: dg.SensorEvaluationContext, **_on_context) -> dg.SkipReason:
        return send_outcomes(context, names, names.resource(context, "outcome_alerts"),
                             label_feed=project.spec.labels)

    return outcome_alert_sensor


def send_outcomes(context: dg.SensorEvaluationContext, names: Names,
                  outcome_alerts: OutcomeAlerts, *, label_feed: LabelFeed | None = None
                  ) -> dg.SkipReason:
    instance = context.instance
    cursor = AlertCursor.from_json(context.cursor)
    recent = recent_check_results(instance, names, label_feed=label_feed)
    if cursor is None:
        newest = champion_events(instance, names.production_model, None, limit=1)
        freshness = latest_freshness(instance, names.production_model)
        start = AlertCursor(last_event=max((e.storage_id for e in newest), default=0),
                            alerted_failures=tuple(r.execution_id for r in recent
                                                   if not r.passed),
                            stale_version=freshness.model_version
                            if freshness and not freshness.passed else None)
        context.update_cursor(start.to_json())
        return dg.SkipReason("first tick: outcomes from now on are sent")
    events = champion_events(instance, names.production_model, cursor.last_event)
    sent, cursor = champion_alerts(events, cursor, outcome_alerts)
    failures, cursor = check_alerts(recent, cursor, outcome_alerts, names.drift_report)
    stale, cursor = stale_alerts(latest_freshness(instance, names.production_model), cursor,
                                 outcome_alerts, names.production_model)
    sent += stale
    for alert in (*sent, *failures):
        outcome_alerts.send(alert, context.log)
    context.update_cursor(cursor.to_json())
    kinds = ", ".join(a.kind for a in (*sent, *failures))
    return dg.SkipReason(f"sent {kinds}" if kinds else "no new outcome")
