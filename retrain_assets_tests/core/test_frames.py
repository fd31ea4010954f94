"""Text held as Arrow strings: same contract, checked by dtype instead of value by value."""

import io

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa
import pytest
from pandera.engines import pandas_engine

from retrain_assets.core.features import build_features
from retrain_assets.core.frames import TEXT, as_timestamps, read_parquet, vectorised
from retrain_assets.core.ingest import read_landed_file
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import simulate_day


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_parquet_text_is_read_as_arrow_strings_and_the_rest_as_pandas_reads_it():
    frame = pd.DataFrame({"zone": ["a", None, "c"], "fare": [1.0, 2.0, 3.0], "n": [1, 2, 3]})
    read = read_parquet(_parquet(frame))
    assert read.dtypes.to_dict() == {"zone": TEXT, "fare": "float64", "n": "int64"}
    assert read["zone"].isna().tolist() == [False, True, False]
    assert read_landed_file("day.parquet", _parquet(frame))["zone"].dtype == TEXT


def test_str_columns_are_declared_as_arrow_text_and_nothing_else_changes():
    schema = pa.DataFrameSchema({"id": pa.Column(str, unique=True),
                                 "x": pa.Column(int, pa.Check.ge(0))}, strict=True)
    arrow = vectorised(schema)
    assert arrow.columns["id"].dtype.type == TEXT
    assert arrow.columns["id"].unique and arrow.columns["x"].checks == schema.columns["x"].checks
    assert arrow.strict and str(arrow.columns["x"].dtype) == "int64"


def test_the_text_rule_is_unchanged_object_text_passes_and_numbers_fail():
    schema = vectorised(pa.DataFrameSchema({"id": pa.Column(str)}))
    schema.validate(pd.DataFrame({"id": ["a", "b"]}))  # object text still passes
    with pytest.raises(pa_errors.SchemaError, match="string"):
        schema.validate(pd.DataFrame({"id": [1, 2]}))
    coercing = vectorised(pa.DataFrameSchema({"id": pa.Column(str)}, coerce=True))
    assert coercing.validate(pd.DataFrame({"id": [1, 2]}))["id"].tolist() == ["1", "2"]


def test_an_arrow_text_column_passes_the_dtype_check_as_one_answer_not_one_per_value():
    """Pandera answers per value and then formats an empty failure table, per column per day."""
    text = vectorised(pa.DataFrameSchema({"id": pa.Column(str)})).columns["id"].dtype
    arrow_column = pd.Series(["a", "b", None], dtype=TEXT)
    assert text.check(pandas_engine.Engine.dtype(arrow_column.dtype), arrow_column) is True
    objects = pd.Series(["a", 1], dtype=object)  # other dtypes keep pandera's per-value answer
    assert list(text.check(pandas_engine.Engine.dtype(objects.dtype), objects)) == [True, False]


def test_features_hold_text_as_arrow_strings():
    features = build_features(simulate_day(pd.Timestamp("2025-03-08").date(), 50), TAXI_TRIPS)
    text = [TAXI_TRIPS.id_column, *TAXI_TRIPS.categorical_features]
    assert all(features[column].dtype == TEXT for column in text)


def test_timestamps_are_parsed_without_the_cache_and_keep_their_settings():
    schema = vectorised(pa.DataFrameSchema(
        {"at": pa.Column(pandas_engine.DateTime(to_datetime_kwargs={"format": "%Y-%m-%d"}))},
        coerce=True))
    assert schema.columns["at"].dtype.to_datetime_kwargs == {"format": "%Y-%m-%d",
                                                             "cache": False}
    parsed = schema.validate(pd.DataFrame({"at": ["2025-01-02"]}))["at"]
    assert parsed.tolist() == [pd.Timestamp("2025-01-02")]


def test_as_timestamps_parses_text_and_passes_timestamps_through():
    stamps = pd.Series(pd.to_datetime(["2025-01-02 10:00"]))
    assert as_timestamps(stamps) is stamps
    assert as_timestamps(pd.Series(["2025-01-02 10:00"])).equals(stamps)
