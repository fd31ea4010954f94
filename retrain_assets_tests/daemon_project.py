"""A dg project for the daemon's end-to-end tests: a shipped model's YAML with only the clock
compressed (a day lands every few seconds, so the sensors tick every 2 s and the minimum
interval between retrains monitoring asks for is off)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.dev.demo import submit_backfill


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


def bootstrapped_champion(instance, defs, watch, names, registry, history: list[str],
                          sensors: tuple[str, ...], assets: list) -> str:
    """Once the `sensors` had their first look (what is there is history), backfill `assets`
    over the `history` days and wait for the sensor-bootstrapped first champion."""
    for sensor in sensors:
        watch.until(f"{sensor}'s first look", lambda s=sensor: watch.sensor_cursor(names.of(s)))
    backfill = submit_backfill(instance, defs, history, assets)
    watch.until("the history backfill", lambda: watch.backfill_done(backfill))
    bootstrap = watch.until("the first training", lambda: watch.runs(
        job_name=names.training_job))[0]
    watch.until("the first training to finish", lambda: watch.finished(bootstrap))
    first = registry.version_for(CHAMPION)
    assert first is not None, "the bootstrap candidate was not blessed"
    return first
