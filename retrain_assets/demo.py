"""The demo: a model's life on embedded defaults, from first data to a drift-driven retrain.

It lands simulated days, backfills raw_data → features, bootstraps the first champion, retrains
on more normal data (a candidate that is not clearly better is rightly rejected), then lands days
whose fare rule changed and shows the retrained candidate beating the stale champion.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from retrain_assets.instance import run_job, use_home
from retrain_assets.resources import open_store, project_home
from retrain_assets.simulate import SimulationPlan, land_days

DEMO_START = date(2025, 1, 1)


@dataclass
class Step:
    label: str
    days: str
    verdict: str = ""
    champion: str = ""
    note: str = ""


def _champion(defs: dg.Definitions) -> str | None:
    return defs.resources["mlflow"].registry().version_for("champion")


def _latest_report(instance: dg.DagsterInstance) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey("evaluation_report"))
    metadata = event.asset_materialization.metadata
    return {k: metadata[k].value for k in ("verdict", "candidate_version", "champion_version")}


def run_demo(*, days: int = 42, rows: int = 1_500, seed: int = 7) -> int:
    home = project_home() / "demo"
    if home.exists():
        shutil.rmtree(home)  # the demo's own generated state, never user data
    use_home(home)
    from retrain_assets.definitions import build_definitions

    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    landing = open_store(str(home / "landing"))
    timeline: list[Step] = []

    def land(start: date, count: int, drift_from: date | None = None) -> list[str]:
        plan = SimulationPlan(start=start, days=count, mean_rows=rows, seed=seed,
                              concept_drift_from=drift_from, covariate_drift_from=None)
        land_days(landing, plan)
        return [d.isoformat() for d in plan.dates()]

    def ingest(day_keys: list[str], label: str) -> None:
        result = run_job(defs, "ingest_job", instance, days=day_keys)
        timeline.append(Step(label, f"{day_keys[0]}..{day_keys[-1]}",
                             note="ok" if result.success else "FAILED"))
        if not result.success:
            raise SystemExit(f"ingest of {day_keys[0]}..{day_keys[-1]} failed; see the run log")

    def retrain(label: str, reason: str) -> None:
        before = _champion(defs)
        result = run_job(defs, "training_job", instance, tags={"retrain/trigger": reason})
        if not result.success and result.is_node_failed("candidate_model"):
            raise SystemExit(f"training failed: {result.failure_data_for_node('candidate_model')}")
        report = _latest_report(instance)
        timeline.append(Step(label, "", verdict=report["verdict"],
                             champion=f"{before or '-'} -> {_champion(defs)}",
                             note=f"candidate v{report['candidate_version']}"))

    history = land(DEMO_START, days)
    ingest(history, "backfill history")
    retrain("first training", "bootstrap")
    first_champion = _champion(defs)

    normal = land(DEMO_START + timedelta(days=days), 7)
    ingest(normal, "a normal week lands")
    retrain("retrain, no drift", "schedule")

    drift_start = DEMO_START + timedelta(days=days + 7)
    drifted = land(drift_start, 10, drift_from=drift_start)
    ingest(drifted, "fare rule changes")
    retrain("retrain after drift", "drift")
    scoring = run_job(defs, "scoring_job", instance, days=drifted[-3:])

    print(f"\nretrain_assets demo — state in {home}\n")
    print(f"{'step':<22}{'days':<24}{'verdict':<13}{'champion':<10}note")
    for step in timeline:
        print(f"{step.label:<22}{step.days:<24}{step.verdict:<13}{step.champion:<10}{step.note}")
    final = _champion(defs)
    moved = final is not None and final != first_champion
    print(f"\nchampion: v{first_champion} at first, v{final} now; "
          f"predictions for the last drifted days: {'ok' if scoring.success else 'FAILED'}")
    print(f"browse it: RETRAIN_ASSETS_HOME={home} ./tasks dev   (MLflow: ./tasks mlflow-ui)")
    if not (moved and scoring.success):
        print("the story did not happen: the champion should have moved after drift",
              flush=True)
        return 1
    return 0
