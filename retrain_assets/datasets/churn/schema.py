"""The churn data contract as Pandera models: subscriber snapshots and engineered features."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from retrain_assets.datasets.churn.simulator import (
    CONTRACTS,
    MAX_MONTHLY_SPEND,
    MAX_TENURE_MONTHS,
    PLANS,
    REGIONS,
)


class ChurnRaw(pa.DataFrameModel):
    """One row per subscriber observed that day."""

    customer_id: Series[str] = pa.Field(unique=True, description="Subscriber id; once a day")
    observed_at: Series[pa.DateTime] = pa.Field(description="Snapshot time (naive, local)")
    plan: Series[str] = pa.Field(isin=PLANS)
    contract: Series[str] = pa.Field(isin=CONTRACTS)
    region: Series[str] = pa.Field(isin=REGIONS)
    tenure_months: Series[int] = pa.Field(ge=0, le=MAX_TENURE_MONTHS)
    monthly_spend: Series[float] = pa.Field(ge=0, le=MAX_MONTHLY_SPEND)
    support_tickets: Series[int] = pa.Field(ge=0, description="Tickets in the last 30 days")
    usage_hours: Series[float] = pa.Field(ge=0, le=24 * 31, description="Last 30 days")
    churned: Series[bool] = pa.Field(description="Target: cancelled within the next month")

    class Config:
        strict = True  # an unexpected column means the feed changed: stop and look
        coerce = True  # CSV gives strings and ints where Parquet gives floats; parse, then check


class ChurnFeatures(pa.DataFrameModel):
    """Model inputs built by `core.features.build_features` (plus id, time and target)."""

    customer_id: Series[str] = pa.Field(unique=True)
    observed_at: Series[pa.DateTime]
    tenure_months: Series[float] = pa.Field(ge=0)
    monthly_spend: Series[float] = pa.Field(ge=0)
    support_tickets: Series[float] = pa.Field(ge=0)
    usage_hours: Series[float] = pa.Field(ge=0)
    plan: Series[str]
    contract: Series[str]
    region: Series[str]
    churned: Series[float] = pa.Field(isin=[0.0, 1.0])

    class Config:
        strict = True
