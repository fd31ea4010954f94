"""The smoke benchmark runs end to end, so bench/ cannot rot (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from bench.__main__ import BENCHMARKS
from bench.floor import build_floor_definitions
from bench.harness import failure_summary
from bench.workload import NAMES, landing_zone, stored
from retrain_assets.dev.instance import run_job
from retrain_assets_tests.conftest import START, land

REPO = Path(__file__).resolve().parents[1]


# The smoke run in two processes at once, each mostly waiting on daemons, servers and child
# processes: these three, and the others (a new benchmark joins the others).
FIRST_HALF = {"backfill", "ingest", "training"}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smoke_benchmark_reports_every_benchmark_with_a_ratio(tmp_path):
    # the policy benchmark's smoke run is test_bench_policy's, with its own assertions
    timed = sorted(set(BENCHMARKS) - {"policy"})
    halves = [sorted(FIRST_HALF), sorted(set(timed) - FIRST_HALF)]
    started = []
    for index, half in enumerate(halves):
        out, log = tmp_path / f"RESULTS-{index}.md", (tmp_path / f"bench-{index}.log").open("w")
        started.append((out, log, subprocess.Popen(
            [sys.executable, "-m", "bench", "--smoke", "--only", *half, "--out", str(out)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)))
    for _, log, process in started:  # both end before any assertion
        process.wait()
        log.close()
    texts = []
    for out, log, process in started:
        assert process.returncode == 0, Path(log.name).read_text()[-6000:]
        texts.append(out.read_text())

    by_benchmark: dict[str, list[float]] = {}
    for text in texts:
        by_benchmark.update(benchmark_ratios(text))
    assert {"ingest", "backfill", "training"} <= set(BENCHMARKS)
    assert set(by_benchmark) == set(timed)
    assert all(ratio >= 0 for ratios in by_benchmark.values() for ratio in ratios)


def benchmark_ratios(text: str) -> dict[str, list[float]]:
    """A smoke RESULTS.md's ratios by benchmark, once its header and machine table are checked."""
    assert "Mode: **smoke" in text
    for field in ("cores", "memory", "cpu", "python", "dagster", "pandas", "scikit-learn",
                  "mlflow", "pandera"):
        assert re.search(rf"^\| {re.escape(field)} \| \S", text, re.MULTILINE), field
    assert re.search(r"^\| SQLite: connect, insert, commit, close .* \| \d+\.\d+ ms \|$", text,
                     re.MULTILINE)
    rows = [line.split(" | ") for line in text.splitlines()
            if line.startswith("| ") and line.count(" | ") == 6
            and not line.startswith("| benchmark")]
    by_benchmark: dict[str, list[float]] = {}
    for row in rows:
        by_benchmark.setdefault(row[0].removeprefix("| "), []).append(float(row[4]))
    return by_benchmark


def test_a_failed_run_is_summarised_with_its_retries_causes_and_check_reasons():
    attempts = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("store busy")
        return 1

    @dg.asset(check_specs=[dg.AssetCheckSpec("good_enough", asset="judged", blocking=True)])
    def judged(flaky: int):
        yield dg.Output(flaky)
        yield dg.AssetCheckResult(passed=False, description="r2 0.1 misses min 0.5")

    @dg.asset
    def broken(flaky: int) -> int:
        try:
            raise KeyError("alias")
        except KeyError as exc:
            raise RuntimeError("promotion failed") from exc

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([flaky, judged, broken], instance=instance,
                                raise_on_error=False)
    summary = failure_summary(result)

    assert "flaky up for retry" in summary and "store busy" in summary
    assert "check good_enough failed: r2 0.1 misses min 0.5" in summary
    assert "judged failed" in summary  # the blocking check stops the step
    assert "broken failed" in summary
    assert "RuntimeError: promotion failed <- KeyError: 'alias'" in summary


def test_the_dagster_floor_records_what_the_product_records(home, shipped, instance):
    """bench/floor.py stands for Dagster's own share of the ingest figures only while its runs
    record the same events as the shipped taxi model's, which the benchmarks run: a range run
    (a backfill) and a one-day run, of the same assets with the same partitions and policy."""
    names = shipped.names
    assert names == NAMES
    assert shipped.landing.root == landing_zone(home)  # where the benchmarks land
    days = land(shipped.landing, START, 3, rows=50)
    floor = build_floor_definitions()

    def events(definitions: dg.Definitions, keys: list[str]) -> Counter:
        result = run_job(definitions, names.ingest_job, instance, days=keys)
        assert result.success
        return Counter(record.event_log_entry.dagster_event_type
                       for record in instance.get_records_for_run(result.run_id).records)

    for keys in (days, days[:1]):
        recorded = events(shipped.defs, keys)
        assert events(floor, keys) == recorded
        per_asset_day = 2 * len(keys)
        assert recorded[dg.DagsterEventType.ASSET_MATERIALIZATION] == per_asset_day
        assert recorded[dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED] == per_asset_day
        assert recorded[dg.DagsterEventType.ASSET_CHECK_EVALUATION] >= per_asset_day
    assert sorted(path.stem for path in stored(home, "features").iterdir()) == days
    product, bare = shipped.defs.resolve_asset_graph(), floor.resolve_asset_graph()
    for key in (names.raw_data, names.features):
        assert bare.get(key).partitions_def == product.get(key).partitions_def
        assert bare.get(key).backfill_policy == product.get(key).backfill_policy
