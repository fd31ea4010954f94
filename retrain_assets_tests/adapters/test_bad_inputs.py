"""The bad-input corpus through the landing zone: every kind is rejected with a message that
names the file, the problem and what to do, and the file is quarantined with a note, never lost."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from retrain_assets.adapters.landing import DROPPED_ROWS, NOTE, QUARANTINE, LandingZone, ingest_day
from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.core.ingest import RowPolicy
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets_tests.bad_inputs import (
    CORPUS,
    csv_bytes,
    good,
    negative_target,
    pickle_payload,
)

DAY = "2025-01-05"
WHAT_TO_DO = ("land the day again", "land the complete file again", "land it again",
              "land the file again", "land the day again as files of one schema")


def ingest(store, policy=RowPolicy()):
    return ingest_day(LandingZone(store), DAY, TAXI_TRIPS.raw_schema.to_schema(),
                      time_column=TAXI_TRIPS.time_column, policy=policy, run_id="run-1")


def quarantine_folder(store) -> str:
    stamps = {o.key.split("/")[2] for o in store.list(f"{QUARANTINE}/{DAY}/")}
    assert len(stamps) == 1, f"expected one quarantine folder for {DAY}, found {stamps}"
    return f"{QUARANTINE}/{DAY}/{stamps.pop()}"


@pytest.fixture
def store(tmp_path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "landing")


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_bad_day_is_rejected_explained_and_quarantined(store, kind):
    bad = CORPUS[kind](DAY)
    bad.land(store, DAY)

    intake = ingest(store)

    problem = intake.report.problem or ""
    assert not intake.report.passed and intake.report.frame is None
    assert any(f"{DAY}/{name}" in problem for name in bad.offending), problem
    for fragment in bad.problem:
        assert fragment in problem, f"{fragment!r} not in: {problem}"
    assert any(hint in problem.lower() for hint in WHAT_TO_DO), problem
    folder = quarantine_folder(store)
    for name in bad.offending:  # moved byte for byte, never deleted
        assert store.read_bytes(f"{folder}/{DAY}/{name}") == bad.files[name]
        assert not store.exists(f"{DAY}/{name}")
        assert f"{folder}/{DAY}/{name}" in " ".join(intake.quarantined)
    note = json.loads(store.read_bytes(f"{folder}/{NOTE}"))
    assert note["day"] == DAY and note["dagster_run_id"] == "run-1"
    assert sorted(note["files"]) == sorted(f"{DAY}/{n}" for n in bad.offending)
    assert all(fragment in note["reason"] for fragment in bad.problem), note["reason"]
    assert "land them again" in note["what_to_do"]


def test_drop_bad_rows_stores_the_rest_and_keeps_the_dropped_rows(store):
    bad = negative_target(DAY)
    bad.land(store, DAY)

    intake = ingest(store, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.05))

    report = intake.report
    assert report.passed and report.rows_dropped == 2
    assert len(report.frame) == report.rows_in - 2 and (report.frame["fare_amount"] >= 0).all()
    assert store.exists(f"{DAY}/trips.parquet"), "the landed file stays: its good rows are stored"
    folder = quarantine_folder(store)
    dropped = pd.read_csv(io.BytesIO(store.read_bytes(f"{folder}/{DROPPED_ROWS}")))
    assert dropped["fare_amount"].tolist() == [-12.0, -12.0]
    assert dropped["_row"].tolist() == [5, 10]
    assert set(dropped["_file"]) == {f"{DAY}/trips.parquet"}
    assert dropped["_failed"].str.contains("fare_amount: greater_than_or_equal_to").all()
    note = json.loads(store.read_bytes(f"{folder}/{NOTE}"))
    assert note["written"] == [DROPPED_ROWS] and note["files"] == []
    assert "2 of 60 rows" in note["reason"] and "drop_bad_rows" in note["reason"]


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_no_bad_day_is_stored_empty_under_the_most_lenient_row_policy(store, kind):
    """Dropping up to 99% of rows stores what is left, never a day with nothing left."""
    CORPUS[kind](DAY).land(store, DAY)

    report = ingest(store, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.99)).report

    if report.passed:
        assert 0 < report.rows_dropped < report.rows_in
        assert len(report.frame) == report.rows_in - report.rows_dropped
    else:
        assert report.frame is None and report.problem


def test_drop_bad_rows_never_stores_a_day_whose_every_row_fails(store):
    CORPUS["every_row_bad"](DAY).land(store, DAY)

    intake = ingest(store, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.99))

    assert not intake.report.passed and intake.report.rows_dropped == 0
    assert "would leave an empty day, which is never stored" in intake.report.problem
    assert store.exists(f"{quarantine_folder(store)}/{DAY}/trips.parquet")


def test_drop_bad_rows_rejects_the_day_above_the_threshold(store):
    negative_target(DAY).land(store, DAY)

    intake = ingest(store, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.01))

    assert not intake.report.passed and intake.report.rows_dropped == 0
    assert "more than the 1.0% the drop_bad_rows policy allows" in intake.report.problem
    assert store.exists(f"{quarantine_folder(store)}/{DAY}/trips.parquet")


def test_drop_bad_rows_never_drops_a_broken_table(store):
    CORPUS["missing_column"](DAY).land(store, DAY)

    intake = ingest(store, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.99))

    assert not intake.report.passed and "1 missing column: fare_amount" in intake.report.problem


def test_one_unreadable_part_quarantines_only_that_part(store):
    store.write_bytes(f"{DAY}/part-0.csv", csv_bytes(good(DAY).iloc[:30]))
    store.write_bytes(f"{DAY}/part-1.parquet", b"PAR1 cut off")

    intake = ingest(store)

    assert not intake.report.passed and "part-1.parquet" in intake.report.problem
    assert store.exists(f"{DAY}/part-0.csv"), "the readable part waits for its sibling"
    assert store.exists(f"{quarantine_folder(store)}/{DAY}/part-1.parquet")


def test_landed_pickles_are_never_unpickled(store, tmp_path):
    marker = tmp_path / "pwned"
    bad = pickle_payload(DAY, marker)
    bad.land(store, DAY)
    store.write_bytes(f"{DAY}/model.pkl", bad.files["trips.csv"])

    intake = ingest(store)

    assert not marker.exists(), "a landed pickle was executed"
    assert "it is a Python pickle, which is never loaded" in intake.report.problem
    assert {k.rsplit("/", 1)[-1] for k in intake.quarantined} == {"trips.csv", "trips.parquet"}
    assert store.exists(f"{DAY}/model.pkl"), ".pkl is not a landing format: ignored, kept"
