"""A dg project for the daemon's end-to-end tests: a shipped model's YAML with only the clock
compressed (a day lands every few seconds, so the sensors tick every 2 s and the minimum
interval between retrains monitoring asks for is off)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.pipeline.dagster_internals import BACKFILL_ID_TAG, InstigatorType

POLL_SECONDS = 0.25  # how often the tests look at the instance: a day's chain is seconds long


def compressed_project(root: Path, model: str, **attributes: str) -> str:
    """A dg project holding the shipped `model` with fast sensors and no minimum interval,
    plus any further YAML `attributes`; returns the module of its code location."""
    package = root / f"recovery_{model}"  # a module name of its own: one import per model
    (package / "defs" / model).mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "definitions.py").write_text(textwrap.dedent("""
        from pathlib import Path

        import dagster as dg

        _tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
        defs = _tree.build_defs(_tree.defs_module_path)
        """))
    (package / "defs" / model / "defs.yaml").write_text(textwrap.dedent(f"""
        type: retrain_assets.pipeline.component.RetrainingPipeline
        attributes:
          dataset: {model}
          sensor_interval_seconds: 2
          retrain: {{min_interval_seconds: 0}}
        """) + "".join(f"  {name}: {value}\n" for name, value in attributes.items()))
    (root / "pyproject.toml").write_text(
        '[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\n'
        f'root_module = "recovery_{model}"\n')
    return f"recovery_{model}.definitions"


def bootstrapped_champion(watch, names, registry, backfill: str,
                          sensors: tuple[str, ...]) -> str:
    """Wait for the `sensors`' first look (what is there is history), the history `backfill`'s
    runs and the sensor-bootstrapped first champion. The backfill daemon looks at backfills
    only every 30 s (not configurable), first at start-up: submit the backfill before the
    daemon starts, and wait for its runs, not for its next look marking it completed."""
    for sensor in sensors:
        watch.until(f"{sensor}'s first look", lambda s=sensor: watch.sensor_cursor(names.of(s)))
    for run in watch.until("the history backfill's runs", lambda: watch.runs(
            tags={BACKFILL_ID_TAG: backfill})):
        done = watch.until(f"backfill run {run.run_id}", lambda r=run: watch.finished(r))
        assert done.dagster_run.status == dg.DagsterRunStatus.SUCCESS, (
            f"backfill run {run.run_id} ended {done.dagster_run.status.value}; see "
            f"{watch.daemon.log_path}")
    bootstrap = watch.until("the first training", lambda: watch.runs(
        job_name=names.training_job))[0]
    watch.until("the first training to finish", lambda: watch.finished(bootstrap))
    first = registry.version_for(CHAMPION)
    assert first is not None, "the bootstrap candidate was not blessed"
    return first


def sensor_looked_after(watch, name: str, timestamp: float) -> bool:
    """Whether a tick of sensor `name` that started after `timestamp` has ended: it saw all
    that was there at `timestamp`, and the runs it asked for exist."""
    instance = watch.instance
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == name:
            return any(tick.status.value != "STARTED" for tick in instance.get_ticks(
                state.instigator_origin_id, state.selector_id, after=timestamp))
    return False
