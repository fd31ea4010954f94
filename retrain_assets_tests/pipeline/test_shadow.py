"""`shadow` promotion mode end to end: a blessed candidate becomes the challenger, predictions
store its scores beside the champion's, and it is promoted only after N labelled live wins."""

import dagster as dg
import pandas as pd

from retrain_assets.adapters.registry import CHALLENGER, CHAMPION
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.assets.shadow import build_shadow_sensor
from retrain_assets.pipeline.build import build_definitions
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

    # with no challenger left, new predictions ask for no decision
    assert run_job(defs, "scoring_job", instance, days=[days[16]]).success
    stored = pd.read_parquet(home / "storage" / "predictions" / f"{days[16]}.parquet")
    assert "challenger_version" not in stored and set(stored["model_version"]) == {"2"}
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"mlflow": defs.resources["mlflow"]})
    skipped = build_shadow_sensor(project)(context)
    assert isinstance(skipped, dg.SkipReason) and "no challenger" in skipped.skip_message
