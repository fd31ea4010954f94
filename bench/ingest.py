"""1. Ingest throughput: raw_data + features for one large day, through Dagster vs bare pandas."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from bench.harness import Figure, Run, benchmark, failure_summary, ratio_at_most
from bench.workload import (
    NAMES,
    SPEC,
    bare_features,
    days,
    land,
    landing_zone,
    open_definitions,
)


def dagster_ingest(home: Path, day: str, floor: bool = False) -> float:
    """One in-process run (`instance.run_job` → execute_in_process) of the shipped taxi model's
    ingest job for `day`; `floor`: of bench/floor.py's (the same run with no data work)."""
    from retrain_assets.dev.instance import run_job

    defs = open_definitions(home, floor=floor)
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = run_job(defs, NAMES.ingest_job, instance, days=[day])
        seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError(f"{NAMES.ingest_job} failed for {day}: {failure_summary(result)}")
    return seconds


def bare_ingest(landed: Path, out: Path) -> float:
    started = time.perf_counter()
    bare_features(landed, out)
    return time.perf_counter() - started


def validation_alone(landed: Path, day: str) -> float:
    """The two contracts' Pandera validation of the day outside Dagster (the raw contract on the
    file as raw_data reads it, the features schema on its features): the work the issue adds
    to the bare script. Reading and building features are not timed."""
    from retrain_assets.core.features import build_features, features_contract_after_raw
    from retrain_assets.core.ingest import apply_contract, read_landed_file, validate_frame

    landed_frame = read_landed_file(landed.name, landed.read_bytes())
    started = time.perf_counter()
    raw = apply_contract({landed.name: landed_frame}, SPEC.raw_schema.to_schema(), day=day,
                         time_column=SPEC.time_column)
    seconds = time.perf_counter() - started
    features = build_features(raw.frame, SPEC)
    started = time.perf_counter()
    checked = validate_frame(features, features_contract_after_raw(SPEC), day=day)
    seconds += time.perf_counter() - started
    if not (raw.passed and checked.passed):
        raise RuntimeError(f"the simulated day broke a contract: {raw.problem or checked.problem}")
    return seconds


@benchmark(1, "ingest", "raw_data + features for one day, Pandera validation and Parquet write "
                     "included")
def ingest(run: Run) -> list[Figure]:
    rows = run.sized(full=1_000_000, quick=100_000, smoke=10_000)
    home = run.folder("home")
    (day,) = days(1)
    (landed,) = land(landing_zone(home), [day], rows)
    ours = run.measure(dagster_ingest, home, day)
    floor = run.measure(bare_ingest, landed, run.folder("bare") / f"{day}.parquet")
    dagster_alone = run.measure(dagster_ingest, run.folder("home-floor"), day, True)
    validation = run.measure(validation_alone, landed, day)
    required = floor.best + dagster_alone.best + validation.best
    size_mib = landed.stat().st_size / 2 ** 20
    run.sizes.append(f"one day of {rows:,} rows landed as Parquet ({size_mib:.0f} MiB)")
    run.notes += [
        "ours: the shipped taxi model's ingest job (taxi/raw_data → taxi/features) as one "
        "in-process run "
        "(`retrain_assets.dev.instance.run_job`, execute_in_process) on a temporary instance "
        "configured by the repository's dagster.yaml; the code location is loaded before the "
        "clock starts",
        "baseline: pandas read_parquet → core.features.build_features → to_parquet",
        "Dagster alone: bench/floor.py's ingest_job, the same run (assets, partitions, "
        "per-day contract checks, executor, instance; the same events, see test_bench.py) "
        "with no data work",
        "validation alone: core.ingest.apply_contract (the raw contract) and validate_frame "
        "(the features contract, less the id uniqueness the raw contract enforced) on the same "
        "day, outside Dagster",
        f"what the target leaves: the bare script + Dagster alone + validation alone = "
        f"{required:.2f} s, {required / floor.best:.2f}× the bare script before the raw day is "
        "stored (raw_data is an asset of its own; features takes it from memory in the same "
        "run)",
        f"best of {len(ours.seconds)}; all times (s): ours "
        f"{', '.join(f'{s:.2f}' for s in ours.seconds)}; baseline "
        f"{', '.join(f'{s:.2f}' for s in floor.seconds)}",
    ]
    return [Figure(f"Dagster run, 1 day × {rows:,} rows", ours.best, floor.best,
                   "bare pandas", "s", ratio_at_most(1.5)),
            Figure("Dagster alone: the same run, no data work", dagster_alone.best, floor.best,
                   "bare pandas", "s", None),
            Figure("Pandera validation alone: both contracts, outside Dagster", validation.best,
                   floor.best, "bare pandas", "s", None)]
