"""Turning frames and figures into Dagster metadata a person would rather look at than logs."""

from __future__ import annotations

import base64
import io
import math

import dagster as dg
import pandas as pd

_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool"}


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return str(value)


def table(frame: pd.DataFrame, *, max_rows: int = 50) -> dg.MetadataValue:
    """A DataFrame as a native Dagster table (sortable in the UI)."""
    frame = frame.head(max_rows)
    columns = [dg.TableColumn(str(name), _TYPES.get(dtype.kind, "string"))
               for name, dtype in frame.dtypes.items()]
    records = [dg.TableRecord({str(k): (_cell(v) if _TYPES.get(frame[k].dtype.kind) else
                                        (None if _cell(v) is None else str(v)))
                               for k, v in row.items()})
               for row in frame.to_dict("records")]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns))


def figure(fig) -> dg.MetadataValue:
    """A matplotlib figure as an inline PNG in markdown, rendered by the Dagster UI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![plot](data:image/png;base64,{encoded})")


def frame_summary(frame: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """Row count, column schema and null rates: the first things anyone asks about a day."""
    nulls = frame.isna().mean()
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": dg.TableSchema(
            [dg.TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()]),
        "null_rates": table(pd.DataFrame({"column": nulls.index.astype(str),
                                          "null_rate": nulls.to_numpy().round(4)})),
    }
