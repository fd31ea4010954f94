"""The data contract: everything that makes a dataset a dataset, in one place.

A `DatasetSpec` is all a user writes to bring their own daily CSV/Parquet files: the raw Pandera
schema, which column is the target and the time, which columns are features, whether the task is
regression, (binary) classification or multiclass, and optionally its own model (core.model).
Asset code reads only the spec, never dataset-specific names.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from types import ModuleType
from typing import Literal

import pandera.pandas as pa

from retrain_assets.core.ingest import RowPolicy
from retrain_assets.core.metrics import METRICS_BY_TASK
from retrain_assets.core.model import ModelSpec

# multiclass is a task of its own, not classification with more labels: its metric keys (and so
# the spec's thresholds) and its target encoding (labels as text, not truthy → 1) are known at
# spec load, whatever classes a window happens to hold
TaskType = Literal["regression", "classification", "multiclass"]

DEFAULT_ABSOLUTE_THRESHOLDS: dict[TaskType, dict[str, float]] = {
    # A model worse than these is never promoted, even as the very first champion.
    "regression": {"r2": 0.0},
    "classification": {"roc_auc": 0.55},
    "multiclass": {"f1_macro": 0.0},  # no fixed floor means the same for every class count
}
# The gate's metric. Multiclass gates on macro F1, not log loss: monitoring measures live
# decay from the stored predicted class, which cannot give a log loss.
PRIMARY_METRIC: dict[TaskType, str] = {
    "regression": "rmse", "classification": "roc_auc", "multiclass": "f1_macro"}

DEFAULT_MIN_LABEL_COVERAGE = 0.8


@dataclass(frozen=True)
class LabelFeed:
    """The target arrives separately from the features, keyed by the id column.

    `min_coverage`: the share of a day's scored rows that must have a label before its realized
    metric may fail the decay check (and so ask for a retrain); a day below it is reported,
    not judged, since its first labels are rarely a fair sample of it.
    `estimate_trigger`: a binary classifier (ROC AUC) may also ask for a retrain when the ROC
    AUC estimated before the labels decays (drift_report's `no_estimated_performance_decay`);
    off by default: the estimate cannot see a concept change (bench/README.md).
    """

    min_coverage: float = DEFAULT_MIN_LABEL_COVERAGE
    estimate_trigger: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.min_coverage <= 1.0:
            raise ValueError(f"LabelFeed min_coverage is {self.min_coverage!r}: set a share of "
                             "a day's rows in (0, 1], e.g. 0.8")


NOT_A_FEATURE = {  # why a column with another role must not be fed to the model
    "target": "the answer it must predict (a leak: a perfect holdout score, then useless "
              "predictions where the target is unknown)",
    "id_column": "row identifiers, which it would memorise instead of learning",
    "time_column": "raw timestamps; the derived time features (hour, day of week, weekend) "
                   "carry time, see derive_time_features",
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

    `time_zone` says what the timestamps mean. None: naive local wall-clock time, and a value
    with a UTC offset (or a time-zone-aware Parquet column) is refused, since converting it
    would shift every hour feature. An IANA name such as "America/New_York": values with
    offsets are converted to that zone's wall time, naive ones are taken as its wall time, and
    each partition is a day in that zone.

    `labels=LabelFeed()` says the target arrives days later in a label zone of its own, keyed
    by `id_column` (see `core.labels`): feature files may then leave the target out.
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
    time_zone: str | None = None
    # what raw_data does with a day in which some rows break the contract, on every run
    # (the sensor's too); a manual run may override it in its RawDataConfig
    row_policy: RowPolicy = RowPolicy()
    # the estimator to train (core.model); None: the built-in HistGradientBoosting pipeline
    model: ModelSpec | None = None
    # the target arrives later, in label files of its own (core.labels); None: in the features
    labels: LabelFeed | None = None

    def __post_init__(self) -> None:
        if self.task not in PRIMARY_METRIC:
            raise ValueError(
                f"dataset {self.name!r}: task must be one of {list(PRIMARY_METRIC)} "
                "('classification' is binary), "
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
        if self.labels and self.labels.estimate_trigger and (
                self.task != "classification" or self.primary_metric != "roc_auc"):
            raise ValueError(
                f"dataset {self.name!r}: LabelFeed(estimate_trigger=True) needs a binary "
                "classifier judged on roc_auc (the estimate before labels is of ROC AUC); "
                f"this spec is {self.task!r} on {self.primary_metric!r}. Set it to False.")
        self._check_features()
        self._check_thresholds()
        self._check_time_zone()
        self._check_model()

    def _check_features(self) -> None:
        """A feature that is the target or the id leaks the answer (or memorises rows): the
        model looks excellent on the holdout and is promoted. Caught here, before training."""
        features = (*self.numeric_features, *self.categorical_features)
        for role, column in (("target", self.target), ("id_column", self.id_column),
                             ("time_column", self.time_column)):
            if column in features:
                raise ValueError(
                    f"dataset {self.name!r}: {column!r} is the {role} and is also listed as a "
                    f"feature; the model would be fed {NOT_A_FEATURE[role]}. Remove "
                    f"{column!r} from numeric_features/categorical_features.")
        repeated = sorted(name for name, count in Counter(self.model_features).items()
                          if count > 1)
        if repeated:
            derived = [n for n in repeated if n in self.time_feature_names]
            raise ValueError(
                f"dataset {self.name!r}: feature(s) {repeated} are listed more than once"
                + (f" ({derived} are also the derived time features; rename the column or set "
                   "derive_time_features=False)" if derived else "")
                + ". List each feature once, in numeric_features or categorical_features.")

    def _check_thresholds(self) -> None:
        valid = METRICS_BY_TASK[self.task]
        unknown = sorted(set(self.absolute_thresholds) - set(valid))
        if unknown:
            raise ValueError(
                f"dataset {self.name!r}: absolute_thresholds names metric(s) {unknown} that a "
                f"{self.task} model does not report; valid keys are {list(valid)} "
                "(lower case, as compute_metrics names them).")

    def _check_time_zone(self) -> None:
        if self.time_zone is None:
            return
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            close = get_close_matches(str(self.time_zone), zoneinfo.available_timezones(), n=3)
            raise ValueError(
                f"dataset {self.name!r}: time_zone {self.time_zone!r} is not an IANA time zone "
                f"name{f' (did you mean {close}?)' if close else ''}. Use a name such as "
                "'America/New_York' or 'UTC', or None for naive local times.") from exc

    def _check_model(self) -> None:
        """Resolved and built here, so a wrong estimator stops the code location from loading
        rather than the first training run (it imports scikit-learn: only specs with a model)."""
        if self.model is None:
            return
        try:
            self.model.check(self.task)
        except ValueError as exc:
            raise ValueError(f"dataset {self.name!r}: model: {exc}") from exc

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
        return PRIMARY_METRIC[self.task]

    @property
    def thresholds(self) -> dict[str, float]:
        return {**DEFAULT_ABSOLUTE_THRESHOLDS[self.task], **self.absolute_thresholds}


def load_spec(reference: str, base: Path | None = None) -> DatasetSpec:
    """Load a spec from `package.module:ATTRIBUTE`, a built-in name such as `taxi`, or
    `file.py:ATTRIBUTE` (a path relative to `base`, e.g. a spec next to a model's YAML)."""
    builtin = {"taxi": "retrain_assets.datasets.taxi:TAXI_TRIPS",
               "churn": "retrain_assets.datasets.churn:CUSTOMER_CHURN",
               "churn_late_labels": "retrain_assets.datasets.churn:CUSTOMER_CHURN_LATE_LABELS"}
    module_name, _, attribute = builtin.get(reference, reference).partition(":")
    if not attribute:
        raise ValueError(
            f"dataset reference {reference!r} is neither a built-in ({sorted(builtin)}) nor of "
            "the form 'package.module:SPEC' or 'file.py:SPEC'."
        )
    if module_name.endswith(".py"):
        module = _module_from_file((base or Path.cwd()) / module_name, reference)
    else:
        module = importlib.import_module(module_name)
    spec = getattr(module, attribute, None)
    if spec is None:
        raise ValueError(f"dataset reference {reference!r}: {module_name} has no {attribute!r}")
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"{reference!r} is a {type(spec).__name__}, not a DatasetSpec")
    return spec


def _module_from_file(path: Path, reference: str) -> ModuleType:
    """Import a spec file once per process under a name made from its path."""
    path = path.resolve()
    if not path.is_file():
        raise ValueError(f"dataset reference {reference!r}: no file {path}")
    name = "retrain_assets_spec_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if name not in sys.modules:
        loader = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module  # before running it, as dataclasses and pandera look it up
        loader.loader.exec_module(module)
    return sys.modules[name]
