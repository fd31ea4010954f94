"""Unpartitioned values stored per run as JSON: a typed value goes in and comes back typed."""

import json

import dagster as dg

from retrain_assets.core.evaluation import EvaluationReport, Verdict
from retrain_assets.pipeline.resources import ParquetIOManager, run_value_key

REPORT = EvaluationReport(
    candidate_version="2", candidate_run_id="abc", champion_version="1",
    holdout_days=("2025-01-07", "2025-01-08"), holdout_rows=250,
    metrics={"candidate": {"rmse": 2.0}, "champion": {"rmse": 2.5}},
    verdict=Verdict(blessed=True, reasons=("ok   rmse 2 vs champion 2.5",),
                    primary_metric="rmse", candidate_metrics={"rmse": 2.0},
                    champion_metrics={"rmse": 2.5}, improvement=0.2))
# evaluation_report's value as it was stored when it was a plain dict
STORED_AS_A_DICT = {
    "candidate_version": "2", "champion_version": "1",
    "holdout_days": ["2025-01-07", "2025-01-08"], "holdout_rows": 250,
    "metrics": {"candidate": {"rmse": 2.0}, "champion": {"rmse": 2.5}},
    "verdict": {"blessed": True, "reasons": ["ok   rmse 2 vs champion 2.5"],
                "primary_metric": "rmse", "candidate_metrics": {"rmse": 2.0},
                "champion_metrics": {"rmse": 2.5}, "improvement": 0.2, "below_floor": False},
    "candidate_run_id": "abc"}


def test_a_report_is_stored_as_json_and_read_back_as_a_report_even_one_stored_as_a_dict(
        tmp_path, instance):
    read: list[EvaluationReport] = []

    @dg.asset
    def report() -> EvaluationReport:
        return REPORT

    @dg.asset
    def reader(report: EvaluationReport) -> None:
        read.append(report)

    storage = ParquetIOManager(url=str(tmp_path / "storage"))
    ran = dg.materialize([report, reader], instance=instance,
                         resources={"io_manager": storage})
    assert ran.success and read == [REPORT]
    stored = tmp_path / "storage" / run_value_key("report", ran.run_id)
    # the same JSON as before, plus the verdict's improvement interval (none here)
    assert json.loads(stored.read_text()) == {
        **STORED_AS_A_DICT, "verdict": {**STORED_AS_A_DICT["verdict"], "interval": None}}

    stored.write_text(json.dumps(STORED_AS_A_DICT, indent=2))
    assert dg.materialize([report, reader], selection=[reader], instance=instance,
                          resources={"io_manager": storage}).success
    assert read[-1] == REPORT
