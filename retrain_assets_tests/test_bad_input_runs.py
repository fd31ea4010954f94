"""The bad-input corpus through Dagster: one backfill-style run over good days and one day per
kind of bad input, with a champion in place and the whole graph selected.

What a user must see: each bad day's contract check fails naming the file, the problem and what
to do; its file is in quarantine; nothing downstream is materialized; the good days are stored
and their checks pass; the champion does not move and no candidate is trained from that run.
"""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest

from retrain_assets.adapters.landing import NOTE, QUARANTINE
from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.dev.instance import run_job, use_home
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.checks import CONTRACT, markdown_literal
from retrain_assets.pipeline.project import Project
from retrain_assets_tests.bad_inputs import CORPUS, good, parquet_bytes
from retrain_assets_tests.conftest import START, champion_from

KINDS = sorted(CORPUS)
FIRST_BAD = START + timedelta(days=10)
BAD_DAYS = {kind: (FIRST_BAD + timedelta(days=i)).isoformat() for i, kind in enumerate(KINDS)}
GOOD_DAYS = [(FIRST_BAD - timedelta(days=1)).isoformat(),
             (FIRST_BAD + timedelta(days=len(KINDS))).isoformat()]
WHOLE_GRAPH = ["raw_data", "features", "candidate_model", "evaluation_report",
               "production_model"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Champion first, then one run over [good, every bad kind, good]; shared by the tests."""
    home = tmp_path_factory.mktemp("corpus_home")
    with pytest.MonkeyPatch.context() as env:
        for name in ("MLFLOW_TRACKING_URI", "RETRAIN_ASSETS_LANDING_URL",
                     "RETRAIN_ASSETS_STORAGE_URL"):
            env.delenv(name, raising=False)
        env.setenv("RETRAIN_ASSETS_HOME", str(home))
        env.setenv("DAGSTER_HOME", str(use_home(home)))
        project = Project(spec=TAXI_TRIPS, start_date=START.isoformat())
        defs = build_definitions(project)
        defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[dg.define_asset_job(
            "whole_graph", selection=WHOLE_GRAPH)]))
        store = LocalObjectStore(home / "landing")
        with dg.DagsterInstance.get() as instance:
            champion = champion_from(defs, instance, store)
            registry = defs.resources["mlflow"].registry()
            versions_before = len(registry.client.search_model_versions())
            for kind, day in BAD_DAYS.items():
                CORPUS[kind](day).land(store, day)
            for day in GOOD_DAYS:
                store.write_bytes(f"{day}/trips.parquet", parquet_bytes(good(day)))
            result = run_job(defs, "whole_graph", instance, days=[*BAD_DAYS.values(), *GOOD_DAYS])
            yield {"home": home, "store": store, "result": result, "champion": champion,
                   "registry": registry, "versions_before": versions_before,
                   "defs": defs, "instance": instance}


def check_evaluations(result, asset: str) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.partition: e for e in result.get_asset_check_evaluations()
            if e.asset_key == dg.AssetKey(asset) and e.check_name == CONTRACT
            and e.partition is not None}


def materialized(result, asset: str) -> set[str]:
    return {m.partition for m in result.get_asset_materialization_events()
            if m.asset_key == dg.AssetKey(asset)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_bad_day_fails_its_check_and_nothing_downstream_runs(corpus, kind):
    day, bad = BAD_DAYS[kind], CORPUS[kind](BAD_DAYS[kind])
    evaluation = check_evaluations(corpus["result"], "raw_data")[day]

    assert evaluation.check_name == CONTRACT and not evaluation.passed
    message = evaluation.description
    assert any(f"{day}/{name}" in message for name in bad.offending), message
    assert all(fragment in message for fragment in bad.problem), message
    assert "again" in message  # what to do
    metadata = evaluation.metadata
    assert metadata["problem"].value == markdown_literal(message)
    assert metadata["rows_stored"].value == 0
    assert not (corpus["home"] / "storage" / "raw_data" / f"{day}.parquet").exists()
    assert day not in materialized(corpus["result"], "features")
    quarantined = [o.key for o in corpus["store"].list(f"{QUARANTINE}/{day}/")]
    # _quarantine/<day>/<stamp>/ + each file's path in the zone, and the note
    assert {k.split("/", 3)[3] for k in quarantined} == {*(f"{day}/{name}" for name in
                                                           bad.offending), NOTE}
    note_key = next(k for k in quarantined if k.endswith(NOTE))
    assert json.loads(corpus["store"].read_bytes(note_key))["dagster_run_id"] \
        == corpus["result"].run_id
    assert corpus["registry"].version_for(CHAMPION) == corpus["champion"]


@pytest.mark.slow
def test_good_days_in_the_same_run_are_stored_and_pass(corpus):
    evaluations = check_evaluations(corpus["result"], "raw_data")
    for day in GOOD_DAYS:
        assert evaluations[day].passed, evaluations[day].description
        assert (corpus["home"] / "storage" / "raw_data" / f"{day}.parquet").is_file()
    assert len(evaluations) == len(GOOD_DAYS) + len(BAD_DAYS)


@pytest.mark.slow
def test_a_bad_day_fails_its_chunk_so_no_model_is_trained_or_promoted(corpus):
    """A range run with a rejected day fails at raw_data: downstream of the whole chunk is not
    materialized (Dagster records materializations per step, for every day of the range), and
    the failure says which days were stored and how to carry on with them."""
    result = corpus["result"]
    assert not result.success
    assert materialized(result, "features") == set()
    succeeded = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert not succeeded & {"features", "candidate_model", "evaluation_report",
                            "production_model"}
    summary = next(e for e in result.get_asset_check_evaluations() if e.partition is None
                   and e.asset_key == dg.AssetKey("raw_data") and e.check_name == CONTRACT)
    assert f"{len(BAD_DAYS)} of {len(BAD_DAYS) + len(GOOD_DAYS)} days break the contract" \
        in summary.description
    assert all(day in summary.description for day in GOOD_DAYS), summary.description
    assert len(corpus["registry"].client.search_model_versions()) == corpus["versions_before"]
    assert corpus["registry"].version_for(CHAMPION) == corpus["champion"]


@pytest.mark.slow
def test_good_days_go_on_once_run_without_the_bad_ones(corpus):
    for day in GOOD_DAYS:
        result = run_job(corpus["defs"], "ingest_job", corpus["instance"], days=[day])

        assert result.success
        assert materialized(result, "features") == {day}
    assert corpus["registry"].version_for(CHAMPION) == corpus["champion"]
