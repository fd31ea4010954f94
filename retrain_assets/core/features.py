"""Feature engineering: the one function that training and batch scoring both call.

Keeping it a pure function of the raw frame and the spec is what rules out training/serving
skew: there is no second implementation to drift apart from this one.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from retrain_assets.core.dataset import DatasetSpec
from retrain_assets.core.frames import TEXT, as_timestamps


def build_features(raw: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Model inputs plus id, time and target columns, in the order of `features_schema(spec)`."""
    timestamps = as_timestamps(raw[spec.time_column])
    columns: dict[str, pd.Series] = {
        spec.id_column: raw[spec.id_column].astype(TEXT),
        spec.time_column: timestamps,
    }
    for name in spec.numeric_features:
        columns[name] = raw[name].astype("float64")
    if spec.derive_time_features:
        columns["hour"] = timestamps.dt.hour.astype("float64")
        columns["day_of_week"] = timestamps.dt.dayofweek.astype("float64")
        columns["is_weekend"] = (timestamps.dt.dayofweek >= 5).astype("float64")
    for name in spec.categorical_features:
        columns[name] = raw[name].astype(TEXT)
    columns[spec.target] = (target_values(raw[spec.target], spec) if spec.target in raw
                            else unlabelled(raw.index, spec))
    return pd.DataFrame(columns, index=raw.index).reset_index(drop=True)


def target_values(target: pd.Series, spec: DatasetSpec) -> pd.Series:
    """Regression targets as float; classification labels as 0/1 float (positive = truthy);
    multiclass labels as text."""
    if spec.task == "multiclass":
        return target.astype(TEXT)
    if spec.task == "classification":
        return target.astype(bool).astype("float64")
    return target.astype("float64")


def unlabelled(index: pd.Index, spec: DatasetSpec) -> pd.Series:
    """A target column with every value missing (labels that have not arrived yet)."""
    return pd.Series(None, index=index, dtype=TEXT if spec.task == "multiclass" else "float64")


def features_schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    """The features contract: the spec's own model, or one derived from the spec. With a
    label feed the target may be missing: its labels arrive later."""
    if spec.features_schema is not None:
        schema = spec.features_schema.to_schema()
        return schema.update_column(spec.target, nullable=True) if spec.labels else schema
    columns = {
        spec.id_column: pa.Column(str, unique=True),
        spec.time_column: pa.Column("datetime64[ns]"),
        **{name: pa.Column(float, nullable=True) for name in spec.model_numeric_features},
        **{name: pa.Column(str) for name in spec.categorical_features},
        spec.target: pa.Column(str if spec.task == "multiclass" else float,
                               nullable=spec.labels is not None),
    }
    return pa.DataFrameSchema(columns, strict=True, name=f"{spec.name}_features")


def features_contract_after_raw(spec: DatasetSpec) -> pa.DataFrameSchema:
    """The features contract for features built from a day that passed the raw contract: the
    same rules, except the id's uniqueness when the raw contract already enforced it. Built row
    for row with the ids copied, the features cannot have a duplicate the raw day did not, and
    checking it again costs a hash of every id (~0.1 s per 1M rows)."""
    schema = features_schema(spec)
    raw_id = spec.raw_schema.to_schema().columns.get(spec.id_column)
    if raw_id is not None and raw_id.unique and schema.columns[spec.id_column].unique:
        return schema.update_column(spec.id_column, unique=False)
    return schema
