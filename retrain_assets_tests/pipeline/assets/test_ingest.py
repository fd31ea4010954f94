"""raw_data's row policy: the dataset spec's on every run, overridden field by field by a manual
run's config."""

from __future__ import annotations

import dagster as dg

from retrain_assets.core.ingest import RowPolicy
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.assets.ingest import RawDataConfig
from retrain_assets_tests.conftest import START, good_day, land_frame

DROP = RowPolicy("drop_bad_rows", max_bad_row_fraction=0.05)


def test_a_manual_run_overrides_only_the_fields_it_sets():
    assert RawDataConfig().policy(DROP) == DROP
    assert RawDataConfig(max_bad_row_fraction=0.2).policy(DROP) == RowPolicy("drop_bad_rows",
                                                                             0.2)
    assert RawDataConfig(row_policy="reject_day").policy(DROP) == RowPolicy("reject_day", 0.05)


def test_launchpad_config_drops_bad_rows_under_a_reject_day_spec(defs, instance, landing):
    day = START.isoformat()
    frame = good_day(day, rows=100)
    frame.loc[3, "fare_amount"] = -1.0
    land_frame(landing, day, frame)

    result = run_job(defs, "ingest_job", instance, days=[day], run_config={
        "ops": {"raw_data": {"config": {"row_policy": "drop_bad_rows",
                                        "max_bad_row_fraction": 0.05}}}})

    assert result.success
    (stored,) = [m for m in result.get_asset_materialization_events()
                 if m.asset_key == dg.AssetKey("raw_data")]
    assert stored.materialization.metadata["dagster/row_count"].value == 99
