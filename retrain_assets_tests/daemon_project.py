"""A dg project for the daemon's end-to-end tests: a shipped model's YAML with only the clock
compressed (a day lands every few seconds, so the sensors tick every 2 s and the minimum
interval between retrains monitoring asks for is off)."""

from __future__ import annotations

import textwrap
from pathlib import Path


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
