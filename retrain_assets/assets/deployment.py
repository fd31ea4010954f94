"""production_model (the champion alias) and the rollback job."""


import dagster as dg

from retrain_assets.registry import CHAMPION, PREVIOUS, AliasMove, ChampionMovedError
from retrain_assets.resources import TRANSIENT_RETRY, MlflowResource, retries_only_transient

CHAMPION_POOL = "champion_alias"  # one alias move at a time (dagster concurrency pool)


def _moves_metadata(moves: list[AliasMove]) -> dict[str, dg.MetadataValue]:
    return {"alias_moves": dg.MetadataValue.json(
        [{"alias": m.alias, "from": m.from_version, "to": m.to_version} for m in moves])}


@dg.asset(
    group_name="deployment", kinds={"mlflow"}, tags={"stage": "deploy"},
    owners=["team:ml-platform"], pool=CHAMPION_POOL,
    retry_policy=TRANSIENT_RETRY,
    description=f"The model serving predictions: the MLflow alias `{CHAMPION}`. Moves to the "
                "candidate only when its evaluation was blessed (a blocking check guards this "
                f"step); the replaced champion keeps alias `{PREVIOUS}` for rollback.",
)
@retries_only_transient
def production_model(context: dg.AssetExecutionContext, evaluation_report: dict,
                     mlflow: MlflowResource) -> dg.Output[dict]:
    verdict = evaluation_report["verdict"]
    candidate = evaluation_report["candidate_version"]
    if not verdict["blessed"]:
        raise dg.Failure(
            f"candidate version {candidate} was not blessed, so the champion stays put: "
            + "; ".join(verdict["reasons"]),
            metadata={"reasons": dg.MetadataValue.json(list(verdict["reasons"]))},
            allow_retries=False)
    registry = mlflow.registry()
    reason = (f"blessed by evaluation_report in run {context.run_id}: "
              + "; ".join(verdict["reasons"]))
    try:
        moves = registry.promote(candidate, expected_champion=evaluation_report["champion_version"],
                                 reason=reason)
    except ChampionMovedError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    champion = {"name": registry.model_name, "version": candidate,
                "previous_version": evaluation_report["champion_version"],
                "run_id": evaluation_report["candidate_run_id"], "reason": reason}
    return dg.Output(champion, metadata={
        "model_version": dg.MetadataValue.text(candidate),
        "previous_version": dg.MetadataValue.text(str(evaluation_report["champion_version"])),
        "mlflow_run": dg.MetadataValue.url(
            registry.run_url(evaluation_report["candidate_run_id"])),
        **_moves_metadata(moves),
    })



class RollbackConfig(dg.Config):
    to: str = PREVIOUS  # a version number, or an alias such as `previous`
    reason: str = "manual rollback"


@dg.op(tags={"stage": "deploy"}, pool=CHAMPION_POOL, retry_policy=TRANSIENT_RETRY)
@retries_only_transient
def rollback_champion(context: dg.OpExecutionContext, config: RollbackConfig,
                      mlflow: MlflowResource) -> None:
    """Re-point the champion alias, and record it as a production_model materialization so the
    UI's view of the champion stays true."""
    registry = mlflow.registry()
    moves = registry.rollback(config.to, reason=f"{config.reason} (run {context.run_id})")
    champion = next(m for m in moves if m.alias == CHAMPION)
    context.log.info(f"champion: version {champion.from_version} -> {champion.to_version}")
    context.log_event(dg.AssetMaterialization(
        asset_key="production_model",
        description=f"rollback to version {champion.to_version}: {config.reason}",
        metadata={"model_version": champion.to_version,
                  "previous_version": str(champion.from_version), **_moves_metadata(moves)}))


@dg.job(description="Roll the champion back to `previous` (or any version given in config).",
        tags={"retrain/trigger": "rollback"})
def rollback_job():
    rollback_champion()
