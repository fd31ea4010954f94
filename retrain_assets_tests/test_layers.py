"""The package's layers, enforced: every module under retrain_assets/ is read with `ast`, and each
import (at module level or inside a function) must point down the layers, never around in a cycle.

core/ is pure; adapters/ talk to storage and MLflow without Dagster; datasets/<name>/ build only
on core/; pipeline/ is the Dagster wiring; dev/ (demo, daemon harness, local services) sits on top
and nothing below imports it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import retrain_assets

PACKAGE = "retrain_assets"
BENCH = Path(retrain_assets.__file__).parents[1] / "bench"
# the modules that may import Dagster's private `dagster._...` names: the one adapter module for
# them, the custom instance storage (it subclasses Dagster's storage classes), and dev/
DAGSTER_INTERNALS = f"{PACKAGE}.pipeline.dagster_internals"
MAY_IMPORT_DAGSTER_PRIVATE = (DAGSTER_INTERNALS, f"{PACKAGE}.instance_storage", f"{PACKAGE}.dev")
LAYERS = ("core", "adapters", "datasets", "pipeline", "dev")
NO_DAGSTER = ("core", "adapters", "datasets")
MAY_IMPORT = {  # a layer may import its own modules and these layers of retrain_assets
    "core": (),
    "adapters": ("core",),
    "datasets": ("core",),
    "pipeline": ("core", "adapters"),  # a model names its dataset in YAML, never in wiring
}
"""dev/ and the top-level modules may import any layer; definitions.py nothing from dev/."""


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. retrain_assets.core.drift
    line: int
    target: str  # the module imported, resolved to a module of the package where it names one

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def package_sources(root: Path = Path(retrain_assets.__file__).parent,
                    package: str = PACKAGE) -> dict[str, str]:
    """Every module of the package by dotted name (a package by its __init__), with its source."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = (package, *path.relative_to(root).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        sources[name] = path.read_text()
    return sources


def imports_of(sources: dict[str, str]) -> list[Import]:
    """Every import statement in every module, anywhere in its body. `from a import b` counts as
    importing the module `a.b` when there is one, else `a`; relative imports are resolved."""
    found = []
    for module, source in sources.items():
        is_package = any(other.startswith(module + ".") for other in sources)
        for node in ast.walk(ast.parse(source, filename=module)):
            if isinstance(node, ast.Import):
                found += [Import(module, node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")
                    anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join(filter(None, [*anchor, base]))
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    found.append(Import(module, node.lineno,
                                        submodule if submodule in sources else base))
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def layer_violations(imports: list[Import]) -> list[str]:
    """Each import that goes against the layering, with the rule it breaks."""
    broken = []
    for imp in imports:
        layer, target_layer = layer_of(imp.module), layer_of(imp.target)
        if layer in NO_DAGSTER and imp.target.split(".")[0].startswith("dagster"):
            broken.append(f"{imp}: {layer}/ must not import Dagster (move the code to pipeline/)")
        elif not imp.target.startswith(PACKAGE + "."):
            continue
        elif layer == "datasets" and target_layer == "datasets":
            own = ".".join(imp.module.split(".")[:3])
            if not (imp.target == own or imp.target.startswith(own + ".")):
                broken.append(f"{imp}: a dataset must not import another dataset")
        elif layer in MAY_IMPORT and target_layer != layer \
                and target_layer not in MAY_IMPORT[layer]:
            allowed = ", ".join(f"{name}/" for name in MAY_IMPORT[layer]) or "only its own modules"
            broken.append(f"{imp}: {layer}/ must not import "
                          f"{f'{target_layer}/' if target_layer else imp.target} "
                          f"(it may import {allowed})")
        elif imp.module == f"{PACKAGE}.definitions" and target_layer == "dev":
            broken.append(f"{imp}: the code location must not import dev/")
    return broken


def private_dagster_imports(imports: list[Import]) -> list[str]:
    """Each import of a `dagster._...` module outside the modules allowed one."""
    return [f"{imp}: import it from {DAGSTER_INTERNALS}, with why no public API does it"
            for imp in imports if imp.target.startswith("dagster._")
            and not any(imp.module == allowed or imp.module.startswith(allowed + ".")
                        for allowed in MAY_IMPORT_DAGSTER_PRIVATE)]


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """The cycles among package modules a depth-first walk closes, each as a closed path; there is
    at least one whenever the import graph has a cycle."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target.startswith(PACKAGE + ".") and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    cycles: list[list[str]] = []
    path: list[str] = []
    finished: set[str] = set()

    def visit(module: str) -> None:
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if target in path:
                cycles.append([*path[path.index(target):], target])
            elif target not in finished:
                visit(target)
        path.pop()
        finished.add(module)

    for module in sorted(graph):
        if module not in finished:
            visit(module)
    return cycles


def test_the_package_has_its_layers_and_the_scan_sees_their_imports():
    sources = package_sources()
    assert {layer_of(module) for module in sources} >= set(LAYERS)
    assert any(layer_of(imp.module) == "pipeline" and imp.target.startswith("dagster")
               for imp in imports_of(sources))


def test_core_adapters_and_datasets_import_no_dagster_and_each_layer_only_what_is_below_it():
    broken = layer_violations(imports_of(package_sources()))
    assert not broken, "imports against the layering:\n" + "\n".join(broken)


def test_dagster_private_names_come_through_one_module_in_the_package_and_bench():
    imports = imports_of({**package_sources(), **package_sources(BENCH, "bench")})
    assert any(imp.module == DAGSTER_INTERNALS and imp.target.startswith("dagster._")
               for imp in imports)
    broken = private_dagster_imports(imports)
    assert not broken, "private Dagster imports:\n" + "\n".join(broken)
    assert private_dagster_imports(imports_of({
        "bench.x": "def f():\n    from dagster._core.test_utils import instance_for_test\n",
        "retrain_assets.dev.demo": "from dagster._core.utils import make_new_backfill_id\n",
    })) == ["bench.x (line 2) imports dagster._core.test_utils: import it from "
            f"{DAGSTER_INTERNALS}, with why no public API does it"]


def test_the_package_has_no_import_cycle():
    cycles = import_cycles(imports_of(package_sources()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_a_forbidden_import_or_cycle_is_reported_with_its_module_and_line():
    sources = {
        "retrain_assets.core.a": "def f():\n    import dagster\n",
        "retrain_assets.core.b": "from retrain_assets.pipeline import c\n",
        "retrain_assets.pipeline.c": "from retrain_assets.dev.d import run\n",
        "retrain_assets.dev.d": "def run(): ...\n",
        "retrain_assets.datasets.x.spec": "from retrain_assets.datasets.y import Y\n",
        "retrain_assets.datasets.y": "from retrain_assets.core import b\n",
        "retrain_assets.adapters.e": "from .f import g\n",
        "retrain_assets.adapters.f": "from retrain_assets.adapters import e\ng = 1\n",
        "retrain_assets.definitions": "from retrain_assets.dev import d\n",
    }
    assert layer_violations(imports_of(sources)) == [
        "retrain_assets.core.a (line 2) imports dagster: core/ must not import Dagster "
        "(move the code to pipeline/)",
        "retrain_assets.core.b (line 1) imports retrain_assets.pipeline.c: core/ must not import "
        "pipeline/ (it may import only its own modules)",
        "retrain_assets.pipeline.c (line 1) imports retrain_assets.dev.d: pipeline/ must not "
        "import dev/ (it may import core/, adapters/)",
        "retrain_assets.datasets.x.spec (line 1) imports retrain_assets.datasets.y: "
        "a dataset must not import another dataset",
        "retrain_assets.definitions (line 1) imports retrain_assets.dev.d: the code location "
        "must not import dev/",
    ]
    assert import_cycles(imports_of(sources)) == [
        ["retrain_assets.adapters.e", "retrain_assets.adapters.f", "retrain_assets.adapters.e"]]


def test_defs_holds_configuration_only():
    """Each model under defs/ is a YAML file (and, optionally, its spec): the wiring stays in
    pipeline/, so the defs folder's autoloading finds nothing but components."""
    defs = Path(retrain_assets.__file__).parent / "defs"
    models = sorted(p.parent.name for p in defs.glob("*/defs.yaml"))
    assert models == ["churn", "taxi"]
    assert [p.relative_to(defs) for p in defs.rglob("*.py")] == []
