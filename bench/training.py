"""5. Training scale: candidate_model on millions of rows vs the bare scikit-learn fit."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from bench.harness import (
    Figure,
    Run,
    benchmark,
    failure_summary,
    in_child,
    ratio_at_most,
    value_below,
)
from bench.workload import NAMES, SPEC, days, open_definitions, stored

WINDOW_DAYS, HOLDOUT_DAYS = 28, 7  # TrainingConfig's defaults: 28 training days, 7 holdout


def store_features(folder: Path, day_keys: list[str], rows: int) -> None:
    """Features partitions as the features asset stores them in `folder` (only candidate_model
    is timed)."""
    from retrain_assets.core.features import build_features
    from retrain_assets.datasets.taxi.simulator import simulate_day

    folder.mkdir(parents=True, exist_ok=True)
    for day in day_keys:
        frame = build_features(simulate_day(date.fromisoformat(day), rows), SPEC)
        frame.to_parquet(folder / f"{day}.parquet", index=False)


def create_tracking_store(home: Path) -> float:
    """Setup, untimed: a user's MLflow store exists before training (creating one runs its
    schema migrations, seconds that only the very first training would pay)."""
    open_definitions(home).resources[NAMES.of("mlflow")].registry().client.search_experiments()
    return 0.0


def dagster_training(home: Path) -> float:
    """candidate_model materialized in-process: read the window, fit, log and register in
    MLflow (signature, input example, drift reference) on a temporary tracking store."""
    defs = open_definitions(home)
    job = defs.resolve_job_def(NAMES.training_job).get_subset(
        asset_selection={NAMES.candidate_model})
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError(f"candidate_model failed: {failure_summary(result)}")
    return seconds


def bare_fit(features: Path, train_days: list[str]) -> float:
    """The floor: read the same training days and fit the same Pipeline on the same rows."""
    from retrain_assets.core.training import Hyperparameters, build_pipeline, model_inputs

    started = time.perf_counter()
    train = pd.concat([pd.read_parquet(features / f"{day}.parquet")
                       for day in train_days], ignore_index=True)
    build_pipeline(SPEC, Hyperparameters()).fit(model_inputs(train, SPEC), train[SPEC.target])
    return time.perf_counter() - started


@benchmark(5, "training", "candidate_model on a large training window")
def training(run: Run) -> list[Figure]:
    train_rows = run.sized(full=5_000_000, quick=40_000, smoke=8_000)
    per_day = -(-train_rows // WINDOW_DAYS)
    home = run.folder("home")
    all_days = days(WINDOW_DAYS + HOLDOUT_DAYS)
    store_features(stored(home, "features"), all_days, per_day)
    in_child(create_tracking_store, home, log=run.log)
    ours = run.measure(dagster_training, home)
    floor = run.measure(bare_fit, stored(home, "features"), all_days[:WINDOW_DAYS])
    run.sizes.append(f"{WINDOW_DAYS} training days × {per_day:,} rows = "
                     f"{WINDOW_DAYS * per_day:,} rows (+ {HOLDOUT_DAYS} holdout days)")
    run.notes += [
        "ours: candidate_model alone, in-process (execute_in_process) on a temporary instance "
        "and an existing MLflow sqlite store; includes importing MLflow and scikit-learn, "
        "loading the partitions, the fit, the drift reference and MLflow logging + "
        "registration of the skops model",
        "baseline: pandas read + concat of the same days and core.training.build_pipeline().fit "
        "(same Pipeline, same hyperparameters; importing scikit-learn included)",
        "peak memory: the peak RSS of the process doing the work (getrusage of the child)",
        f"best of {len(ours.seconds)}; all times (s): ours "
        f"{', '.join(f'{s:.1f}' for s in ours.seconds)}; bare "
        f"{', '.join(f'{s:.1f}' for s in floor.seconds)}",
    ]
    return [
        Figure(f"candidate_model time, {WINDOW_DAYS * per_day:,} rows", ours.best, floor.best,
               "bare Pipeline.fit", "s", ratio_at_most(1.2)),
        Figure("candidate_model peak memory", ours.peak_gib, floor.peak_gib,
               "bare Pipeline.fit", "GiB", value_below(4, "GiB")),
    ]
