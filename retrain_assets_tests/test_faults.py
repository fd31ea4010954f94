"""Faults survived: killed runs, unreachable MLflow or storage, racing promotions.

Each test asserts what a user sees afterwards: the champion alias, what storage lists, the
retry events and the failure message, the registry's tags.
"""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest
from mlflow import MlflowClient

from retrain_assets.assets import ingest as ingest_assets
from retrain_assets.assets import training as training_assets
from retrain_assets.build import build_definitions, default_resources
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.instance import run_job
from retrain_assets.project import Project
from retrain_assets.registry import CHAMPION, Actor, ChampionMovedError, ModelRegistry
from retrain_assets.resources import (
    TRANSIENT_RETRY,
    MlflowResource,
    ParquetIOManager,
    is_transient,
)
from retrain_assets.storage import LocalObjectStore
from retrain_assets_tests.conftest import (
    SMALL_TRAINING,
    START,
    champion_from,
    good_day,
    land,
    land_frame,
)

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is


def retries(result, step: str) -> list[float]:
    return [e.event_specific_data.seconds_to_wait for e in result.all_events
            if e.event_type_value == "STEP_UP_FOR_RETRY" and e.step_key == step]


def failure_text(result, step: str) -> str:
    failure = next(e for e in result.all_events
                   if e.event_type_value == "STEP_FAILURE" and e.step_key == step)
    error = failure.event_specific_data.error
    return error.to_string() + "".join(
        c.to_string() for c in [error.cause] if c is not None)


def started(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


def wait_for(predicate, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_storage_unreachable_is_retried_with_backoff_then_fails_clearly(
        home, project, instance, landing):
    day, = land(landing, START, 1, rows=80)
    blocked = home / "blocked"
    blocked.write_text("a file where the storage folder should be")
    resources = {**default_resources(project),
                 "io_manager": ParquetIOManager(url=str(blocked / "storage"))}
    defs = build_definitions(project, resources)

    result = run_job(defs, "ingest_job", instance, days=[day])

    assert not result.success
    waits = retries(result, "raw_data")
    assert len(waits) == TRANSIENT_RETRY.max_retries and waits == sorted(waits) and \
        waits[-1] >= 4 * waits[0], f"not exponential backoff: {waits}"
    message = failure_text(result, "raw_data")
    assert "Exceeded max_retries of 3" in message and str(blocked) in message
    assert "features" not in started(result)
    assert landing.exists(f"{day}/trips.parquet"), "the landed file is untouched"

    blocked.unlink()  # storage is back: the same day goes through
    assert run_job(defs, "ingest_job", instance, days=[day]).success


@pytest.mark.slow
def test_mlflow_unreachable_is_retried_then_fails_and_nothing_is_promoted(
        home, project, instance, landing, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # our policy does the retrying
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    port = closed_port()
    defs = build_definitions(project)
    assert run_job(defs, "ingest_job", instance, days=land(landing, START, 8, rows=80)).success
    down = build_definitions(project, {**default_resources(project), "mlflow": MlflowResource(
        tracking_uri=f"http://127.0.0.1:{port}", model_name=project.spec.name)})

    result = run_job(down, "training_job", instance, run_config=SMALL_TRAINING)

    assert not result.success
    assert len(retries(result, "candidate_model")) == TRANSIENT_RETRY.max_retries
    message = failure_text(result, "candidate_model")
    assert "Exceeded max_retries of 3" in message and f"127.0.0.1:{port}" in message
    assert started(result) == {"candidate_model"}, "nothing after training may run"
    registry = defs.resources["mlflow"].registry()
    assert registry.version_for(CHAMPION) is None

    result = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)  # MLflow is back
    assert result.success and registry.version_for(CHAMPION) == "1"


WRITE_LOOP = textwrap.dedent("""
    import io, sys
    import numpy as np, pandas as pd
    from retrain_assets.storage import LocalObjectStore
    store = LocalObjectStore(sys.argv[1])
    frame = pd.DataFrame(np.random.default_rng(0).random((200_000, 8)), columns=list("abcdefgh"))
    buffer = io.BytesIO(); frame.to_parquet(buffer, index=False); data = buffer.getvalue()
    for i in range(10_000):
        store.write_bytes(f"raw_data/2025-01-0{1 + i % 3}.parquet", data)
        print(i, flush=True)
""")


def test_a_killed_writer_never_leaves_a_partial_parquet_visible(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITE_LOOP, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        for _ in range(5):  # several complete writes, then kill it in the middle of another
            assert writer.stdout.readline(), "the writer died on its own"
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL

    store = LocalObjectStore(tmp_path)
    listed = store.list()
    assert [o.key for o in listed] == [f"raw_data/2025-01-0{i}.parquet" for i in (1, 2, 3)]
    for obj in listed:
        assert len(pd.read_parquet(io.BytesIO(store.read_bytes(obj.key)))) == 200_000


TRAIN_IN_SUBPROCESS = textwrap.dedent("""
    import json, sys
    import dagster as dg
    from retrain_assets.build import build_definitions
    from retrain_assets.instance import run_job
    from retrain_assets.project import Project
    from retrain_assets.datasets.taxi import TAXI_TRIPS
    defs = build_definitions(Project(spec=TAXI_TRIPS, start_date=sys.argv[1]))
    with dg.DagsterInstance.get() as instance:
        run_job(defs, "training_job", instance, run_config=json.loads(sys.argv[2]))
""")


@pytest.mark.slow
def test_a_training_run_killed_midway_leaves_the_champion_and_reruns(
        home, project, defs, instance, landing):
    champion = champion_from(defs, instance, landing, days=10)
    registry = defs.resources["mlflow"].registry()
    versions = len(registry.client.search_model_versions())
    job = subprocess.Popen([sys.executable, "-c", TRAIN_IN_SUBPROCESS, project.start_date,
                            json.dumps(SMALL_TRAINING)], cwd=ROOT)  # same home via env
    try:
        # killed once its candidate is registered, before the promotion step could finish
        wait_for(lambda: len(registry.client.search_model_versions()) > versions
                 or job.poll() is not None, "the candidate to be registered")
        job.send_signal(signal.SIGKILL)
    finally:
        job.kill()
        job.wait()
    assert job.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    assert registry.version_for(CHAMPION) == champion
    killed = instance.get_runs(limit=1)[0]
    assert killed.status != dg.DagsterRunStatus.SUCCESS
    assert instance.get_latest_materialization_event(dg.AssetKey("production_model")) \
        .run_id != killed.run_id

    # what run monitoring (dagster.yaml) does for a dead run worker: fail it, free its pools
    instance.report_run_failed(killed)
    instance.event_log_storage.free_concurrency_slots_for_run(killed.run_id)
    rerun = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    evaluated, = [m.materialization.metadata for m in rerun.get_asset_materialization_events()
                  if m.asset_key == dg.AssetKey("evaluation_report")]
    candidate = evaluated["candidate_version"].value
    blessed = evaluated["verdict"].value == "blessed"
    assert rerun.success  # promoted, or not blessed: an outcome, not a failure
    assert registry.version_for(CHAMPION) == (candidate if blessed else champion)


ACTOR = Actor(run_id="test-run", user="test")


def test_two_racing_promotions_leave_one_champion_and_say_why(home):
    registry = ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                             experiment="race", model_name="racer")
    client: MlflowClient = registry.client
    client.create_registered_model("racer")
    first, a, b = (client.create_model_version("racer", source=str(home / f"m{i}")).version
                   for i in range(3))
    registry.promote(str(first), expected_champion=None, reason="bootstrap", actor=ACTOR)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def promote(version: str) -> None:
        start.wait()
        try:
            outcomes[version] = registry.promote(version, expected_champion=str(first),
                                                 reason=f"race {version}", actor=ACTOR)
        except ChampionMovedError as exc:
            outcomes[version] = exc

    threads = [threading.Thread(target=promote, args=(str(v),)) for v in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [v for v, o in outcomes.items() if not isinstance(o, Exception)]
    losers = [v for v, o in outcomes.items() if isinstance(o, ChampionMovedError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    winner, loser = winners[0], losers[0]
    assert registry.version_for(CHAMPION) == winner
    assert registry.version_for("previous") == str(first)
    tags = {v: client.get_model_version("racer", v).tags for v in (winner, loser)}
    assert tags[winner]["promotion_reason"] == f"race {winner}"
    assert "promotion_reason" not in tags[loser]
    assert tags[loser]["promotion_refused"].startswith(
        f"champion was version {winner}, not {first} as evaluated")
    assert f"now version {winner}" in str(outcomes[loser])


def test_a_retried_promotion_whose_first_attempt_moved_the_alias_completes(home):
    """production_model retries transient failures; if the failure came after the alias moved,
    the retry must finish the promotion, not refuse it as if someone else had moved it."""
    registry = ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                             experiment="retry", model_name="retried")
    client: MlflowClient = registry.client
    client.create_registered_model("retried")
    old, new = (client.create_model_version("retried", source=str(home / f"m{i}")).version
                for i in range(2))
    registry.promote(str(old), expected_champion=None, reason="bootstrap", actor=ACTOR)
    registry.promote(str(new), expected_champion=str(old), reason="first attempt", actor=ACTOR)

    moves = registry.promote(str(new), expected_champion=str(old), reason="retried attempt",
                             actor=ACTOR)

    assert [(m.alias, m.from_version, m.to_version) for m in moves] == \
        [(CHAMPION, str(old), str(new))]
    assert registry.version_for(CHAMPION) == str(new)
    assert registry.version_for("previous") == str(old)
    tags = client.get_model_version("retried", str(new)).tags
    assert tags["promotion_reason"] == "retried attempt"
    assert [(r.action, r.to_version) for r in registry.history()] == \
        [("promote", str(old)), ("promote", str(new))]  # the retry adds no second record
    assert "promotion_refused" not in tags


def test_only_errors_a_retry_can_fix_are_transient():
    import requests
    from google.api_core import exceptions as google
    from google.auth.exceptions import RefreshError, TransportError
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    def raised_from(cause: BaseException) -> Exception:
        try:
            raise RuntimeError("wrapped") from cause
        except RuntimeError as exc:
            return exc

    transient = [OSError("disk busy"), ConnectionResetError("reset"), TimeoutError("slow"),
                 requests.ConnectionError("refused"),
                 MlflowException("API request to http://mlflow failed with exception refused"),
                 google.ServiceUnavailable("503"), google.TooManyRequests("429"),
                 TransportError("token endpoint unreachable"),
                 raised_from(ConnectionError("refused"))]
    lasting = [KeyError("2025-01-03"), ValueError("columns are missing: {'hour'}"),
               FileNotFoundError("no such file"), PermissionError("denied"),
               MlflowException("bad param", error_code=INVALID_PARAMETER_VALUE),
               google.NotFound("404"), google.Forbidden("403"), RefreshError("bad key"),
               requests.HTTPError("404", response=type("R", (), {"status_code": 404})())]
    assert [e for e in transient if not is_transient(e)] == []
    assert [e for e in lasting if is_transient(e)] == []


def test_every_step_with_the_transient_retry_policy_retries_only_transient_errors(defs):
    ops = [a.op for a in defs.assets if isinstance(a, dg.AssetsDefinition)] + \
        [node.definition for job in defs.jobs if isinstance(job, dg.JobDefinition)
         for node in job.nodes]
    with_policy = {op.name: op for op in ops if op.retry_policy == TRANSIENT_RETRY}
    assert {"raw_data", "features", "candidate_model", "evaluation_report", "production_model",
            "predictions", "rollback_champion"} <= set(with_policy)
    unguarded = [name for name, op in with_policy.items()
                 if not getattr(op.compute_fn.decorated_fn, "retries_only_transient", False)]
    assert unguarded == []


def test_a_deterministic_error_is_not_retried_and_a_transient_one_is(
        project, defs, instance, landing, monkeypatch):
    day, = land(landing, START, 1, rows=80)
    real = ingest_assets.build_features
    errors: list[Exception] = [KeyError("pickup_zone")]

    def build_features(*args, **kwargs):
        if errors:
            raise errors.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_assets, "build_features", build_features)
    result = run_job(defs, "ingest_job", instance, days=[day])
    assert not result.success and retries(result, "features") == []
    message = failure_text(result, "features")
    assert f"step features (day {day}): KeyError: 'pickup_zone'" in message
    assert "not retried" in message

    errors.append(OSError("storage busy"))
    result = run_job(defs, "ingest_job", instance, days=[day])
    assert result.success and len(retries(result, "features")) == 1


@pytest.mark.slow
def test_scoring_a_range_with_a_rejected_day_scores_the_others_and_says_what_to_do(
        defs, instance, landing):
    champion_from(defs, instance, landing, days=8)
    bad, good = ((START + timedelta(days=8 + i)).isoformat() for i in range(2))
    land_frame(landing, bad, good_day(bad).drop(columns=["fare_amount"]))
    land_frame(landing, good, good_day(good))
    assert not run_job(defs, "ingest_job", instance, days=[bad]).success
    assert run_job(defs, "ingest_job", instance, days=[good]).success

    result = run_job(defs, "scoring_job", instance, days=[bad, good])

    assert not result.success and retries(result, "predictions") == []
    storage = LocalObjectStore(defs.resources["io_manager"].url)
    assert storage.exists(f"predictions/{good}.parquet")
    assert not storage.exists(f"predictions/{bad}.parquet")
    by_day = {e.partition: e for e in (
        ev.event_specific_data for ev in result.all_events
        if ev.event_type_value == "ASSET_CHECK_EVALUATION")
        if e.asset_key == dg.AssetKey("predictions")}
    assert by_day[good].passed and not by_day[bad].passed
    assert f"features[{bad}] is not stored" in by_day[bad].description
    assert f"run ingest_job for {bad}, then scoring_job for {bad}" in by_day[bad].description


def training_job_for_reexecution() -> dg.JobDefinition:
    """The training job of the test's project, for `dg.reconstructable` (reads the test home
    from the environment the `home` fixture set)."""
    return build_definitions(Project(spec=TAXI_TRIPS, start_date=START.isoformat())) \
        .resolve_job_def("training_job")


@pytest.mark.slow
def test_re_executing_a_failed_training_run_evaluates_its_own_candidate(
        defs, instance, landing, monkeypatch):
    assert run_job(defs, "ingest_job", instance, days=land(landing, START, 8, rows=80)).success
    registry = defs.resources["mlflow"].registry()
    real = training_assets.decide_promotion
    failing = [True]

    def decide_promotion(*args, **kwargs):
        if failing:
            raise ValueError("injected evaluation failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(training_assets, "decide_promotion", decide_promotion)
    first = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    assert not first.success
    failing.clear()
    second = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    assert second.success and registry.version_for(CHAMPION) == "2"

    again = dg.execute_job(
        dg.reconstructable(training_job_for_reexecution), instance, run_config=SMALL_TRAINING,
        reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance))

    evaluated, = [m.materialization.metadata for m in again.get_asset_materialization_events()
                  if m.asset_key == dg.AssetKey("evaluation_report")]
    assert evaluated["candidate_version"].value == "1", "re-execution evaluated another run's"
    assert evaluated["champion_version"].value == "2"
    version_run = {v: registry.client.get_model_version(registry.model_name, v).run_id
                   for v in ("1", "2")}
    verdicts = {v: registry.client.get_run(run).data.tags.get("verdict")
                for v, run in version_run.items()}
    assert verdicts["2"] == "blessed", "run 2's verdict must not be overwritten"
    assert again.success and verdicts["1"] is not None
    # a rejected candidate is an outcome, not a failure: the champion moves only if it won
    assert registry.version_for(CHAMPION) == ("1" if verdicts["1"] == "blessed" else "2")


@pytest.mark.slow
def test_an_asset_run_alone_reads_the_latest_run_s_value_and_a_corrupt_one_fails_at_once(
        defs, instance, landing):
    champion_from(defs, instance, landing, days=8)
    trained = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    version = trained.output_for_node("candidate_model")["version"]
    evaluate_alone = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("evaluation_report")})

    alone = evaluate_alone.execute_in_process(instance=instance, raise_on_error=False)

    evaluated, = [m.materialization.metadata for m in alone.get_asset_materialization_events()]
    assert evaluated["candidate_version"].value == version  # the latest materialization's run
    storage = LocalObjectStore(defs.resources["io_manager"].url)
    storage.write_bytes(f"candidate_model/runs/{trained.run_id}.json", b"{ cut short")

    corrupt = evaluate_alone.execute_in_process(instance=instance, raise_on_error=False)

    assert not corrupt.success and retries(corrupt, "evaluation_report") == []
    assert "loading candidate_model: JSONDecodeError" in failure_text(corrupt,
                                                                       "evaluation_report")
