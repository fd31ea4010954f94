"""Turning frames and figures into Dagster metadata a person would rather look at than logs."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping

import dagster as dg
import pandas as pd

_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool"}
DIGITS = 4  # decimals shown in tables: enough to compare metrics, short enough to read


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return str(value)


def table(frame: pd.DataFrame, *, max_rows: int = 50) -> dg.MetadataValue:
    """A DataFrame as a native Dagster table (sortable in the UI), floats rounded to `DIGITS`
    decimals."""
    frame = frame.head(max_rows)
    frame = frame.assign(**{name: frame[name].round(DIGITS)
                            for name, dtype in frame.dtypes.items() if dtype.kind == "f"})
    columns = [dg.TableColumn(str(name), _TYPES.get(dtype.kind, "string"))
               for name, dtype in frame.dtypes.items()]
    records = [dg.TableRecord({str(k): (_cell(v) if _TYPES.get(frame[k].dtype.kind) else
                                        (None if _cell(v) is None else str(v)))
                               for k, v in row.items()})
               for row in frame.to_dict("records")]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns))


def figure(fig) -> dg.MetadataValue:
    """A matplotlib figure as a PNG in markdown (the UI opens it from "[Show Markdown]")."""
    return image(png_data_uri(fig))


def image(uri: str, alt: str = "plot") -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{alt}]({uri})")


def png_data_uri(fig) -> str:
    """A figure as a `data:` URI, for Markdown the UI renders in place (a description)."""
    return data_uri(png_bytes(fig))


def png_bytes(fig) -> bytes:
    """A figure as PNG, drawn once for both the Dagster UI and an MLflow artifact."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"


def frame_summary(frame: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """Row count, column schema and null rates: the first things anyone asks about a day."""
    nulls = frame.isna().mean()
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": column_schema(frame),
        "null_rates": table(pd.DataFrame({"column": nulls.index.astype(str),
                                          "null_rate": nulls.to_numpy()})),
    }


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema([dg.TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()])


def stored_day_summary(frame: pd.DataFrame | None) -> dict[str, dg.MetadataValue]:
    """`frame_summary` of a stored day; a rejected day (None) reads as 0 rows, not stored."""
    if frame is None:
        return {"dagster/row_count": dg.MetadataValue.int(0),
                "stored": dg.MetadataValue.bool(False)}
    return {**frame_summary(frame), "stored": dg.MetadataValue.bool(True)}


def add_partition_metadata(context: dg.AssetExecutionContext,
                           by_partition: Mapping[str, Mapping[str, dg.MetadataValue]]) -> None:
    """Each partition's own metadata on its own materialization event.

    A multi-day (backfill) run records one event per day with the Output's metadata on all of
    them; metadata added per partition key lands on that day's event only, so a backfilled day
    shows its own row count and schema rather than the run's.
    """
    for partition, metadata in by_partition.items():
        context.add_asset_metadata(dict(metadata), partition_key=partition)


def feature_drift_table(features: pd.DataFrame) -> pd.DataFrame:
    """`DriftSummary.to_frame()` narrowed for the UI: each statistic next to the limit the day
    was held to, KS (numeric) and Jensen–Shannon (categorical) in one pair of columns."""
    numeric = features["ks_statistic"].notna()
    return pd.DataFrame({
        "feature": features["feature"],
        "drifted": features["drifted"],
        "psi": features["psi"],
        "psi_limit": features["psi_threshold"],
        "test": numeric.map({True: "KS", False: "JS"}),
        "distance": features["ks_statistic"].where(numeric, features["js_distance"]),
        "distance_limit": features["ks_threshold"].where(numeric, features["js_threshold"]),
        "null_fraction": features["null_fraction"],
    })
