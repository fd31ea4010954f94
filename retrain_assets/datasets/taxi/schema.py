"""The taxi data contract as Pandera models: raw trips and engineered features.

One module so a reviewer sees every rule the data must follow. Checks carry error messages that
read well in the Dagster UI, where failing rows are shown next to the check that caught them.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from retrain_assets.datasets.taxi.simulator import PAYMENT_TYPES, ZONES

MAX_FARE = 1_000.0
MAX_DISTANCE_KM = 300.0


class TaxiTripsRaw(pa.DataFrameModel):
    """One row per trip, as it lands from the meters."""

    trip_id: Series[str] = pa.Field(unique=True, description="Unique trip identifier")
    pickup_at: Series[pa.DateTime] = pa.Field(description="Pickup timestamp (naive, local time)")
    pickup_zone: Series[str] = pa.Field(isin=ZONES)
    dropoff_zone: Series[str] = pa.Field(isin=ZONES)
    passenger_count: Series[int] = pa.Field(ge=1, le=8)
    trip_distance_km: Series[float] = pa.Field(gt=0, le=MAX_DISTANCE_KM)
    payment_type: Series[str] = pa.Field(isin=PAYMENT_TYPES)
    fare_amount: Series[float] = pa.Field(ge=0, le=MAX_FARE, description="Target: total fare")

    class Config:
        strict = True  # an unexpected column means the feed changed: stop and look
        coerce = True  # CSV gives strings and ints where Parquet gives floats; parse, then check


class TaxiFeatures(pa.DataFrameModel):
    """Model inputs built by `core.features.build_features` (plus id, time and target)."""

    trip_id: Series[str] = pa.Field(unique=True)
    pickup_at: Series[pa.DateTime]
    trip_distance_km: Series[float] = pa.Field(gt=0)
    passenger_count: Series[float] = pa.Field(ge=1)
    hour: Series[float] = pa.Field(ge=0, le=23)
    day_of_week: Series[float] = pa.Field(ge=0, le=6)
    is_weekend: Series[float] = pa.Field(isin=[0.0, 1.0])
    pickup_zone: Series[str]
    dropoff_zone: Series[str]
    payment_type: Series[str]
    fare_amount: Series[float] = pa.Field(ge=0)

    class Config:
        strict = True
