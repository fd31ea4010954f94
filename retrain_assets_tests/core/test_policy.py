from datetime import date, timedelta

from retrain_assets.core.evaluation import WindowSettings, split_window
from retrain_assets.core.policy import (
    ESTIMATED_DECAY,
    ChampionWindow,
    CheckResult,
    DriftAsk,
    OpenChange,
    change_follow_up,
    change_start,
    drift_held_back,
    first_champion_due,
    open_change,
    retrain_request,
    standing_failures,
)

DRIFT, DECAY = "no_feature_drift", "no_performance_decay"


def result(day: str, execution_id: int, *, passed: bool = False, check: str = DRIFT,
           version: str | None = "1", score: float | None = 0.5) -> CheckResult:
    return CheckResult(check=check, partition=day, passed=passed, execution_id=execution_id,
                       score=score, model_version=version)


def test_a_new_failure_stands_and_a_seen_one_is_not_taken_twice():
    failure = result("2025-03-01", 10)
    assert standing_failures([], [failure], seen=set(), champion="1") == [failure]
    assert standing_failures([], [failure], seen={10}, champion="1") == []


def test_a_pending_failure_stands_until_something_answers_it():
    pending = result("2025-03-01", 10)
    assert standing_failures([pending], [], seen={10}, champion="1") == [pending]
    # the same day checked again and passing
    again = result("2025-03-01", 11, passed=True)
    assert standing_failures([pending], [again], seen={10}, champion="1") == []
    # a later day passing: the world is back to what the model knows
    later = result("2025-03-02", 12, passed=True)
    assert standing_failures([pending], [later], seen={10}, champion="1") == []
    # an earlier day's pass (an older backfill re-run) answers nothing
    earlier = result("2025-02-27", 13, passed=True)
    assert standing_failures([pending], [earlier], seen={10}, champion="1") == [pending]
    # another check passing answers nothing either
    decay_ok = result("2025-03-02", 14, passed=True, check=DECAY)
    assert standing_failures([pending], [decay_ok], seen={10}, champion="1") == [pending]


def test_a_failure_of_a_model_that_no_longer_serves_is_answered():
    pending = result("2025-03-01", 10, version="1")
    assert standing_failures([pending], [], seen={10}, champion="2") == []
    unknown = result("2025-03-01", 10, version=None)
    assert standing_failures([unknown], [], seen={10}, champion="2") == [unknown]


def test_the_change_starts_at_the_first_of_the_consecutive_failing_days():
    recent = [result("2025-02-26", 1), result("2025-02-27", 2, passed=True),
              result("2025-02-28", 3), result("2025-03-01", 4, check=DECAY),
              result("2025-03-02", 5)]
    assert change_start(recent, "2025-03-02") == "2025-02-28"
    # the newest evaluation of a day counts: 02-28 re-checked and passing ends the run there
    assert change_start([*recent, result("2025-02-28", 6, passed=True)],
                        "2025-03-02") == "2025-03-01"


def test_one_request_answers_every_standing_failure_and_says_which():
    standing = [result("2025-03-01", 1, check=DECAY, score=0.9),
                result("2025-03-02", 2, score=0.3), result("2025-03-02", 3, check=DECAY)]
    request = retrain_request(standing, standing)
    assert request.trigger == "drift" and request.change_day == "2025-03-01"
    tags = request.tags()
    assert tags["retrain/check"] == "drift_report:no_feature_drift"
    assert tags["retrain/partition"] == "2025-03-02"
    assert tags["retrain/checks"] == ("no_feature_drift: 2025-03-02; "
                                      "no_performance_decay: 2025-03-01, 2025-03-02")
    assert tags["retrain/change_day"] == "2025-03-01" and tags["retrain/failed_checks"] == "3"
    decay_only = retrain_request(standing[:1], standing[:1])
    assert decay_only.trigger == "performance_decay"
    estimated = result("2025-03-03", 4, check=ESTIMATED_DECAY, score=0.95)
    assert retrain_request([*standing[:1], estimated], standing).trigger == "estimated_decay"
    assert retrain_request([], standing) is None


def test_the_first_champion_is_due_once_enough_days_exist():
    assert not first_champion_due(False, 13, 14)
    assert first_champion_due(False, 14, 14)
    assert not first_champion_due(True, 40, 14)
    assert not first_champion_due(False, 40, 0)


CHANGE = "2025-03-08"


def days(last: str, count: int = 40, rows: int = 300) -> dict[str, int]:
    """`count` days of `rows` rows ending on `last`."""
    end = date.fromisoformat(last)
    return {(end - timedelta(days=i)).isoformat(): rows for i in range(count)}


def partway(version: str = "3") -> ChampionWindow:
    """Taxi's abrupt concept change at ~300 rows a day: blessed on the day after the change,
    judged on rows after it, trained mostly on rows before it."""
    window = split_window(days("2025-03-09"), change_day=CHANGE)
    assert not window.trains_from_change and window.holdout_days[-1] == "2025-03-09"
    return ChampionWindow.of(version, window)


def test_a_champion_blessed_partway_into_a_change_asks_for_a_retrain_from_it():
    """Issue 13: the champion blessed on the change's second day was judged after the change,
    so its checks passed while it served the old tariff, and nothing asked again."""
    change = OpenChange(CHANGE, asked_through="2025-03-09", asked_rows=600)
    waiting = change_follow_up(change, partway(), days("2025-03-10"), WindowSettings())
    assert not waiting.due and waiting.change == change
    assert "900 rows since it are not yet enough" in waiting.reason
    due = change_follow_up(change, partway(), days("2025-03-12"), WindowSettings())
    assert due.due and due.change == change
    assert due.tags() == {"retrain/change_day": CHANGE, "retrain/partition": "2025-03-12",
                          "retrain/champion": "3", "retrain/reason": due.reason}
    # the retrain it asks for trains from the change
    assert split_window(days("2025-03-12"), change_day=CHANGE).trains_from_change


def test_a_follow_up_is_asked_at_most_once_per_new_day_and_again_once_the_rows_doubled():
    asked = change_follow_up(OpenChange(CHANGE, "2025-03-09", 600), partway(),
                             days("2025-03-12"), WindowSettings()).asked()
    assert asked == OpenChange(CHANGE, "2025-03-12", asked_rows=1_500)
    same_day = change_follow_up(asked, partway(), days("2025-03-12"), WindowSettings())
    assert not same_day.due and same_day.change == asked
    # its candidate was not blessed: the partway champion still serves; asked again once the
    # rows since the change doubled (3,000 on 03-17), not every day
    next_day = change_follow_up(asked, partway(), days("2025-03-13"), WindowSettings())
    assert not next_day.due and next_day.change == asked
    assert "the next waits for twice as many (1800 so far)" in next_day.reason
    assert not change_follow_up(asked, partway(), days("2025-03-16"), WindowSettings()).due
    assert change_follow_up(asked, partway(), days("2025-03-17"), WindowSettings()).due
    later = ChampionWindow("4", "2025-03-12", trained_from="2025-03-10")
    closed = change_follow_up(asked, later, days("2025-03-13"), WindowSettings())
    assert closed.change is None and not closed.due
    assert "closed: champion version 4 trained from a later one, from 2025-03-10" in \
        closed.reason


def test_a_champion_trained_from_the_change_is_refreshed_as_its_rows_double():
    """Issue 13: churn's price war at ~2,000 rows a day was answered by a champion fitted on
    the change's first 1,691 rows, which then served for good: 1.2× daily retraining's live
    1 − AUC once daily's window held the new world alone."""
    trained = ChampionWindow("4", "2025-03-12", trained_from=CHANGE)
    asked = OpenChange(CHANGE, "2025-03-12", asked_rows=1_500)
    waiting = change_follow_up(asked, trained, days("2025-03-16"), WindowSettings())
    assert not waiting.due and waiting.change == asked
    assert "trained from it on the rows there were then" in waiting.reason
    assert "the next waits for twice as many (2700 so far)" in waiting.reason
    due = change_follow_up(asked, trained, days("2025-03-17"), WindowSettings())
    assert due.due and due.asked() == OpenChange(CHANGE, "2025-03-17", asked_rows=3_000)
    assert split_window(days("2025-03-17"), change_day=CHANGE).trains_from_change
    # until the window lies after the change: at most log2(window rows / first rows) refreshes
    gone = change_follow_up(due.asked(), trained, days("2025-04-05"), WindowSettings())
    assert gone.change is None and "older than the 28-day window" in gone.reason


def test_a_champion_judged_before_the_change_is_left_to_its_own_checks():
    """The old champion kept (the candidate was not blessed) still has its pre-change decay
    baseline: its failures ask by themselves, its passes say the change went away."""
    before = ChampionWindow("2", "2025-03-07")
    kept = change_follow_up(OpenChange(CHANGE, "2025-03-08"), before, days("2025-03-20"),
                            WindowSettings())
    assert not kept.due and kept.change == OpenChange(CHANGE, "2025-03-08")
    unknown = change_follow_up(OpenChange(CHANGE, "2025-03-08"), None, days("2025-03-20"),
                               WindowSettings())
    assert not unknown.due and unknown.change == OpenChange(CHANGE, "2025-03-08")


def test_a_change_older_than_the_window_closes():
    change = OpenChange(CHANGE, "2025-03-20")
    assert change_follow_up(change, partway(), days("2025-04-04"), WindowSettings()).change
    gone = change_follow_up(change, partway(), days("2025-04-05"), WindowSettings())
    assert gone.change is None and not gone.due


def test_a_newer_change_replaces_the_open_one():
    assert open_change(None, CHANGE, "2025-03-09", 600) == OpenChange(CHANGE, "2025-03-09", 600)
    current = OpenChange(CHANGE, "2025-03-09", 600)
    assert open_change(current, "2025-03-15", "2025-03-15", 300) == OpenChange(
        "2025-03-15", "2025-03-15", 300)
    assert open_change(current, "2025-03-01", "2025-03-10", 900) == OpenChange(
        CHANGE, "2025-03-10", 900)
    followed = OpenChange(CHANGE, "2025-03-12", asked_rows=1_500)  # the same change asks again
    assert open_change(followed, CHANGE, "2025-03-13", 1_800) == OpenChange(
        CHANGE, "2025-03-13", 1_800)
    assert open_change(followed, "2025-03-14", "2025-03-14", 300) == OpenChange(
        "2025-03-14", "2025-03-14", 300)
    # a cursor written before retrains for failed checks recorded their rows
    assert OpenChange.from_dict({"day": CHANGE, "asked_through": "2025-03-12",
                                 "followed_rows": 1_500}) == followed
    assert change_follow_up(None, partway(), days("2025-03-12"), WindowSettings()).change is None


def drift_request(*days_failing: str, check: str = DRIFT, version: str = "1"):
    recent = [result(day, i, check=check, version=version)
              for i, day in enumerate(days_failing)]
    return retrain_request(recent, recent)


def test_persistent_drift_the_champion_holds_up_on_asks_again_only_once_the_rows_doubled():
    """Issue 13: inputs moved, the rule did not; each day's drift failure asked for a retrain
    whose candidate was no better than the champion (churn's usage drop: 30 runs in 30 days)."""
    first = drift_request("2025-03-08")
    assert drift_held_back(first, None, "1", 2_000) is None
    asked = DriftAsk.after(first, None, "1", 2_000)
    assert asked == DriftAsk("1", "2025-03-08", 2_000)

    next_day = drift_request("2025-03-08", "2025-03-09")
    assert next_day.change_day == "2025-03-08"
    held = drift_held_back(next_day, asked, "1", 3_999)
    assert held and "held back" in held and "asks at 4,000 rows (3,999 so far)" in held
    assert drift_held_back(next_day, asked, "1", 4_000) is None
    # labels a week late: the first ask trained on no labelled row since the change, and
    # "twice none" asked again every day until the change's labels came in (churn: 13 runs)
    unlabelled = DriftAsk("1", "2025-03-08", 0)
    assert "asks at 1 rows (0 so far)" in drift_held_back(next_day, unlabelled, "1", 0)
    assert drift_held_back(next_day, unlabelled, "1", 2_000) is None
    assert DriftAsk.after(next_day, asked, "1", 4_000) == DriftAsk("1", "2025-03-08", 4_000)


def test_decay_a_new_champion_or_a_new_change_is_not_held_back():
    asked = DriftAsk("1", "2025-03-08", 2_000)
    decay = drift_request("2025-03-08", "2025-03-09", check=DECAY)
    assert drift_held_back(decay, asked, "1", 2_500) is None
    assert DriftAsk.after(decay, asked, "1", 2_500) == asked  # decay asks are not remembered
    drift = drift_request("2025-03-08", "2025-03-09")
    assert drift_held_back(drift, asked, "2", 2_500) is None  # the candidate was blessed
    new_change = drift_request("2025-03-11", "2025-03-12")
    assert drift_held_back(new_change, asked, "1", 2_500) is None
    assert DriftAsk.from_dict(asked.to_dict()) == asked
    assert DriftAsk.after(drift, None, None, 2_500) is None  # no champion: nothing measured
