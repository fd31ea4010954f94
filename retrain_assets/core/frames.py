"""How frames hold text: Arrow-backed strings (`string[pyarrow]`), not Python objects.

A column of Python string objects is slow at every step of ingest: Parquet decodes it into a
million Python objects, and Pandera checks a `str` column value by value in Python. Arrow strings
are decoded, compared and checked in vectorised code, which made one day of 1,000,000 trips
ingest several times faster (bench/, item 1). Everything that reads a frame goes through here.
"""

from __future__ import annotations

import dataclasses
import io

import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.parquet as pq
from pandera.engines import pandas_engine

TEXT = pd.StringDtype("pyarrow")  # the string dtype Pandera checks natively; missing is pd.NA
AS_TEXT = {arrow.string(): TEXT, arrow.large_string(): TEXT}.get


@dataclasses.dataclass(frozen=True)
class ArrowText(pandas_engine.STRING):
    """Pandera's `string[pyarrow]` dtype, answering its dtype check with one bool.

    Pandera 0.35 answers a matching string column with one `True` per value, and then builds
    and formats an empty failure-case table for it: ~3 ms per text column per frame, 8 text
    columns per day (a tenth of a year's backfill). The answer is the same, just not per value.
    """

    storage: str | None = "pyarrow"

    def check(self, pandera_dtype, data_container=None):
        try:
            if pandas_engine.Engine.dtype(pandera_dtype).type == self.type:
                return True
        except TypeError:
            pass
        return super().check(pandera_dtype, data_container)


TEXT_CONTRACT = ArrowText()


def read_parquet(data: bytes) -> pd.DataFrame:
    """A Parquet file as a frame whose text columns are `TEXT` (Arrow buffers kept, no
    Python objects made); other columns as pandas would read them."""
    return pq.read_table(io.BytesIO(data)).to_pandas(types_mapper=AS_TEXT)


_VECTORISED: dict[int, tuple[pa.DataFrameSchema, pa.DataFrameSchema]] = {}


def vectorised(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The same contract, checked without per-value Python work (made once per schema object,
    so pass long-lived schemas such as a spec's, not one built per day: pandera deep-copies a
    schema to change it, which would cost more per day than the checks save):

    - `str` columns are declared as `TEXT` (`TEXT_CONTRACT`): the same rule (the value is
      text), checked by dtype when the frame holds Arrow strings. A coercing column now coerces
      to `TEXT`; object text still passes a non-coercing one (value by value, as before);
      numbers still fail it.
    - timestamp columns are parsed with `to_datetime(cache=False)`: pandas' cache first boxes
      thousands of values to decide whether to cache, ~20 ms per call, on every day.
    """
    known = _VECTORISED.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    changes = {}
    for name, column in schema.columns.items():
        if str(column.dtype) == "str":
            changes[name] = {"dtype": TEXT_CONTRACT}
        elif isinstance(column.dtype, pandas_engine.DateTime):
            changes[name] = {"dtype": dataclasses.replace(column.dtype, to_datetime_kwargs={
                **column.dtype.to_datetime_kwargs, "cache": False})}
    result = schema.update_columns(changes) if changes else schema
    _VECTORISED[id(schema)] = (schema, result)  # holds the schema, so its id stays its own
    return result


def as_timestamps(values: pd.Series) -> pd.Series:
    """`pd.to_datetime`, skipped when the values already are timestamps (see `vectorised`)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_datetime(values, cache=False)
