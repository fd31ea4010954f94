"""The automated loop through the real Dagster daemon (slow: a daemon, a code server and runs,
each a fresh process).

The whole story (backfill, data-volume bootstrap, drift, a blessed retrain moving the alias) is
what `./tasks demo` plays and checks (it exits 1 when the story did not happen; CI runs it), and
the drifted day → drift check → retrain → new champion chain through the daemon is checked by the
reaction benchmark that `test_bench.py` runs (it fails unless the alias moved to the version the
drift-triggered run trained). Here: what those do not cover.
"""

from datetime import timedelta

import dagster as dg
import pytest

from retrain_assets.dev.demo import (
    DEMO_START,
    MODELS,
    Daemon,
    Model,
    Scenario,
    Watcher,
    land,
    run_demo,
)


@pytest.fixture
def scenario_env(home, monkeypatch):
    """The demo sets these for its daemon; monkeypatch restores them after the test."""
    scenario = Scenario()
    for name, value in scenario.environment().items():
        monkeypatch.setenv(name, value)
    return scenario


@pytest.mark.slow
def test_daemon_restart_between_ticks_neither_duplicates_nor_misses_a_day(home, scenario_env):
    """Issue 5: stop the daemon after a day was picked up, land another while it is down,
    start it again: each day has exactly one landing run (the shipped taxi model's)."""
    from retrain_assets.definitions import load_definitions

    taxi = Model.of(load_definitions(), "taxi", MODELS["taxi"])
    sensor = taxi.names.of("landing_zone_sensor")
    first, second = (DEMO_START + timedelta(days=i) for i in (0, 1))
    with dg.DagsterInstance.get() as instance:
        with Daemon(home, scenario_env.environment()) as daemon:
            watch = Watcher(instance, daemon, scenario_env.timeout_seconds)
            watch.until("the first look", lambda: watch.sensor_cursor(sensor))
            land(taxi, first, scenario_env)
            run = watch.until("the run for day 1",
                              lambda: taxi.sensor_runs(watch, first.isoformat()))[0]
            watch.until("day 1 to finish", lambda: watch.finished(run))
        land(taxi, second, scenario_env)  # lands while no daemon is running
        with Daemon(home, scenario_env.environment()) as daemon:
            watch = Watcher(instance, daemon, scenario_env.timeout_seconds)
            run = watch.until("the run for day 2",
                              lambda: taxi.sensor_runs(watch, second.isoformat()))[0]
            done = watch.until("day 2 to finish", lambda: watch.finished(run)).end_time
            watch.until("a few more ticks", lambda: watch.sensor_ticked_after(
                sensor, done + 2 * scenario_env.sensor_interval_seconds))
        for day in (first, second):
            runs = taxi.sensor_runs(watch, day.isoformat())
            assert len(runs) == 1, f"{day}: {len(runs)} runs"
            assert runs[0].status == dg.DagsterRunStatus.SUCCESS


def test_demo_exits_non_zero_when_the_story_does_not_happen(home, scenario_env, monkeypatch):
    import retrain_assets.dev.demo as demo
    from retrain_assets.dev.demo import Demo, Story

    promoted = Story("taxi", first_champion="1", champion="2", drift_failures=1,
                     promoted_by={"retrain/trigger": "drift"})
    stuck = Story("churn", first_champion="1", champion="1")
    monkeypatch.setattr(demo, "play", lambda *a, **k: Demo(
        home=home, stories={"taxi": promoted, "churn": stuck}))
    lines: list[str] = []
    assert run_demo(home=home / "demo", out=lines.append) == 1
    assert any("the story did not happen for churn" in line for line in lines)
