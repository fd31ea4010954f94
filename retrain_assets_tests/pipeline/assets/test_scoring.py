"""predictions scores past days point in time: with the champion that served on each day."""

from datetime import timedelta

import dagster as dg

from retrain_assets.dev.instance import run_job
from retrain_assets_tests.conftest import START, champion_from, land


def score(defs, instance, days, champion: str | None = None):
    config = {"ops": {"predictions": {"config": {"champion": champion}}}} if champion else None
    return dg.materialize(defs.assets, selection=["predictions"], instance=instance,
                          resources=defs.resources, raise_on_error=False, run_config=config,
                          tags={"dagster/asset_partition_range_start": days[0],
                                "dagster/asset_partition_range_end": days[-1]})


def stored_days(instance) -> dict[str, str]:
    """Each stored day's model version, from its newest predictions event."""
    records = instance.fetch_materializations(dg.AssetKey("predictions"), limit=20).records
    newest = {}
    for record in reversed(records):  # oldest first, so newer events overwrite
        event = record.asset_materialization
        newest[event.partition] = event.metadata
    return {day: m["model_version"].value for day, m in newest.items() if m["stored"].value}


def test_a_backfill_never_scores_a_day_with_a_model_that_trained_on_it(defs, instance,
                                                                       landing):
    version = champion_from(defs, instance, landing)  # trained and judged on 01-01..01-08
    after = land(landing, START + timedelta(days=8), 1, rows=120)
    assert run_job(defs, "ingest_job", instance, days=after).success
    days = ["2025-01-08", after[0]]

    result = score(defs, instance, days)
    assert stored_days(instance) == {after[0]: version}
    refusals = [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    assert any("no champion was serving on 2025-01-08" in d and "`champion: today`" in d
               for d in refusals), refusals

    assert score(defs, instance, days, champion="today").success
    assert stored_days(instance) == {days[0]: version, after[0]: version}
