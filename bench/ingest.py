"""1. Ingest throughput: raw_data + features for one large day, through Dagster vs bare pandas."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from bench.harness import Figure, Run, benchmark, failure_summary, ratio_at_most
from bench.workload import bare_features, days, land, open_definitions


def dagster_ingest(home: Path, day: str) -> float:
    """One in-process run (`instance.run_job` → execute_in_process) of ingest_job for `day`."""
    from retrain_assets.instance import run_job

    defs = open_definitions(home)
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = run_job(defs, "ingest_job", instance, days=[day])
        seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError(f"ingest_job failed for {day}: {failure_summary(result)}")
    return seconds


def bare_ingest(landed: Path, out: Path) -> float:
    started = time.perf_counter()
    bare_features(landed, out)
    return time.perf_counter() - started


@benchmark(1, "ingest", "raw_data + features for one day, Pandera validation and Parquet write "
                     "included")
def ingest(run: Run) -> list[Figure]:
    rows = 100_000 if run.quick else 1_000_000
    home = run.folder("home")
    (day,) = days(1)
    (landed,) = land(home / "landing", [day], rows)
    ours = run.measure(dagster_ingest, home, day)
    floor = run.measure(bare_ingest, landed, run.folder("bare") / f"{day}.parquet")
    size_mib = landed.stat().st_size / 2 ** 20
    run.sizes.append(f"one day of {rows:,} rows landed as Parquet ({size_mib:.0f} MiB)")
    run.notes += [
        "ours: ingest_job (raw_data → features) as one in-process run "
        "(`retrain_assets.instance.run_job`, execute_in_process) on a temporary instance "
        "configured by the repository's dagster.yaml; the code location is loaded before the "
        "clock starts",
        "baseline: pandas read_parquet → core.features.build_features → to_parquet",
        f"best of {len(ours.seconds)}; all times (s): ours "
        f"{', '.join(f'{s:.2f}' for s in ours.seconds)}; baseline "
        f"{', '.join(f'{s:.2f}' for s in floor.seconds)}",
    ]
    return [Figure(f"Dagster run, 1 day × {rows:,} rows", ours.best, floor.best,
                   "bare pandas", "s", ratio_at_most(1.5))]
