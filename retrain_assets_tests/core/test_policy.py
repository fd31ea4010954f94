from retrain_assets.core.policy import (
    CheckResult,
    change_start,
    first_champion_due,
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
    assert retrain_request([], standing) is None


def test_the_first_champion_is_due_once_enough_days_exist():
    assert not first_champion_due(False, 13, 14)
    assert first_champion_due(False, 14, 14)
    assert not first_champion_due(True, 40, 14)
    assert not first_champion_due(False, 40, 0)
