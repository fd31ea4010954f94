"""production_model (the champion alias), promotion_history, and the rollback and approval jobs.

A candidate that is not blessed is an outcome, not a failure: the step succeeds, the champion's
asset keeps its last materialization, and an observation on it says what was decided and why.
"""

import os
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field, field_validator

from retrain_assets.adapters.registry import (
    APPROVE,
    CHAMPION,
    PREVIOUS,
    Actor,
    AliasMove,
    ApprovalError,
    ChampionMovedError,
    HistoryRecord,
    ModelRegistry,
)
from retrain_assets.core.evaluation import EvaluationReport
from retrain_assets.pipeline.health import log_champion_health
from retrain_assets.pipeline.metadata import table
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import TRANSIENT_RETRY, retries_only_transient

CHAMPION_POOL = "champion_alias"  # one alias move at a time (dagster concurrency pool)
# metadata key `outcome` on production_model events: what outcome_alert_sensor reads
PROMOTED, APPROVED, ROLLED_BACK = "promoted", "approved", "rolled back"
NOT_PROMOTED, AWAITING, REJECTED = "not promoted", "awaiting approval", "rejected"
SHADOW_STARTED, SHADOW_RETIRED = "shadow started", "shadow retired"


class PromotionPolicy(dg.ConfigurableResource):
    """How a blessed candidate becomes champion, per model (code location):
    `auto` promotes it at once; `approve` parks it until a person runs `approve_job`; `shadow`
    makes it the challenger, promoted only once it beats the champion on live labelled days."""

    mode: Literal["auto", "approve", "shadow"] = "auto"
    approval_hours: float = Field(
        default=72.0, description="How long a blessed candidate waits for approval")
    shadow_days: int = Field(default=5, description=(
        "`shadow`: labelled live days the challenger must beat the champion on (in total, not "
        "in a row) to be promoted; the champion winning as many retires it"))
    shadow_max_days: int = Field(default=30, description=(
        "`shadow`: live days a challenger may score without a decision before it is retired"))

    @field_validator("shadow_days", "shadow_max_days")
    @classmethod
    def _at_least_one_day(cls, days: int, info) -> int:
        # a validator, not Field(ge=1): the component's YAML resolution takes plain ints only
        if days < 1:
            raise ValueError(f"promotion.{info.field_name} is {days}: it counts live days, "
                             "set it to 1 or more")
        return days

    @classmethod
    def from_env(cls) -> "PromotionPolicy":
        env = os.environ.get
        return cls(mode=env("RETRAIN_ASSETS_PROMOTION", "auto"),
                   approval_hours=float(env("RETRAIN_ASSETS_APPROVAL_HOURS", 72)),
                   shadow_days=int(env("RETRAIN_ASSETS_SHADOW_DAYS", 5)),
                   shadow_max_days=int(env("RETRAIN_ASSETS_SHADOW_MAX_DAYS", 30)))


def actor_of(context: dg.OpExecutionContext) -> Actor:
    """Who is behind a run: the user tag a launch carries, else the sensor or schedule."""
    tags = context.run.tags
    user = (tags.get("user") or tags.get("dagster/user")
            or (f"sensor {tags['dagster/sensor_name']}" if "dagster/sensor_name" in tags else None)
            or (f"schedule {tags['dagster/schedule_name']}"
                if "dagster/schedule_name" in tags else "manual (no user tag)"))
    return Actor(run_id=context.run.run_id, user=user)


def history_frame(history: list[HistoryRecord]) -> pd.DataFrame:
    """The history newest first, as the promotion_history table shows it."""
    columns = ["seq", "at", "action", "from_version", "to_version", "reason", "run_id", "user"]
    rows = [{c: getattr(r, c) or "" for c in columns} for r in reversed(history)]
    return pd.DataFrame(rows, columns=columns)


def history_metadata(registry: ModelRegistry) -> dict[str, dg.MetadataValue]:
    history = registry.history()
    return {"history": table(history_frame(history), max_rows=200),
            "records": dg.MetadataValue.int(len(history)),
            "champion": dg.MetadataValue.text(registry.version_for(CHAMPION) or "none"),
            "rollback_to": dg.MetadataValue.text(registry.version_for(PREVIOUS) or "none")}


def champion_metadata(registry: ModelRegistry, moves: list[AliasMove], outcome: str,
                      reason: str) -> dict[str, dg.MetadataValue]:
    champion = next(m for m in moves if m.alias == CHAMPION)
    return {
        "outcome": dg.MetadataValue.text(outcome),
        "model_version": dg.MetadataValue.text(champion.to_version),
        "replaced_version": dg.MetadataValue.text(str(champion.from_version or "none")),
        "rollback_to": dg.MetadataValue.text(registry.version_for(PREVIOUS) or "none"),
        "reason": dg.MetadataValue.text(reason),
        "mlflow_run": dg.MetadataValue.url(registry.run_url_of(champion.to_version)),
        "alias_moves": dg.MetadataValue.json(
            [{"alias": m.alias, "from": m.from_version, "to": m.to_version} for m in moves]),
    }


def outcome_observation(names: Names, registry: ModelRegistry, outcome: str, candidate: str,
                        champion: str | None, detail: str) -> dg.AssetObservation:
    """An event on production_model for a decision that did not move the champion."""
    return dg.AssetObservation(asset_key=names.production_model, description=detail, metadata={
        "outcome": dg.MetadataValue.text(outcome),
        "candidate_version": dg.MetadataValue.text(candidate),
        "model_version": dg.MetadataValue.text(champion or "none"),
        "reason": dg.MetadataValue.text(detail),
        "mlflow_run": dg.MetadataValue.url(registry.run_url_of(candidate))})


def build_production_model(project: Project) -> dg.AssetsDefinition:
    """production_model and promotion_history: one step, so the history is written by the
    run that moved the alias."""
    names = project.names

    @dg.multi_asset(
        name=names.op(names.production_model),
        specs=[
            dg.AssetSpec(names.production_model, deps=[names.evaluation_report],
                         group_name=names.of("deployment"),
                         kinds={"mlflow"}, tags={"stage": "deploy"}, owners=["team:ml-platform"],
                         skippable=True,
                         description=f"The model serving predictions: the MLflow alias "
                                     f"`{CHAMPION}`. Moves to a blessed candidate (at once, "
                                     "after a person approves it in `approve` mode, or after it "
                                     "wins its shadow period in `shadow` mode) and on "
                                     "rollback. A candidate that is not blessed leaves it as it "
                                     "is: the run succeeds and an observation (outcome `not "
                                     "promoted`) says why."),
            dg.AssetSpec(names.promotion_history, deps=[names.production_model],
                         group_name=names.of("deployment"),
                         kinds={"mlflow"}, tags={"stage": "deploy"}, owners=["team:ml-platform"],
                         skippable=True,
                         description="Every alias move and approval decision (promote, "
                                     "approve, reject, expire, rollback, shadow start, "
                                     "promote and retire): from, to, why, run and "
                                     "who, newest first. Append-only: kept as `history.<seq>` "
                                     "tags on the MLflow versions, never rewritten."),
        ],
        ins={"evaluation_report": dg.AssetIn(names.evaluation_report)}, pool=CHAMPION_POOL,
        retry_policy=TRANSIENT_RETRY, can_subset=True,
        required_resource_keys={names.of("mlflow"), names.of("promotion")},
    )
    @retries_only_transient
    def production_model(context: dg.AssetExecutionContext,
                         evaluation_report: EvaluationReport):
        """Decides when production_model is selected; promotion_history alone only re-reads the
        history (a refresh of the table, never a promotion)."""
        registry = names.resource(context, "mlflow").registry()
        selected = context.selected_asset_keys
        changed = names.production_model not in selected or (
            yield from decide_promotion(context, names, evaluation_report, registry,
                                        names.resource(context, "promotion")))
        if changed and names.promotion_history in selected:
            yield dg.MaterializeResult(asset_key=names.promotion_history,
                                       metadata=history_metadata(registry))

    return production_model


def decide_promotion(context: dg.AssetExecutionContext, names: Names,
                     evaluation_report: EvaluationReport, registry: ModelRegistry,
                     promotion: PromotionPolicy):
    """Act on the verdict; yields production_model's materialization when the champion moved
    and returns whether the history changed."""
    candidate = evaluation_report.candidate_version
    expected = evaluation_report.champion_version
    reasons = "; ".join(evaluation_report.verdict.reasons)
    if not evaluation_report.verdict.blessed:
        detail = f"candidate version {candidate} was not blessed; champion stays: {reasons}"
        context.log.info(detail)
        context.log_event(outcome_observation(names, registry, NOT_PROMOTED, candidate, expected,
                                              detail))
        return False
    actor = actor_of(context)
    if promotion.mode == "approve":
        expires = datetime.now(UTC) + timedelta(hours=promotion.approval_hours)
        registry.request_approval(candidate, expected_champion=expected, reason=reasons,
                                  expires_at=expires, actor=actor)
        detail = (f"candidate version {candidate} is blessed and awaits approval until "
                  f"{expires:%Y-%m-%d %H:%M} UTC: run approve_job (decision approve or reject)")
        context.log.info(detail)
        context.log_event(outcome_observation(names, registry, AWAITING, candidate, expected,
                                              detail))
        return True
    if promotion.mode == "shadow" and expected is not None:
        registry.start_shadow(candidate, champion=expected, reason=reasons, actor=actor)
        detail = (f"candidate version {candidate} is blessed and shadows champion version "
                  f"{expected} as `challenger`: promoted after it beats the champion on "
                  f"{promotion.shadow_days} labelled live days, retired after "
                  f"{promotion.shadow_max_days} live days without that (see shadow_report)")
        context.log.info(detail)
        context.log_event(outcome_observation(names, registry, SHADOW_STARTED, candidate,
                                              expected, detail))
        return True
    reason = f"blessed by evaluation_report in run {context.run.run_id}: {reasons}"
    try:
        moves = registry.promote(candidate, expected_champion=expected, reason=reason,
                                 actor=actor)
    except ChampionMovedError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    yield dg.MaterializeResult(asset_key=names.production_model,
                               metadata=champion_metadata(registry, moves, PROMOTED, reason))
    return True


def record_champion(context: dg.OpExecutionContext, names: Names, registry: ModelRegistry,
                    moves: list[AliasMove], outcome: str, reason: str) -> None:
    """An op's alias move as a production_model materialization, so the UI's champion is true."""
    context.log_event(dg.AssetMaterialization(
        asset_key=names.production_model, description=f"{outcome}: {reason}",
        metadata=champion_metadata(registry, moves, outcome, reason)))


def record_history(context: dg.OpExecutionContext, names: Names,
                   registry: ModelRegistry) -> None:
    context.log_event(dg.AssetMaterialization(asset_key=names.promotion_history,
                                              metadata=history_metadata(registry)))


class RollbackConfig(dg.Config):
    to: str = Field(default=PREVIOUS, description=(
        f"`{PREVIOUS}`: the champion before the current one was promoted, walked back through "
        "promotion_history (production_model's `rollback_to` and the MLflow alias "
        f"`{PREVIOUS}` show which version that is); or any version number"))
    reason: str = "manual rollback"


def champion_op(names: Names, name: str):
    """An op of this model that moves its champion alias: one such step at a time (the
    `champion_alias` pool), transient errors retried, the model's registry as a resource."""
    def decorate(fn):
        return dg.op(name=names.of(name), tags={"stage": "deploy"}, pool=CHAMPION_POOL,
                     retry_policy=TRANSIENT_RETRY, required_resource_keys={names.of("mlflow")})(
            retries_only_transient(fn))
    return decorate


def build_rollback_job(project: Project) -> dg.JobDefinition:
    names = project.names

    @champion_op(names, "rollback_champion")
    def rollback_champion(context: dg.OpExecutionContext, config: RollbackConfig) -> None:
        """Re-point the champion alias along the promotion history."""
        registry = names.resource(context, "mlflow").registry()
        try:
            moves = registry.rollback(config.to, reason=config.reason, actor=actor_of(context))
        except ValueError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        champion = next(m for m in moves if m.alias == CHAMPION)
        context.log.info(f"champion: version {champion.from_version} -> {champion.to_version}")
        record_champion(context, names, registry, moves, ROLLED_BACK, config.reason)
        log_champion_health(context, project, registry)
        record_history(context, names, registry)

    @dg.job(name=names.rollback_job, tags={"retrain/trigger": "rollback"},
            description="Roll the champion back to the one before it (promotion_history), or "
                        "to any version given in config.")
    def rollback_job():
        rollback_champion()

    return rollback_job


class ApprovalConfig(dg.Config):
    decision: Literal["approve", "reject"] = Field(
        description="approve: the waiting candidate becomes champion; reject: it never does")
    version: str = Field(default="", description=(
        "The version you reviewed (blank: whichever awaits approval — the MLflow alias "
        "`awaiting_approval`, production_model's latest `awaiting approval` event)"))
    reason: str = Field(description="Why; recorded in promotion_history and on the version")


def build_approve_job(project: Project) -> dg.JobDefinition:
    names = project.names

    @champion_op(names, "decide_approval")
    def decide_approval(context: dg.OpExecutionContext, config: ApprovalConfig) -> None:
        """A person's decision on a blessed candidate waiting in `approve` mode."""
        registry = names.resource(context, "mlflow").registry()
        actor = actor_of(context)
        approve = config.decision == APPROVE
        try:
            version, moves = registry.decide_approval(
                config.version or None, approve=approve, reason=config.reason, actor=actor,
                now=datetime.now(UTC))
        except (ApprovalError, ChampionMovedError) as exc:
            record_history(context, names, registry)  # an expiry is recorded
            raise dg.Failure(str(exc), allow_retries=False) from exc
        reason = f"{config.decision}d by {actor.user}: {config.reason}"
        if approve:
            record_champion(context, names, registry, moves, APPROVED, reason)
            log_champion_health(context, project, registry)
        else:
            context.log_event(outcome_observation(names, registry, REJECTED, version,
                                                  registry.version_for(CHAMPION), reason))
        record_history(context, names, registry)

    @dg.job(name=names.approve_job, tags={"retrain/trigger": "approval"},
            description="Approve or reject the blessed candidate awaiting approval (`approve` "
                        "promotion mode); the decision enters promotion_history.")
    def approve_job():
        decide_approval()

    return approve_job
