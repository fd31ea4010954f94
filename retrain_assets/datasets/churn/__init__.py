"""Customer churn: the classification dataset (spec, Pandera contracts and simulator)."""

from retrain_assets.datasets.churn.spec import CUSTOMER_CHURN, CUSTOMER_CHURN_LATE_LABELS

__all__ = ["CUSTOMER_CHURN", "CUSTOMER_CHURN_LATE_LABELS"]
