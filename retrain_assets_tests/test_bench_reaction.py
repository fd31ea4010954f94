"""Where the reaction time goes: the phase breakdown of bench/reaction.py on synthetic timelines
(the benchmark itself runs the daemon; see test_bench.py)."""

from __future__ import annotations

import dagster as dg
import pytest

from bench.reaction import RunTimes, phases, reaction_phases, run_times

LANDED = 1_000.0
LANDING = RunTimes(created=1_032.0, launched=1_034.0, process=1_040.0, started=1_050.0,
                   steps=[("raw_data", 1_050.5, 1_051.0), ("features", 1_051.0, 1_052.0),
                          ("predictions", 1_052.0, 1_058.0), ("drift_report", 1_058.0, 1_059.0)])
TRAINING = RunTimes(created=1_092.0, launched=1_095.0, process=1_101.0, started=1_111.0,
                    steps=[("candidate_model", 1_111.5, 1_121.5),
                           ("evaluation_report", 1_121.5, 1_124.5),
                           ("production_model", 1_124.5, 1_125.0)])


def test_reaction_phases_follow_the_chain_and_add_up_to_the_reaction_time():
    result = reaction_phases(LANDED, 1_030.0, LANDING, 1_090.0, TRAINING, alias_seen=1_125.2)

    assert [(p.name, round(p.seconds, 3), p.kind) for p in result] == [
        ("landing_zone_sensor interval (land → tick)", 30.0, "waiting"),
        ("landing tick → run created (sensor evaluation)", 2.0, "platform"),
        ("landing run queued (until the run queue daemon launches it)", 2.0, "waiting"),
        ("landing run worker process start (spawn, import dagster, open the instance)", 6.0,
         "platform"),
        ("landing run worker loads the code location (imports retrain_assets.definitions)",
         10.0, "platform"),
        ("landing run set-up before its first step", 0.5, "platform"),
        ("landing step raw_data", 0.5, "work"),
        ("landing step features", 1.0, "work"),
        ("landing step predictions", 6.0, "work"),
        ("landing step drift_report", 1.0, "work"),
        ("drift_retrain_sensor interval (drift_report done → tick)", 31.0, "waiting"),
        ("retrain tick → run created (sensor evaluation)", 2.0, "platform"),
        ("training run queued (until the run queue daemon launches it)", 3.0, "waiting"),
        ("training run worker process start (spawn, import dagster, open the instance)", 6.0,
         "platform"),
        ("training run worker loads the code location (imports retrain_assets.definitions)",
         10.0, "platform"),
        ("training run set-up before its first step", 0.5, "platform"),
        ("training step candidate_model", 10.0, "work"),
        ("training step evaluation_report", 3.0, "work"),
        ("training step production_model", 0.5, "work"),
        ("champion alias seen by the poll", 0.2, "platform"),
    ]
    assert sum(p.seconds for p in result) == pytest.approx(125.2)


def test_the_step_in_which_the_alias_is_seen_ends_there():
    result = reaction_phases(LANDED, 1_030.0, LANDING, 1_090.0, TRAINING, alias_seen=1_124.7)

    assert [(p.name, round(p.seconds, 3)) for p in result[-2:]] == [
        ("training step production_model", 0.2), ("champion alias seen by the poll", 0.0)]
    assert sum(p.seconds for p in result) == pytest.approx(124.7)


def test_a_tick_before_the_step_that_enabled_it_finished_is_a_zero_length_phase():
    # the check failed inside drift_report; the sensor ticked before the step's success event
    result = reaction_phases(LANDED, 1_030.0, LANDING, 1_058.8, TRAINING, alias_seen=1_125.2)

    by_name = {p.name: p.seconds for p in result}
    assert by_name["drift_retrain_sensor interval (drift_report done → tick)"] == 0.0
    assert by_name["retrain tick → run created (sensor evaluation)"] == pytest.approx(33.0)
    assert all(p.seconds >= 0 for p in result)
    assert sum(by_name.values()) == pytest.approx(125.2)


def test_missing_milestones_are_skipped_and_the_next_phase_covers_them():
    result = phases(0.0, [("a", "waiting", 1.0), ("b", "platform", None), ("c", "work", 4.0)])

    assert [(p.name, p.seconds) for p in result] == [("a", 1.0), ("c", 3.0)]


def test_run_times_reads_the_steps_of_a_run_from_its_event_log():
    @dg.asset
    def first() -> int:
        return 1

    @dg.asset
    def second(first: int) -> int:
        return first + 1

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([first, second], instance=instance)
        times = run_times(instance, result.run_id)

    assert [key for key, _, _ in times.steps] == ["first", "second"]
    assert times.created <= times.started <= times.steps[0][1]
    assert all(start <= end for _, start, end in times.steps)
    assert times.launched is None and times.process is None  # in-process: no launcher
