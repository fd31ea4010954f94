"""How frames hold text: Arrow-backed strings (`string[pyarrow]`), not Python objects.

A column of Python string objects is slow at every step of ingest: Parquet decodes it into a
million Python objects, and Pandera checks a `str` column value by value in Python. Arrow strings
are decoded, compared and checked in vectorised code, which made one day of 1,000,000 trips
ingest several times faster (bench/, item 1). Everything that reads a frame goes through here.
"""

from __future__ import annotations

import io

import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.parquet as pq

TEXT = pd.StringDtype("pyarrow")  # the string dtype Pandera checks natively; missing is pd.NA
_AS_TEXT = {arrow.string(): TEXT, arrow.large_string(): TEXT}.get


def read_parquet(data: bytes) -> pd.DataFrame:
    """A Parquet file as a frame whose text columns are `TEXT` (Arrow buffers kept, no
    Python objects made); other columns as pandas would read them."""
    return pq.read_table(io.BytesIO(data)).to_pandas(types_mapper=_AS_TEXT)


def with_arrow_text(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema with its `str` columns declared as `TEXT`: the same rule (the value is text),
    checked by dtype instead of value by value when the frame holds Arrow strings. A coercing
    column now coerces to `TEXT`; object text still passes a non-coercing one (checked value by
    value, as before), and a column of numbers still fails it."""
    text = [name for name, column in schema.columns.items() if str(column.dtype) == "str"]
    if not text:
        return schema
    return schema.update_columns({name: {"dtype": TEXT} for name in text})
