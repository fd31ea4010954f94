import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retrain_assets.core.drift import (
    OTHER,
    DatasetReference,
    DriftThresholds,
    build_reference,
    categorical_drift,
    compare_to_reference,
    feature_thresholds,
    numeric_drift,
    performance_decay,
    psi,
)

N = 20_000


def _normal(seed: int, loc: float = 0.0, scale: float = 1.0, size: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, scale, size)


def _draw(seed: int, distribution: str, *params: float) -> np.ndarray:
    return getattr(np.random.default_rng(seed), distribution)(*params, size=N)


def _numeric_ref(values):
    return build_reference(pd.DataFrame({"x": values}), ["x"], []).numeric["x"]


def _categorical_ref(values):
    return build_reference(pd.DataFrame({"c": values}), [], ["c"]).categorical["c"]


def _categories(shares: dict[str, float], size: int = 10_000) -> pd.Series:
    counts = [round(share * size) for share in shares.values()]
    return pd.Series(np.repeat(list(shares), counts), name="c")


def test_psi_is_zero_for_identical_fractions_and_matches_the_formula():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(expected)


def test_psi_clips_empty_bins_at_eps_instead_of_diverging():
    value = psi([0.5, 0.5], [1.0, 0.0], eps=1e-4)
    expected = 0.5 * np.log(1 / 0.5) + (1e-4 - 0.5) * np.log(1e-4 / 0.5)
    assert value == pytest.approx(expected)
    assert np.isfinite(value)


def test_psi_rejects_mismatched_bins():
    with pytest.raises(ValueError, match="matching bins"):
        psi([0.5, 0.5], [1.0])


def test_numeric_reference_has_quantile_bins_and_101_quantiles():
    ref = _numeric_ref(_normal(0))
    assert len(ref.bin_edges) == 11
    assert ref.bin_fractions == pytest.approx([0.1] * 10, abs=1e-3)
    assert len(ref.quantiles) == 101
    assert ref.quantiles[0] == ref.min and ref.quantiles[-1] == ref.max
    assert ref.quantiles[50] == pytest.approx(0.0, abs=0.05)
    assert ref.mean == pytest.approx(0.0, abs=0.05) and ref.std == pytest.approx(1.0, abs=0.05)
    assert ref.count == N and ref.null_fraction == 0.0


def test_discrete_values_get_deduplicated_edges_and_a_bin_each():
    binary = _numeric_ref(np.repeat([0.0, 1.0], [7_000, 3_000]))
    assert binary.bin_fractions == pytest.approx([0.7, 0.3])

    counts = np.random.default_rng(1).poisson(2, N)
    poisson = _numeric_ref(counts)
    assert poisson.bin_edges == sorted(poisson.bin_edges)
    assert poisson.bin_fractions[:3] == pytest.approx([np.mean(counts == k) for k in range(3)])


def test_same_distribution_is_not_drifted():
    drift = numeric_drift(_numeric_ref(_normal(0)), pd.Series(_normal(1), name="x"))
    assert drift.feature == "x" and drift.kind == "numeric"
    assert drift.psi < 0.1
    assert drift.ks_statistic < 0.05
    assert drift.ks_pvalue > 0.01
    assert drift.js_distance is None
    assert not drift.drifted


def test_shifted_mean_is_drifted():
    drift = numeric_drift(_numeric_ref(_normal(0)), pd.Series(_normal(1, loc=1.0)))
    assert drift.psi > 0.2
    assert drift.ks_statistic > 0.3
    assert drift.ks_pvalue < 1e-10
    assert drift.drifted


def test_scaled_variance_is_drifted():
    drift = numeric_drift(_numeric_ref(_normal(0)), pd.Series(_normal(1, scale=2.0)))
    assert drift.psi > 0.2
    assert drift.ks_statistic > 0.15
    assert drift.drifted


@pytest.mark.parametrize(
    ("reference", "new"),
    [
        (("normal", 0, 1), ("normal", 0.3, 1)),
        (("normal", 0, 1), ("normal", 0, 1.5)),
        (("exponential", 1), ("lognormal", 0, 1)),
        (("uniform", 0, 1), ("uniform", 0.1, 1.1)),
        (("poisson", 2), ("poisson", 2.3)),
        (("binomial", 1, 0.3), ("binomial", 1, 0.5)),
    ],
    ids=["normal-shift", "normal-scale", "exp-vs-lognormal", "uniform", "poisson", "binary"],
)
def test_approximate_ks_is_close_to_ks_2samp_on_raw_samples(reference, new):
    reference, new = _draw(0, *reference), _draw(1, *new)
    drift = numeric_drift(_numeric_ref(reference), pd.Series(new))
    assert drift.ks_statistic == pytest.approx(stats.ks_2samp(reference, new).statistic, abs=0.02)


def test_approximate_ks_counts_each_value_of_a_tiny_new_sample():
    reference, new = _normal(0), _normal(1)[:7]
    drift = numeric_drift(_numeric_ref(reference), pd.Series(new))
    assert drift.ks_statistic == pytest.approx(stats.ks_2samp(reference, new).statistic, abs=0.02)


def test_values_outside_the_training_range_land_in_the_outer_bins():
    ref = _numeric_ref(_normal(0))
    above = numeric_drift(ref, pd.Series(np.full(1_000, ref.max + 10.0)))
    below = numeric_drift(ref, pd.Series(np.full(1_000, ref.min - 10.0)))
    all_in_last_bin = psi(ref.bin_fractions, [0.0] * 9 + [1.0])
    all_in_first_bin = psi(ref.bin_fractions, [1.0] + [0.0] * 9)
    assert above.psi == pytest.approx(all_in_last_bin) and above.psi > 5
    assert below.psi == pytest.approx(all_in_first_bin) and below.psi > 5
    assert above.ks_statistic == 1.0 and below.ks_statistic == 1.0
    assert above.drifted and below.drifted


def test_null_fraction_is_reported_and_nulls_do_not_distort_the_distribution():
    train = pd.Series(_normal(0))
    train[:2_000] = np.nan
    new = pd.Series(_normal(1))
    new[::4] = np.nan
    ref = _numeric_ref(train)
    drift = numeric_drift(ref, new)
    assert ref.null_fraction == pytest.approx(0.1) and ref.count == N - 2_000
    assert drift.null_fraction == pytest.approx(0.25)
    assert drift.reference_null_fraction == pytest.approx(0.1)
    assert drift.psi < 0.1 and not drift.drifted
    n, m = N - 2_000, N - N // 4  # the KS p-value counts non-null values only
    effective_n = round(n * m / (n + m))
    assert drift.ks_pvalue == pytest.approx(stats.kstwo.sf(drift.ks_statistic, effective_n))


@pytest.mark.parametrize(
    "values",
    [pd.Series([np.nan] * 100, dtype=float), pd.Series([], dtype=float)],
    ids=["all-null", "empty"],
)
def test_all_null_or_empty_numeric_column_is_drift_not_a_crash(values):
    ref = _numeric_ref(_normal(0))
    drift = numeric_drift(ref, values)
    assert drift.psi == pytest.approx(psi(ref.bin_fractions, [0.0] * 10)) and drift.psi > 5
    assert drift.ks_statistic is None and drift.ks_pvalue is None
    assert drift.drifted


def test_all_null_or_empty_categorical_column_is_drift_not_a_crash():
    ref = _categorical_ref(_categories({"a": 0.5, "b": 0.5}))
    drift = categorical_drift(ref, pd.Series([None] * 10, dtype=object))
    assert drift.null_fraction == 1.0
    assert drift.psi > 5 and drift.js_distance is None and drift.drifted


def test_training_column_without_values_cannot_be_a_reference():
    frame = pd.DataFrame({"x": [np.nan] * 5, "c": [None] * 5})
    with pytest.raises(ValueError, match="'x'"):
        build_reference(frame, ["x"], [])
    with pytest.raises(ValueError, match="'c'"):
        build_reference(frame, [], ["c"])


def test_categorical_same_fractions_is_not_drifted():
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    drift = categorical_drift(_categorical_ref(_categories(shares)), _categories(shares, 3_000))
    assert drift.kind == "categorical"
    assert drift.psi < 0.01 and drift.js_distance < 0.01
    assert drift.ks_statistic is None and drift.ks_pvalue is None
    assert not drift.drifted


def test_categorical_share_moving_from_10_to_60_percent_is_drifted():
    ref = _categorical_ref(_categories({"a": 0.6, "b": 0.3, "c": 0.1}))
    drift = categorical_drift(ref, _categories({"a": 0.1, "b": 0.3, "c": 0.6}))
    assert drift.psi > 0.2
    assert 0.1 < drift.js_distance <= 1.0
    assert drift.drifted


def test_unseen_categories_count_toward_drift():
    ref = _categorical_ref(_categories({"a": 0.5, "b": 0.5}))
    drift = categorical_drift(ref, _categories({"a": 0.35, "b": 0.35, "new": 0.3}))
    assert drift.psi > 0.2 and drift.js_distance > 0.1 and drift.drifted


def test_categorical_nulls_and_category_dtype():
    ref = _categorical_ref(pd.Series(["a", "b", None, "a"], dtype="category"))
    assert ref.fractions == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert ref.null_fraction == 0.25 and ref.count == 3
    drift = categorical_drift(ref, pd.Series(["a", "b", None, np.nan, "a"]))
    assert drift.null_fraction == pytest.approx(2 / 5)
    assert drift.psi < 1e-9 and drift.js_distance < 1e-9


def test_rare_categories_beyond_the_top_50_are_lumped_into_other():
    values = pd.Series([f"c{i:02d}" for i in range(80) for _ in range(100 - i)])
    ref = _categorical_ref(values)
    assert len(ref.fractions) == 51
    assert set(ref.fractions) == {f"c{i:02d}" for i in range(50)} | {OTHER}
    assert ref.fractions[OTHER] == pytest.approx((values >= "c50").mean())
    assert sum(ref.fractions.values()) == pytest.approx(1.0)
    assert not categorical_drift(ref, values).drifted


@pytest.fixture
def training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(10)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, N),
            "income": rng.lognormal(10, 1, N),
            "segment": rng.choice(["retail", "business", "public"], N, p=[0.6, 0.3, 0.1]),
        }
    )


@pytest.fixture
def reference(training_frame) -> DatasetReference:
    label = pd.Series(np.random.default_rng(11).binomial(1, 0.3, N))
    return build_reference(
        training_frame,
        ["age", "income"],
        ["segment"],
        label=label,
        predictions=pd.Series(np.full(N, 0.31)),
    )


def test_reference_round_trips_through_json_with_the_same_drift_results(reference):
    restored = DatasetReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    assert restored == reference
    assert restored.label_mean == pytest.approx(0.3, abs=0.01)
    assert restored.prediction_mean == pytest.approx(0.31)

    new = pd.DataFrame(
        {
            "age": _normal(12, loc=45, scale=10, size=5_000),
            "income": np.random.default_rng(13).lognormal(10, 1, 5_000),
            "segment": np.random.default_rng(14).choice(["retail", "business", "other"], 5_000),
        }
    )
    before = compare_to_reference(reference, new)
    assert before.to_dict() == compare_to_reference(restored, new).to_dict()
    json.dumps(before.to_dict())


def test_compare_to_reference_flags_only_the_drifted_features(reference, training_frame):
    new = training_frame.sample(frac=0.5, random_state=0).reset_index(drop=True)
    new["age"] += 10
    summary = compare_to_reference(reference, new)
    assert summary.drifted_features == ["age"]
    assert summary.max_psi == max(f.psi for f in summary.features) > 0.2
    assert summary.row_count == len(new)

    frame = summary.to_frame()
    assert list(frame.columns) == [
        "feature",
        "kind",
        "psi",
        "ks_statistic",
        "ks_pvalue",
        "js_distance",
        "null_fraction",
        "reference_null_fraction",
        "drifted",
        "psi_threshold",
        "ks_threshold",
        "js_threshold",
    ]
    assert frame["feature"].iloc[0] == "age"
    assert frame["psi"].is_monotonic_decreasing
    assert set(frame["feature"]) == {"age", "income", "segment"}


def test_thresholds_decide_what_counts_as_drift(reference, training_frame):
    new = training_frame.assign(age=training_frame["age"] + 10)
    lenient = DriftThresholds(psi=100.0, ks_statistic=1.0, js_distance=1.0)
    assert compare_to_reference(reference, new, thresholds=lenient).drifted_features == []
    ks_only = DriftThresholds(psi=100.0)
    assert compare_to_reference(reference, new, thresholds=ks_only).drifted_features == ["age"]


def test_prediction_far_from_the_label_mean_is_flagged(reference, training_frame):
    far = compare_to_reference(reference, training_frame, predictions=pd.Series([0.6] * 100))
    assert far.prediction_mean == pytest.approx(0.6)
    assert far.reference_label_mean == reference.label_mean
    label_mean = reference.label_mean
    assert far.prediction_shift == pytest.approx(abs(0.6 - label_mean) / label_mean)
    assert far.prediction_drifted

    close = compare_to_reference(
        reference, training_frame, predictions=pd.Series([reference.label_mean * 1.05] * 100)
    )
    assert close.prediction_shift == pytest.approx(0.05)
    assert not close.prediction_drifted


def test_a_small_days_prediction_shift_is_held_to_the_training_days_own_movement():
    """Issue 13: churn at ~300 rows a day, no drift: a mean prediction of 0.088 against a
    training label mean of 0.121 (27 % > the fixed 25 %) asked for a false retrain; the mean
    label of the champion's own 300-row training days moves about that much."""
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(28), 300)
    frame = pd.DataFrame({"usage": rng.normal(10, 2, days.size)})
    label = pd.Series(rng.binomial(1, 0.12, days.size))
    calibrated = build_reference(frame, ["usage"], [], label=label, days=pd.Series(days))
    fixed = build_reference(frame, ["usage"], [], label=label)
    assert calibrated.label_shift.day_rows == 300
    assert 0.15 < calibrated.label_shift.shift < 0.6  # ~2σ of a 300-row mean of p = 0.12
    restored = DatasetReference.from_dict(json.loads(json.dumps(calibrated.to_dict())))
    assert restored == calibrated

    day = frame.iloc[:300]
    normal = pd.Series(np.full(300, calibrated.label_mean * 0.73))  # 27 % below
    assert compare_to_reference(fixed, day, predictions=normal).prediction_drifted
    held = compare_to_reference(calibrated, day, predictions=normal)
    assert not held.prediction_drifted and held.prediction_shift_threshold > 0.27
    collapsed = pd.Series(np.full(300, calibrated.label_mean * 0.2))  # 80 % below
    assert compare_to_reference(calibrated, day, predictions=collapsed).prediction_drifted
    # a day bigger than the training days is held to their movement, not less (as features)
    big = compare_to_reference(calibrated, frame, predictions=pd.Series(
        np.full(len(frame), calibrated.label_mean * 0.73)))
    assert big.prediction_shift_threshold == pytest.approx(
        max(0.25, 1.5 * calibrated.label_shift.shift))
    smaller = compare_to_reference(calibrated, day.iloc[:75], predictions=normal.iloc[:75])
    assert smaller.prediction_shift_threshold == pytest.approx(
        2 * held.prediction_shift_threshold)  # a quarter of the rows: twice the movement


def test_a_reference_stored_before_the_label_shift_was_calibrated_still_loads(reference):
    stored = {k: v for k, v in reference.to_dict().items() if k != "label_shift"}
    assert DatasetReference.from_dict(stored).label_shift is None


def test_without_predictions_there_is_no_prediction_drift(reference, training_frame):
    summary = compare_to_reference(reference, training_frame)
    assert summary.prediction_mean is None and summary.prediction_shift is None
    assert not summary.prediction_drifted


def test_missing_feature_column_names_the_column(reference, training_frame):
    with pytest.raises(ValueError, match="income"):
        compare_to_reference(reference, training_frame.drop(columns=["income"]))


def test_performance_decay_is_relative_to_the_holdout_metric_and_its_direction():
    worse_rmse = performance_decay("rmse", live=6.5, holdout=5.0)
    assert worse_rmse.decay == pytest.approx(0.3)
    assert worse_rmse.decayed
    assert not performance_decay("rmse", live=5.5, holdout=5.0).decayed
    assert not performance_decay("rmse", live=3.0, holdout=5.0).decayed  # better is no decay
    lower_auc = performance_decay("roc_auc", live=0.6, holdout=0.9)
    assert lower_auc.decayed and lower_auc.decay == pytest.approx(1 / 3)
    assert not performance_decay("rmse", live=6.5, holdout=5.0,
                                 thresholds=DriftThresholds(metric_decay=0.5)).decayed


def test_restricted_reference_compares_only_the_named_features():
    frame = pd.DataFrame({"x": _normal(1, size=500), "weekday": np.repeat([0.0, 6.0], 250),
                          "c": ["a", "b"] * 250})
    ref = build_reference(frame, ["x", "weekday"], ["c"]).restricted_to(["x", "c"])
    one_day = frame.assign(weekday=3.0)  # a single day has one weekday: not drift
    summary = compare_to_reference(ref, one_day)
    assert [f.feature for f in summary.features] == ["x", "c"]
    assert summary.drifted_features == []


# --- thresholds that know the sample size ------------------------------------------------------


def taxi_days(first: int, count: int, rows: int, *, drifted: bool = False) -> list[pd.DataFrame]:
    from datetime import date, timedelta

    from retrain_assets.core.features import build_features
    from retrain_assets.datasets.taxi import TAXI_TRIPS
    from retrain_assets.datasets.taxi.simulator import conditions_for, simulate_day

    days = [date(2025, 1, 1) + timedelta(days=first + i) for i in range(count)]
    change = days[0] if drifted else None
    return [build_features(simulate_day(day, rows, conditions=conditions_for(
        day, covariate_drift_from=change, concept_drift_from=change)), TAXI_TRIPS)
        for day in days]


TAXI_NUMERIC = ["trip_distance_km", "passenger_count", "hour"]
TAXI_CATEGORICAL = ["pickup_zone", "dropoff_zone", "payment_type"]


def taxi_reference(days: list[pd.DataFrame], *, calibrated: bool = True) -> DatasetReference:
    train = pd.concat(days, ignore_index=True)
    return build_reference(train, TAXI_NUMERIC, TAXI_CATEGORICAL,
                           days=train["pickup_at"].dt.floor("D") if calibrated else None)


@pytest.mark.parametrize(("rows", "history", "normal_days"), [(300, 28, 40), (20_000, 10, 8)])
def test_normal_days_pass_and_an_abrupt_drift_fails_its_first_day_at_any_size(
        rows, history, normal_days):
    """Issue 13: at ~300 rows a day the fixed thresholds failed normal days (zone JS noise)."""
    reference = taxi_reference(taxi_days(0, history, rows))
    false_alarms = [(day, compare_to_reference(reference, frame).drifted_features)
                    for day, frame in enumerate(taxi_days(history, normal_days, rows))]
    assert [alarm for alarm in false_alarms if alarm[1]] == []
    (first_drifted_day,) = taxi_days(history + normal_days, 1, rows, drifted=True)
    drifted = compare_to_reference(reference, first_drifted_day)
    assert "trip_distance_km" in drifted.drifted_features


def test_the_fixed_thresholds_alone_fail_normal_small_days():
    """What the calibration is for: the same small normal days against an uncalibrated
    reference (as stored before calibration existed) are flagged by the fixed thresholds."""
    history = taxi_days(0, 28, 300)
    old = DatasetReference.from_dict(json.loads(json.dumps(
        taxi_reference(history, calibrated=False).to_dict())))
    flagged = [compare_to_reference(old, frame).drifted_features
               for frame in taxi_days(28, 10, 300)]
    assert sum(bool(f) for f in flagged) >= 3


def test_calibrated_thresholds_grow_for_small_days_and_fall_back_to_the_fixed_ones():
    reference = taxi_reference(taxi_days(0, 7, 1_000))
    restored = DatasetReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    assert restored == reference
    zones = restored.categorical["pickup_zone"]
    assert zones.calibration.chunks == 7 and zones.calibration.chunk_rows == 1_000
    fixed = DriftThresholds()
    small, large = feature_thresholds(zones, 100, fixed), feature_thresholds(zones, 50_000, fixed)
    assert small.js_distance > large.js_distance >= fixed.js_distance
    assert large.psi == fixed.psi
    legacy = {k: v for k, v in reference.to_dict()["categorical"]["pickup_zone"].items()
              if k != "calibration"}
    uncalibrated = DatasetReference.from_dict({**reference.to_dict(), "numeric": {},
                                               "categorical": {"pickup_zone": legacy}})
    assert feature_thresholds(uncalibrated.categorical["pickup_zone"], 100, fixed) == \
        feature_thresholds(uncalibrated.categorical["pickup_zone"], 50_000, fixed)
    assert feature_thresholds(uncalibrated.categorical["pickup_zone"], 100, fixed).js_distance \
        == fixed.js_distance


def test_a_feature_that_moves_between_training_days_gets_head_room():
    """Day-to-day movement the training data shows (a weekly pattern, say) is normal."""
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(14), 5_000)
    weekend = (days % 7) >= 5
    frame = pd.DataFrame({"x": rng.normal(np.where(weekend, 0.8, 0.0), 1.0)})
    reference = build_reference(frame, ["x"], [], days=pd.Series(days))
    weekend_day = pd.Series(rng.normal(0.8, 1.0, 5_000), name="x")
    assert not numeric_drift(reference.numeric["x"], weekend_day).drifted
    assert numeric_drift(_numeric_ref(frame["x"]), weekend_day).drifted


def test_performance_decay_allows_for_chance_on_small_days():
    """A 30% worse RMSE on a 300-row day is within chance when the metric spreads that much
    between samples; the same on a 20,000-row day is decay. Without a measured spread the
    fixed threshold applies (runs blessed before it was measured)."""
    small = performance_decay("rmse", live=6.5, holdout=5.0, noise=1.5, rows=300,
                              holdout_rows=400)
    assert not small.decayed and small.threshold == pytest.approx(5 * 1.5 * (1 / 300 + 1 / 400)
                                                                  ** 0.5)
    large = performance_decay("rmse", live=6.5, holdout=5.0, noise=1.5, rows=20_000,
                              holdout_rows=20_000)
    assert large.decayed and large.threshold == DriftThresholds.metric_decay
    assert performance_decay("rmse", live=6.5, holdout=5.0).decayed


def test_classifier_decay_to_chance_fails_however_small_the_day():
    """Churn at 300 rows a day: holdout AUC 0.74 with a bootstrap noise of 1.02 per row allows
    a decay of about 0.39 by chance alone, more than the 0.32 a random model (AUC 0.5) would
    show. The allowance is capped at half the holdout's edge over chance."""
    collapsed = performance_decay("roc_auc", live=0.55, holdout=0.74, noise=1.02, rows=300,
                                  holdout_rows=392)
    assert collapsed.decayed
    assert collapsed.threshold == pytest.approx(0.5 * (0.74 - 0.5) / 0.74)
    assert not performance_decay("roc_auc", live=0.70, holdout=0.74, noise=1.02, rows=300,
                                 holdout_rows=392).decayed
