"""A multi-day (backfill) run: each day's materialization carries that day's own metadata, and
each day's check result is linked to it, as the UI reads them."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.checks import CONTRACT
from retrain_assets_tests.conftest import START, land


def _latest(instance, asset: str, day: str) -> dg.AssetMaterialization:
    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day]),
        limit=1).records
    return record.asset_materialization


def test_each_backfilled_day_shows_its_own_row_count_and_schema(defs, instance, landing, home):
    days = land(landing, START, 3, rows=150)
    assert run_job(defs, "ingest_job", instance, days=days).success

    for asset in ("raw_data", "features"):
        stored = {day: pd.read_parquet(home / "storage" / asset / f"{day}.parquet")
                  for day in days}
        assert len({len(frame) for frame in stored.values()}) > 1  # the days differ
        for day, frame in stored.items():
            metadata = _latest(instance, asset, day).metadata
            assert metadata["dagster/row_count"].value == len(frame), (asset, day)
            columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
            assert columns == list(frame.columns)
            assert metadata["stored"].value is True
            assert "partitions_stored" not in metadata


def test_each_backfilled_days_check_result_is_the_days_current_one(defs, instance, landing):
    days = land(landing, START, 3, rows=150)
    assert run_job(defs, "ingest_job", instance, days=days).success

    for asset in ("raw_data", "features"):
        key = dg.AssetCheckKey(dg.AssetKey(asset), CONTRACT)
        infos = {info.partition_key: info for info in
                 instance.event_log_storage.get_asset_check_partition_info([key])}
        assert set(days) <= set(infos), (asset, sorted(infos))
        for day in days:
            # what the check's Partitions tab shows as Passed rather than Missing
            assert infos[day].is_current, (asset, day)
            assert infos[day].latest_execution_status.value == "SUCCEEDED"
