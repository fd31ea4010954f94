"""The data contract: everything that makes a dataset a dataset, in one place.

A `DatasetSpec` is all a user writes to bring their own daily CSV/Parquet files: the raw Pandera
schema, which column is the target and the time, which columns are features, and whether the task
is regression or classification. Asset code reads only the spec, never dataset-specific names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Literal

import pandera.pandas as pa

TaskType = Literal["regression", "classification"]

DEFAULT_ABSOLUTE_THRESHOLDS: dict[TaskType, dict[str, float]] = {
    # A model worse than these is never promoted, even as the very first champion.
    "regression": {"r2": 0.0},
    "classification": {"roc_auc": 0.55},
}


@dataclass(frozen=True)
class DatasetSpec:
    """A tabular dataset delivered as one file set per day.

    raw_schema validates each day as it lands; it must declare every column listed here.

    `derive_time_features=True` opts in to model inputs computed from `time_column` by
    `core.features.build_features` (the one function training and scoring share): `hour`,
    `day_of_week` and `is_weekend`. Off by default: where time of day or week carries no
    signal, a model given them learns an abrupt change as a calendar effect. Switching it on
    an existing model name changes the model's inputs; see the README.
    """

    name: str
    raw_schema: type[pa.DataFrameModel]
    time_column: str
    id_column: str
    target: str
    task: TaskType
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    derive_time_features: bool = False
    features_schema: type[pa.DataFrameModel] | None = None
    absolute_thresholds: dict[str, float] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.task not in ("regression", "classification"):
            raise ValueError(
                f"dataset {self.name!r}: task must be 'regression' or 'classification', "
                f"got {self.task!r}"
            )
        declared = set(self.raw_schema.to_schema().columns)
        needed = {self.time_column, self.id_column, self.target, *self.numeric_features,
                  *self.categorical_features}
        missing = sorted(needed - declared)
        if missing:
            raise ValueError(
                f"dataset {self.name!r}: the spec names columns its raw schema "
                f"{self.raw_schema.__name__} does not declare: {missing}. "
                "Add them to the schema or remove them from the spec."
            )

    @property
    def time_feature_names(self) -> tuple[str, ...]:
        return ("hour", "day_of_week", "is_weekend") if self.derive_time_features else ()

    @property
    def model_numeric_features(self) -> tuple[str, ...]:
        """Numeric inputs of the model: the spec's own plus the derived time features."""
        return (*self.numeric_features, *self.time_feature_names)

    @property
    def model_features(self) -> tuple[str, ...]:
        return (*self.model_numeric_features, *self.categorical_features)

    @property
    def primary_metric(self) -> str:
        return "rmse" if self.task == "regression" else "roc_auc"

    @property
    def thresholds(self) -> dict[str, float]:
        return {**DEFAULT_ABSOLUTE_THRESHOLDS[self.task], **self.absolute_thresholds}


def load_spec(reference: str) -> DatasetSpec:
    """Load a spec from `package.module:ATTRIBUTE`, or a built-in name such as `taxi`."""
    builtin = {"taxi": "retrain_assets.datasets.taxi:TAXI_TRIPS"}
    module_name, _, attribute = builtin.get(reference, reference).partition(":")
    if not attribute:
        raise ValueError(
            f"dataset reference {reference!r} is neither a built-in ({sorted(builtin)}) nor of "
            "the form 'package.module:SPEC'."
        )
    spec = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"{reference!r} is a {type(spec).__name__}, not a DatasetSpec")
    return spec
