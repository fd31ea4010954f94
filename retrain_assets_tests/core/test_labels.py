"""The label feed's contracts and how a day's labels meet its features."""

from datetime import date

import pandas as pd
import pytest

from retrain_assets.core.dataset import LabelFeed
from retrain_assets.core.features import build_features, features_schema
from retrain_assets.core.ingest import apply_contract, read_landed_file
from retrain_assets.core.labels import (
    label_schema,
    labelled_only,
    match_labels,
    raw_contract,
    with_labels,
)
from retrain_assets.datasets.churn import CUSTOMER_CHURN, CUSTOMER_CHURN_LATE_LABELS
from retrain_assets.datasets.churn.simulator import simulated_day, split_labels

DAY = "2025-01-03"


@pytest.fixture
def churn_day() -> pd.DataFrame:
    return simulated_day(date.fromisoformat(DAY), 50)


def test_feature_files_without_the_target_pass_only_with_a_label_feed(churn_day):
    snapshots, _ = split_labels(churn_day)
    fed = apply_contract({"customers.csv": snapshots}, raw_contract(CUSTOMER_CHURN_LATE_LABELS),
                         day=DAY, time_column="observed_at")
    assert fed.passed, fed.problem
    features = build_features(fed.frame, CUSTOMER_CHURN_LATE_LABELS)
    assert features["churned"].isna().all()
    features_schema(CUSTOMER_CHURN_LATE_LABELS).validate(features)

    unfed = apply_contract({"customers.csv": snapshots}, raw_contract(CUSTOMER_CHURN),
                           day=DAY, time_column="observed_at")
    assert not unfed.passed and "churned" in unfed.problem


def test_label_files_are_held_to_id_and_target(churn_day):
    _, labels = split_labels(churn_day)
    schema = label_schema(CUSTOMER_CHURN_LATE_LABELS)
    good = apply_contract({"l.csv": labels.astype({"churned": str})}, schema, day=DAY,
                          time_column=None)
    assert good.passed, good.problem
    assert good.frame["churned"].dtype == bool
    extra = apply_contract({"l.csv": labels.assign(note="x")}, schema, day=DAY,
                           time_column=None)
    assert not extra.passed and "note" in extra.problem


def test_duplicate_and_unmatched_ids_are_counted_and_never_used(churn_day):
    _, labels = split_labels(churn_day)
    first = labels["customer_id"].iloc[0]
    late = pd.concat([labels.iloc[:30], labels.iloc[:1].assign(churned=~labels["churned"].iloc[0]),
                      pd.DataFrame({"customer_id": ["C9999999"], "churned": [True]})])
    match = match_labels(DAY, late, churn_day["customer_id"], CUSTOMER_CHURN_LATE_LABELS)
    assert match.duplicate_ids == [first]
    assert match.unmatched_ids == ["C9999999"]
    assert (match.feature_rows, match.labelled_rows) == (50, 29)
    assert match.coverage == pytest.approx(29 / 50)
    assert first in match.describe() and "C9999999" in match.describe()

    features = build_features(churn_day, CUSTOMER_CHURN_LATE_LABELS).assign(churned=float("nan"))
    joined = with_labels(features, late, CUSTOMER_CHURN_LATE_LABELS)
    trained_on = labelled_only(joined, CUSTOMER_CHURN_LATE_LABELS)
    assert len(trained_on) == 29 and first not in set(trained_on["customer_id"])
    expected = churn_day.set_index("customer_id")["churned"].astype(float)
    assert (trained_on["churned"].to_numpy()
            == expected.loc[trained_on["customer_id"].to_numpy()].to_numpy()).all()


def test_min_coverage_must_be_a_share():
    with pytest.raises(ValueError, match="min_coverage"):
        LabelFeed(min_coverage=80)


@pytest.mark.parametrize("written", ["maybe", "no", ""])
def test_a_label_that_is_not_true_or_false_breaks_the_contract_as_written(written):
    """Coercion alone reads any non-empty text as true, and an empty value as false."""
    landed = read_landed_file("labels.csv", f"customer_id,churned\nC1,{written}\nC2,0\n".encode())
    report = apply_contract({"labels.csv": landed}, label_schema(CUSTOMER_CHURN_LATE_LABELS),
                            day=DAY, time_column=None)
    assert not report.passed
    assert "labels.csv line 2" in report.problem and "churned" in report.problem


def test_a_zero_one_label_column_read_as_floats_passes():
    """A 0/1 column with an empty cell is read as floats (1.0, 0.0, NaN)."""
    landed = read_landed_file("labels.csv", b"customer_id,churned\nC1,1\nC2,0\nC3,\nC4,2\n")
    assert landed["churned"].dtype == "float64"
    report = apply_contract({"labels.csv": landed}, label_schema(CUSTOMER_CHURN_LATE_LABELS),
                            day=DAY, time_column=None)
    assert "labels.csv line 5" in report.problem and "(e.g. 2.0)" in report.problem
    assert "line 2 " not in report.problem and "line 3 " not in report.problem  # 1.0 and 0.0


def test_labels_of_a_day_without_stored_features_say_to_ingest_it_first(churn_day):
    _, labels = split_labels(churn_day)
    match = match_labels(DAY, labels, None, CUSTOMER_CHURN_LATE_LABELS)
    assert len(match.unmatched_ids) == 50 and match.coverage == 0.0
    assert f"no features of {DAY} are stored" in match.describe()
