"""The shadow verdict: promoted only after N labelled live wins, retired on losses or expiry."""

import pandas as pd
import pytest

from retrain_assets.core.shadow import (
    PROMOTE,
    RETIRE,
    WAIT,
    DayComparison,
    compare_day,
    shadow_verdict,
)

WIN, LOSS, TIE = (0.9, 1.0), (1.1, 1.0), (1.0, 1.0)  # (challenger, champion) rmse


def _days(*outcomes) -> list[DayComparison]:
    return [DayComparison(day=f"2025-02-{i + 1:02d}", rows=100, challenger=c, champion=b)
            for i, (c, b) in enumerate(outcomes)]


def _verdict(days, *, required_wins=3, max_days=10, elapsed_days=None):
    return shadow_verdict(days, metric="rmse", required_wins=required_wins, max_days=max_days,
                          elapsed_days=len(days) if elapsed_days is None else elapsed_days)


def test_not_promoted_with_one_win_short_and_promoted_at_the_required_wins():
    short = _verdict(_days(WIN, LOSS, WIN, TIE))
    assert (short.decision, short.wins, short.losses) == (WAIT, 2, 1)
    assert "2 wins, 1 losses on 4 labelled live days; 3 wins needed" in short.reason

    promoted = _verdict(_days(WIN, LOSS, WIN, TIE, WIN))
    assert (promoted.decision, promoted.wins, promoted.labelled_days) == (PROMOTE, 3, 5)
    assert promoted.reason == ("beat the champion on 3 of 5 labelled live days (rmse; 3 "
                               "needed), through 2025-02-05")


def test_wins_count_in_date_order_whatever_order_the_days_arrive_in():
    days = _days(LOSS, LOSS, WIN, WIN, LOSS, WIN)
    assert _verdict(list(reversed(days))) == _verdict(days)
    assert _verdict(days).decision == RETIRE  # the champion reached 3 first, on day 5


def test_retired_when_the_champion_wins_as_often_as_the_challenger_had_to():
    verdict = _verdict(_days(LOSS, WIN, LOSS, LOSS))
    assert verdict.decision == RETIRE
    assert verdict.reason == ("the champion beat it on 3 of 4 labelled live days (rmse), "
                              "through 2025-02-04; it won 1")


def test_retired_when_the_shadow_period_runs_out_and_not_before():
    days = _days(WIN, TIE)
    assert _verdict(days, max_days=10, elapsed_days=9).decision == WAIT
    expired = _verdict(days, max_days=10, elapsed_days=10)
    assert expired.decision == RETIRE
    assert expired.reason.startswith("shadow period over: 10 live days (max 10), "
                                     "1 wins of 3 needed")


def test_higher_is_better_metrics_and_unmeasurable_days_are_ties():
    day = DayComparison("2025-02-01", 50, champion=0.7, challenger=0.8)
    assert day.outcome("roc_auc") == "win" and day.outcome("rmse") == "loss"
    assert DayComparison("2025-02-01", 50, champion=float("nan"),
                         challenger=0.8).outcome("roc_auc") == "tie"


def test_a_day_is_compared_on_its_labelled_rows_the_challenger_scored():
    stored = pd.DataFrame({
        "row_id": list("abcde"), "actual": [1.0, 2.0, None, 4.0, 5.0],
        "prediction": [1.0, 2.0, 3.0, 5.0, 9.0], "model_version": "1",
        "challenger_prediction": [1.0, 2.0, 9.0, 4.0, 9.0],
        "challenger_version": ["2", "2", "2", "2", "3"]})
    compared = compare_day("2025-02-01", stored, task="regression", metric="mae",
                           challenger_version="2")
    # rows a, b, d: c has no label yet, e was scored by another challenger
    assert (compared.rows, compared.champion, compared.challenger) == (3, pytest.approx(1 / 3),
                                                                       0.0)
    assert compare_day("2025-02-01", stored.drop(columns=["challenger_version"]),
                       task="regression", metric="mae", challenger_version="2") is None
    with pytest.raises(ValueError, match="'log_loss', which stored multiclass predictions"):
        compare_day("2025-02-01", stored.assign(predicted_class="x", actual="x",
                                                challenger_predicted_class="x"),
                    task="multiclass", metric="log_loss", challenger_version="2")


def test_a_multiclass_day_is_compared_on_the_predicted_classes():
    stored = pd.DataFrame({
        "row_id": list("abcd"), "actual": ["x", "y", "z", "x"],
        "prediction": 0.9, "predicted_class": ["x", "x", "x", "x"], "model_version": "1",
        "challenger_prediction": 0.8, "challenger_predicted_class": ["x", "y", "z", "y"],
        "challenger_version": "2"})
    compared = compare_day("2025-02-01", stored, task="multiclass", metric="accuracy",
                           challenger_version="2")
    assert (compared.champion, compared.challenger) == (0.5, 0.75)
    assert compared.outcome("accuracy") == "win"
