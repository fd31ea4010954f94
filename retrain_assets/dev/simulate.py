"""Writing simulated days of a built-in dataset into a landing zone (the demo's data source)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from retrain_assets.adapters.storage import ObjectStore
from retrain_assets.core.simulation import daily_row_count
from retrain_assets.datasets.churn import simulator as churn
from retrain_assets.datasets.taxi import simulator as taxi

SIMULATORS = {"taxi": taxi, "churn": churn}  # built-in dataset name -> its simulator module


@dataclass(frozen=True)
class SimulationPlan:
    start: date
    days: int
    mean_rows: int = 2_000
    seed: int = 7
    covariate_drift_from: date | None = None
    concept_drift_from: date | None = None
    file_format: str = "parquet"
    dataset: str = "taxi"  # a key of SIMULATORS

    def dates(self) -> Iterator[date]:
        return (self.start + timedelta(days=i) for i in range(self.days))


def encode_frame(frame: pd.DataFrame, file_format: str) -> bytes:
    """A frame as the bytes of a landed file: `csv` or `parquet`."""
    buffer = io.BytesIO()
    if file_format == "csv":
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def land_day(store: ObjectStore, day: date, plan: SimulationPlan,
             labels: ObjectStore | None = None) -> str:
    """Simulate one day and write it as `<day>/<file name>.<fmt>`; returns the key written.

    With `labels` (the label zone of a label-fed dataset) the day lands without its target,
    and the labels of the day `LABEL_DELAY_DAYS` before it land in `labels` under that earlier
    day, as a feed whose labels come a week late delivers them.
    """
    simulator = SIMULATORS[plan.dataset]
    frame = _simulated_day(simulator, day, plan)
    if labels is not None:
        if not hasattr(simulator, "split_labels"):
            fed = [name for name, module in SIMULATORS.items() if hasattr(module, "split_labels")]
            raise ValueError(f"the {plan.dataset} simulator has no label feed: simulate late "
                             f"labels for {fed}, or leave the label zone out")
        frame, _ = simulator.split_labels(frame)
        labelled = day - timedelta(days=simulator.LABEL_DELAY_DAYS)
        if labelled >= plan.start:
            _, late = simulator.split_labels(_simulated_day(simulator, labelled, plan))
            labels.write_bytes(f"{labelled.isoformat()}/{simulator.LABELS_FILE_NAME}."
                               f"{plan.file_format}", encode_frame(late, plan.file_format))
    key = f"{day.isoformat()}/{simulator.FILE_NAME}.{plan.file_format}"
    store.write_bytes(key, encode_frame(frame, plan.file_format))
    return key


def _simulated_day(simulator, day: date, plan: SimulationPlan) -> pd.DataFrame:
    return simulator.simulated_day(day, daily_row_count(day, plan.mean_rows, seed=plan.seed),
                                   seed=plan.seed,
                                   covariate_drift_from=plan.covariate_drift_from,
                                   concept_drift_from=plan.concept_drift_from)


def land_days(store: ObjectStore, plan: SimulationPlan,
              labels: ObjectStore | None = None) -> list[str]:
    return [land_day(store, day, plan, labels) for day in plan.dates()]
