"""shadow_report: the live comparison of a shadow challenger with the champion, and the decision
it leads to (promote, retire, keep waiting), with the job and sensor that run it.

A sensor, not an automation condition: deciding moves the champion, so it runs as its own small
job in the `champion_alias` pool, tagged with why, and only while a challenger exists — the
sensor's page says what it saw each tick.
"""

from collections.abc import Mapping
from datetime import datetime

import dagster as dg
import pandas as pd

from retrain_assets.adapters.registry import (
    CHALLENGER,
    CHAMPION,
    ChampionMovedError,
    ModelRegistry,
    shadow_start,
)
from retrain_assets.core.labels import scored_with_labels
from retrain_assets.core.shadow import (
    PROMOTE,
    RETIRE,
    ShadowVerdict,
    live_comparisons,
    shadow_verdict,
)
from retrain_assets.pipeline.assets.deployment import (
    CHAMPION_POOL,
    PROMOTED,
    SHADOW_RETIRED,
    actor_of,
    outcome_observation,
    record_champion,
    record_history,
)
from retrain_assets.pipeline.health import log_champion_health
from retrain_assets.pipeline.metadata import table
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import TRANSIENT_RETRY, retries_only_transient


def comparison_frame(comparisons, metric: str) -> pd.DataFrame:
    """One row per labelled live day, as the UI shows it."""
    return pd.DataFrame(
        [{"day": c.day, "rows": c.rows, f"champion_{metric}": c.champion,
          f"challenger_{metric}": c.challenger, "outcome": c.outcome(metric)}
         for c in comparisons],
        columns=["day", "rows", f"champion_{metric}", f"challenger_{metric}", "outcome"])


def days_scored_since(instance: dg.DagsterInstance, predictions: dg.AssetKey, days: list[str],
                      since: datetime) -> set[str]:
    """Which of `days` were scored (predictions materialized) after `since`: a challenger's
    live days are those scored while it shadowed, not those scored before its shadow began,
    such as the days a label-fed candidate waited for its holdout's labels."""
    scored: set[str] = set()
    cursor = None
    while days:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=predictions, asset_partitions=days,
                                  after_timestamp=since.timestamp()),
            limit=1_000, cursor=cursor)
        scored.update(record.partition_key for record in page.records)
        if not page.has_more:
            break
        cursor = page.cursor
    return scored


def build_shadow_report(project: Project) -> dg.AssetsDefinition:
    spec, names = project.spec, project.names

    def live_days(io_manager, after: str | None) -> Mapping[str, pd.DataFrame]:
        """The stored predictions of the days after `after`; a label-fed model's with `actual`
        from the labels that have arrived (its predictions are stored before them)."""
        stored = io_manager.stored_partitions(names.predictions, after=after)
        if spec.labels is None:
            return stored
        labels = io_manager.stored_partitions(names.labels, after=after)
        return {day: scored_with_labels(stored[day], labels.get(day), spec) for day in stored}

    metric = spec.primary_metric

    @dg.asset(
        key=names.shadow_report, deps=[names.predictions], group_name=names.of("deployment"),
        kinds={"mlflow", "pandas"}, tags={"stage": "deploy"}, owners=["team:ml-platform"],
        pool=CHAMPION_POOL, retry_policy=TRANSIENT_RETRY,
        required_resource_keys={names.of("mlflow"), names.of("promotion"),
                                names.of("io_manager")},
        description=f"`shadow` promotion mode: the challenger (MLflow alias `{CHALLENGER}`) "
                    f"against the champion on the labelled rows of each live day it scored "
                    f"({metric}), and the decision: promoted once it won the required days, "
                    "retired once the champion won as many or the shadow period ran out, else "
                    "waiting. Re-evaluated by the shadow sensor whenever predictions (or a "
                    "label-fed model's labels) are stored.",
    )
    @retries_only_transient
    def shadow_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        registry = names.resource(context, "mlflow").registry()
        policy = names.resource(context, "promotion")
        challenger = registry.version_for(CHALLENGER)
        if challenger is None:
            return dg.MaterializeResult(metadata={
                "challenger": dg.MetadataValue.text("none"),
                "decision": dg.MetadataValue.text("no challenger is shadowing the champion")})
        window = registry.version_window(challenger)
        stored = live_days(names.resource(context, "io_manager"),
                           after=window.last_judged_day if window else None)
        comparisons = live_comparisons(stored, task=spec.task, metric=metric,
                                       challenger_version=challenger)
        started = shadow_start(registry.history(), challenger)
        shadowed = (days_scored_since(context.instance, names.predictions, list(stored),
                                      datetime.fromisoformat(started.at))
                    if started else set(stored))
        verdict = shadow_verdict(comparisons, metric=metric, required_wins=policy.shadow_days,
                                 max_days=policy.shadow_max_days, elapsed_days=len(shadowed))
        champion = registry.version_for(CHAMPION)
        context.log.info(f"challenger version {challenger} vs champion version {champion}: "
                         f"{verdict.decision}: {verdict.reason}")
        if verdict.decision in (PROMOTE, RETIRE):
            decide(context, registry, challenger, champion, verdict,
                   judged_through=max(stored, default=None))
        return dg.MaterializeResult(metadata={
            "challenger": dg.MetadataValue.text(challenger),
            "judged_against": dg.MetadataValue.text(f"champion version {champion}"),
            "decision": dg.MetadataValue.text(verdict.decision),
            "reason": dg.MetadataValue.text(verdict.reason),
            "wins": dg.MetadataValue.int(verdict.wins),
            "losses": dg.MetadataValue.int(verdict.losses),
            "required_wins": dg.MetadataValue.int(policy.shadow_days),
            "live_days": dg.MetadataValue.int(len(shadowed)),
            "comparison": table(comparison_frame(comparisons, metric), max_rows=200),
            "mlflow_run": dg.MetadataValue.url(registry.run_url_of(challenger))})

    def decide(context: dg.AssetExecutionContext, registry: ModelRegistry, challenger: str,
               champion: str | None, verdict: ShadowVerdict, judged_through: str | None) -> None:
        """Move the aliases as the verdict says; production_model and promotion_history
        record it, so the outcome alerts see it."""
        actor, promote = actor_of(context), verdict.decision == PROMOTE
        try:
            moves = registry.end_shadow(challenger, promote=promote, reason=verdict.reason,
                                        actor=actor, judged_through=judged_through)
        except ChampionMovedError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        if promote:
            record_champion(context, names, registry, moves, PROMOTED,
                            f"shadow end: promoted: {verdict.reason}")
            log_champion_health(context, project, registry)
        else:
            context.log_event(outcome_observation(
                names, registry, SHADOW_RETIRED, challenger, champion,
                f"challenger version {challenger} retired; champion stays: {verdict.reason}"))
        record_history(context, names, registry)
        registry.clear_challenger(challenger)

    return shadow_report


def build_shadow_decision_job(project: Project):
    names = project.names
    return dg.define_asset_job(
        names.shadow_decision_job, selection=[names.shadow_report],
        tags={"retrain/trigger": "shadow"},
        description="Judge the shadow challenger on the labelled live days stored so far: "
                    "promote it, retire it, or keep it waiting (shadow_report says why).")


def build_shadow_sensor(project: Project) -> dg.SensorDefinition:
    names = project.names
    watched = [names.predictions, *([names.labels] if project.spec.labels else [])]
    what = " or ".join(key.path[-1] for key in watched)

    @dg.sensor(name=names.of("shadow_sensor"), job_name=names.shadow_decision_job,
               minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               required_resource_keys={names.of("mlflow")},
               description="Asks shadow_decision_job for a decision when predictions (or a "
                           "label-fed model's labels) were stored while a challenger shadows "
                           "the champion. Its cursor is the last such event it took in.")
    def shadow_sensor(context: dg.SensorEvaluationContext, **_on_context):
        after = int(context.cursor) if context.cursor else None
        newest = max((record.storage_id for key in watched
                      for record in context.instance.fetch_materializations(
                          dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
                          limit=1, ascending=False).records), default=None)
        if newest is None:
            return dg.SkipReason(f"nothing stored in {what} since the last tick")
        context.update_cursor(str(newest))
        challenger = names.resource(context, "mlflow").registry().version_for(CHALLENGER)
        if challenger is None:
            return dg.SkipReason(f"{what} stored; no challenger to judge")
        return dg.RunRequest(run_key=f"shadow-{challenger}-{newest}",
                             tags={"retrain/shadow_challenger": challenger})

    return shadow_sensor
