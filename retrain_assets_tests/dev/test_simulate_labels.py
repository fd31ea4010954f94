"""The churn simulator's label feed: snapshots land at once, their labels a week later."""

from datetime import date

import pandas as pd
import pytest

from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.datasets.churn.simulator import LABEL_DELAY_DAYS
from retrain_assets.dev.simulate import SimulationPlan, land_days


def test_each_landed_day_brings_the_labels_of_the_day_a_week_before(tmp_path):
    landing, labels = LocalObjectStore(tmp_path / "landing"), LocalObjectStore(tmp_path / "labels")
    plan = SimulationPlan(start=date(2025, 1, 1), days=LABEL_DELAY_DAYS + 2, mean_rows=50,
                          dataset="churn", file_format="csv")
    land_days(landing, plan, labels)

    snapshots = pd.read_csv(tmp_path / "landing" / "2025-01-01" / "customers.csv")
    assert "churned" not in snapshots.columns
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == ["2025-01-01",
                                                                         "2025-01-02"]
    late = pd.read_csv(tmp_path / "labels" / "2025-01-01" / "churn_labels.csv")
    assert list(late.columns) == ["customer_id", "churned"]
    assert set(late["customer_id"]) == set(snapshots["customer_id"])


def test_a_simulator_without_a_label_feed_says_so(tmp_path):
    plan = SimulationPlan(start=date(2025, 1, 1), days=1, mean_rows=20, dataset="taxi")
    with pytest.raises(ValueError, match="no label feed"):
        land_days(LocalObjectStore(tmp_path / "landing"), plan, LocalObjectStore(tmp_path))
