"""Customer churn: whether a subscriber cancels within a month (see `simulator`)."""

from dataclasses import replace

from retrain_assets.core.dataset import DatasetSpec, LabelFeed
from retrain_assets.datasets.churn.schema import ChurnFeatures, ChurnRaw

CUSTOMER_CHURN = DatasetSpec(
    name="customer_churn",
    description="Simulated subscribers observed daily; predicts whether one cancels within a "
                "month (positive class: churned).",
    raw_schema=ChurnRaw,
    features_schema=ChurnFeatures,
    time_column="observed_at",
    id_column="customer_id",
    target="churned",
    task="classification",
    numeric_features=("tenure_months", "monthly_spend", "support_tickets", "usage_hours"),
    categorical_features=("plan", "contract", "region"),
    derive_time_features=False,  # when in the day a snapshot is taken says nothing about churn
    absolute_thresholds={"roc_auc": 0.65},
)

CUSTOMER_CHURN_LATE_LABELS = replace(
    CUSTOMER_CHURN, name="customer_churn_late_labels", labels=LabelFeed(),
    description="Simulated subscribers observed daily, whose churn labels land in a label zone "
                "of their own days later (simulator.LABEL_DELAY_DAYS); predicts whether one "
                "cancels within a month.")
"""Churn as it arrives in practice: snapshots first, whether they churned a week later."""
