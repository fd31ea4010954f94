"""The demo: the shipped project's two retraining loops, run side by side by the real daemon.

It plays out the life of both models under `defs/` — the taxi fare regression and the churn
classifier — against a fresh project-local instance (`<home>/demo`), on the settings a user gets:

1. weeks of history land for each and are backfilled (one backfill; BackfillPolicy packs it into
   few runs);
2. each model's first champion is trained once enough days of features exist;
3. new days land one at a time; each model's `landing_zone_sensor` ingests, scores and
   monitors its day;
4. from some day on both worlds change (longer trips and a new tariff; lower usage and a price
   war): the drift checks fail, each `drift_retrain_sensor` asks for retrains, and a candidate
   that learned the new world is blessed and promoted (earlier candidates are rightly rejected).

Nothing is driven by hand after the backfill: the demo only lands files and watches the
instance. It prints a timeline per model and exits non-zero if a story did not happen.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.scheduler.instigation import InstigatorType
from dagster._core.utils import make_new_backfill_id

from retrain_assets.adapters.registry import CHAMPION, ModelRegistry
from retrain_assets.adapters.storage import ObjectStore
from retrain_assets.dev.instance import use_home
from retrain_assets.dev.simulate import SimulationPlan, land_day
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.resources import open_store, project_home
from retrain_assets.pipeline.sensors import rows_in

DEMO_START = date(2025, 1, 1)
# the shipped models (retrain_assets/defs/<model>/defs.yaml) and the seed of each one's data
MODELS = {"taxi": 7, "churn": 11}
# The code location's name, as workspace.yaml and pyproject's [tool.dagster] pin it: `./tasks dev`
# on the demo's instance then finds the same sensor cursors, ticks and runs to re-execute.
CODE_LOCATION = "retrain_assets"
DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@dataclass
class Scenario:
    history_days: int = 35
    normal_days: int = 1
    max_drift_days: int = 8
    days_after_promotion: int = 1
    rows: int = 1_000  # per day; far fewer makes zone shares too noisy for the drift checks
    seeds: dict[str, int] = field(default_factory=lambda: dict(MODELS))  # the models played
    sensor_interval_seconds: int | None = 2  # None: the code location's default
    timeout_seconds: float = 300.0  # per wait; generous for a loaded 2-core machine

    @property
    def drift_from(self) -> date:
        return DEMO_START + timedelta(days=self.history_days + self.normal_days)

    def environment(self) -> dict[str, str]:
        """What the daemon's code location reads: fast ticks (unless the interval is None).
        The retraining policy is the one a user gets."""
        if self.sensor_interval_seconds is None:
            return {}
        return {"RETRAIN_ASSETS_SENSOR_INTERVAL_SECONDS": str(self.sensor_interval_seconds)}


@dataclass
class Row:
    """One line of the timeline."""

    day: str
    rows: str = ""
    checks: str = ""
    drift: str = ""
    trigger: str = ""
    model: str = ""
    verdict: str = ""


@dataclass
class Story:
    """One model's life in the demo."""

    model: str
    rows: list[Row] = field(default_factory=list)
    first_champion: str | None = None
    champion: str | None = None
    drift_failures: int = 0
    promoted_by: dict[str, str] = field(default_factory=dict)  # MLflow tags of the new champion

    @property
    def happened(self) -> bool:
        return (self.first_champion is not None and self.champion != self.first_champion
                and self.drift_failures > 0
                and self.promoted_by.get("retrain/trigger") in ("drift", "performance_decay"))


@dataclass
class Demo:
    home: Path
    stories: dict[str, Story]
    backfill_runs: int = 0

    @property
    def happened(self) -> bool:
        return all(story.happened for story in self.stories.values())


@dataclass
class Model:
    """A shipped model as the demo drives it: its names, registry, landing zone and seed."""

    names: Names
    registry: ModelRegistry
    landing: ObjectStore
    seed: int

    @classmethod
    def of(cls, defs: dg.Definitions, name: str, seed: int) -> Model:
        names = Names(name)
        return cls(names, defs.resources[names.of("mlflow")].registry(),
                   open_store(defs.resources[names.of("landing_zone")].url), seed)

    def sensor_runs(self, watch: Watcher, day: str) -> list[dg.DagsterRun]:
        return watch.runs(tags={"landing/day": day,
                                "dagster/sensor_name": self.names.of("landing_zone_sensor")})


class Daemon:
    """`dagster-daemon run` on the demo's instance, loading the code location from a workspace
    file; its output goes to `<home>/daemon.log`."""

    def __init__(self, home: Path, env: dict[str, str],
                 module: str = "retrain_assets.definitions"):
        """`module` holds the code location's `defs` (another dg project's in tests; put its
        folder on PYTHONPATH in `env`)."""
        self.workspace = home / "workspace.yaml"
        self.workspace.write_text(
            f"load_from:\n  - python_module:\n      module_name: {module}\n"
            f"      attribute: defs\n      location_name: {CODE_LOCATION}\n")
        self.log_path = home / "daemon.log"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Daemon:
        executable = Path(sys.executable).with_name("dagster-daemon")
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(executable), "run", "-w", str(self.workspace)], env=self.env,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with code {self.process.returncode}; "
                               f"see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the daemon and its code server
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


class Watcher:
    """Waits on the instance for what the daemon does."""

    def __init__(self, instance: dg.DagsterInstance, daemon: Daemon, timeout: float,
                 poll_seconds: float = 1.0):
        self.instance, self.daemon, self.timeout = instance, daemon, timeout
        self.poll_seconds = poll_seconds

    def until(self, what: str, condition: Callable[[], object]):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.daemon.check_alive()
            value = condition()
            if value:
                return value
            time.sleep(self.poll_seconds)
        raise TimeoutError(f"timed out after {self.timeout:.0f}s waiting for {what}; "
                           f"see {self.daemon.log_path}")

    def sensor_cursor(self, name: str) -> str | None:
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.name == name and state.instigator_data is not None:
                return state.instigator_data.cursor
        return None

    def sensor_ticked_after(self, name: str, timestamp: float) -> bool:
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.name == name and state.instigator_data is not None:
                return (state.instigator_data.last_tick_timestamp or 0) > timestamp
        return False

    def runs(self, **filters) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(filters=dg.RunsFilter(**filters)))

    def finished(self, run: dg.DagsterRun) -> dg.RunRecord | None:
        record = self.instance.get_run_record_by_id(run.run_id)
        return record if record.dagster_run.status in DONE else None

    def backfill_done(self, backfill_id: str) -> BulkActionStatus | None:
        status = self.instance.get_backfill(backfill_id).status
        return status if status in (BulkActionStatus.COMPLETED_SUCCESS,
                                    BulkActionStatus.COMPLETED_FAILED,
                                    BulkActionStatus.FAILED) else None

    def quiet(self) -> bool:
        return not self.runs(statuses=[s for s in dg.DagsterRunStatus if s not in DONE])


def submit_backfill(instance: dg.DagsterInstance, defs: dg.Definitions, days: list[str],
                    assets: list[dg.AssetKey]) -> str:
    """A backfill of `assets` over `days`, as the UI's "Materialize → backfill" submits it;
    the daemon runs it in as few runs as the assets' BackfillPolicy allows."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(), partition_names=days,
        asset_selection=assets, backfill_timestamp=time.time(),
        tags={"demo": "history"}, dynamic_partitions_store=instance, all_partitions=False,
        title=f"history {days[0]}..{days[-1]}", description="demo: weeks of history",
        run_config=None))
    return backfill_id


def run_demo(*, scenario: Scenario | None = None, home: Path | None = None,
             out=print) -> int:
    for category in (dg.BetaWarning, dg.PreviewWarning):  # API maturity notes, not news
        warnings.filterwarnings("ignore", category=category)
    # a plain `kill` (or a CI timeout) still stops the daemon: Daemon.__exit__ runs on exit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    demo = play(scenario or Scenario(), home or project_home() / "demo", out)
    print_timeline(demo, out)
    missed = [story.model for story in demo.stories.values() if not story.happened]
    if missed:
        out(f"\nthe story did not happen for {', '.join(missed)}: the champion should have "
            "moved because drift triggered a retrain that was blessed. See the timeline above "
            f"and {demo.home / 'daemon.log'}.")
        return 1
    return 0


def play(scenario: Scenario, home: Path, out=print) -> Demo:
    if home.exists():
        shutil.rmtree(home)  # the demo's own generated state, never user data
    use_home(home)
    os.environ.update(scenario.environment())
    from retrain_assets.definitions import load_definitions

    defs = load_definitions()  # the shipped models, from the environment just set
    models = {name: Model.of(defs, name, seed) for name, seed in scenario.seeds.items()}
    demo = Demo(home=home, stories={name: Story(name) for name in models})
    history = [DEMO_START + timedelta(days=i) for i in range(scenario.history_days)]
    keys = [day.isoformat() for day in history]
    for model in models.values():
        for day in history:
            land(model, day, scenario)
    out(f"landed {len(keys)} days of history ({keys[0]}..{keys[-1]}) for "
        f"{', '.join(models)}, ~{scenario.rows} rows a day each; starting the Dagster "
        "daemon ...")
    with dg.DagsterInstance.get() as instance, \
            Daemon(home, scenario.environment()) as daemon:
        watch = Watcher(instance, daemon, scenario.timeout_seconds)
        for model in models.values():
            sensor = model.names.of("landing_zone_sensor")
            watch.until(f"{sensor}'s first look", lambda s=sensor: watch.sensor_cursor(s))
        backfill_id = submit_backfill(instance, defs, keys, [
            key for m in models.values() for key in (m.names.raw_data, m.names.features)])
        out(f"backfill {backfill_id} submitted: raw_data, features of each model for "
            f"{len(keys)} days")
        status = watch.until("the history backfill", lambda: watch.backfill_done(backfill_id))
        demo.backfill_runs = len(watch.runs(tags={"dagster/backfill": backfill_id}))
        if status != BulkActionStatus.COMPLETED_SUCCESS:
            raise RuntimeError(f"the history backfill ended {status.value}; see the runs of "
                               f"backfill {backfill_id} in the UI")
        out(f"backfill done in {demo.backfill_runs} run(s); waiting for the first champions")
        for name, model in models.items():
            first_champion(watch, model, demo.stories[name], keys, demo.backfill_runs, out)

        after_promotion = {name: scenario.days_after_promotion for name in models}
        for i in range(scenario.normal_days + scenario.max_drift_days):
            day = DEMO_START + timedelta(days=scenario.history_days + i)
            playing = {name: m for name, m in models.items() if after_promotion[name] >= 0}
            if not playing:
                break
            landed_at, key = time.time(), day.isoformat()
            for model in playing.values():
                land(model, day, scenario, drift_from=scenario.drift_from)
            for name, model in playing.items():
                story = demo.stories[name]
                story.rows.append(new_day(watch, model, key, landed_at, story))
                out(f"{name:<7}" + format_row(story.rows[-1]))
                if story.champion != story.first_champion:
                    after_promotion[name] -= 1
        watch.until("all runs to finish", watch.quiet)
    for name, model in models.items():
        story = demo.stories[name]
        story.promoted_by = model.registry.run_tags(story.champion) if story.champion else {}
    return demo


def first_champion(watch: Watcher, model: Model, story: Story, history: list[str],
                   backfill_runs: int, out) -> None:
    """Waits for the model's bootstrap training and records it as the story's first row."""
    job = model.names.training_job
    bootstrap = watch.until(f"the first training of {job}", lambda: watch.runs(job_name=job))[0]
    bootstrap = watch.until(f"the first {job} run",
                            lambda: watch.finished(bootstrap)).dagster_run
    story.first_champion = story.champion = model.registry.version_for(CHAMPION)
    story.rows.append(Row(
        day=f"{history[0]}..{history[-1]}",
        rows=str(rows_of(watch.instance, model.names, history)),
        checks=f"backfill: {backfill_runs} run(s)",
        trigger=bootstrap.tags.get("retrain/trigger", ""),
        model=f"v{story.champion}" if story.champion else "none",
        verdict=verdict_of(watch.instance, model.names, bootstrap)))
    out(f"{story.model:<7}" + format_row(story.rows[-1]))


def new_day(watch: Watcher, model: Model, key: str, landed_at: float, story: Story) -> Row:
    """Waits for the landed day's run, the retrain sensor's look at its checks and any retrain
    it asked for; returns the day's row."""
    run = watch.until(f"the landing run for {model.names.model} {key}",
                      lambda: model.sensor_runs(watch, key))[0]
    record = watch.until(f"the landing run for {model.names.model} {key} to finish",
                         lambda: watch.finished(run))
    run, checked = record.dagster_run, max(landed_at, record.end_time or 0)
    sensor = model.names.of("drift_retrain_sensor")
    watch.until(f"{sensor} to look at the checks",
                lambda: watch.sensor_ticked_after(sensor, checked))
    retrains = [watch.until(f"the retrain for {key}", lambda r=retrain: watch.finished(r))
                .dagster_run for retrain in watch.runs(job_name=model.names.training_job,
                                                       tags={"retrain/partition": key})]
    return day_row(watch.instance, model, key, run, retrains, story)


def land(model: Model, day: date, scenario: Scenario, *,
         drift_from: date | None = None) -> str:
    land_day(model.landing, day, SimulationPlan(
        start=day, days=1, mean_rows=scenario.rows, seed=model.seed,
        covariate_drift_from=drift_from, concept_drift_from=drift_from,
        dataset=model.names.model))
    return day.isoformat()


def rows_of(instance: dg.DagsterInstance, names: Names, days: list[str]) -> int:
    """Feature rows stored for `days` (latest materialization of each)."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=names.features, asset_partitions=days), limit=len(days) * 4).records
    latest = {}
    for record in records:  # newest first
        latest.setdefault(record.asset_materialization.partition, record)
    return rows_in(latest.values())


def verdict_of(instance: dg.DagsterInstance, names: Names, run: dg.DagsterRun) -> str:
    if run.status != dg.DagsterRunStatus.SUCCESS and run.status != dg.DagsterRunStatus.FAILURE:
        return run.status.value.lower()
    events = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in events:
        materialization = record.event_log_entry.asset_materialization
        if materialization.asset_key == names.evaluation_report:
            return str(materialization.metadata["verdict"].value)
    return "training failed"


def day_row(instance: dg.DagsterInstance, model: Model, day: str, run: dg.DagsterRun,
            retrains: list[dg.DagsterRun], story: Story) -> Row:
    checks, drift = check_summary(instance, model.names, run)
    story.drift_failures += checks.count("FAIL")
    before = story.champion
    story.champion = model.registry.version_for(CHAMPION)
    retrain = retrains[0] if retrains else None
    champion = f"v{story.champion}" + (f" (was v{before})" if story.champion != before else "")
    return Row(day=day, rows=str(rows_of(instance, model.names, [day])), checks=checks,
               drift=drift, trigger=retrain.tags["retrain/trigger"] if retrain else "",
               model=champion,
               verdict=verdict_of(instance, model.names, retrain) if retrain else "")


def check_summary(instance: dg.DagsterInstance, names: Names,
                  run: dg.DagsterRun) -> tuple[str, str]:
    if run.status != dg.DagsterRunStatus.SUCCESS:
        return f"run {run.status.value.lower()}", ""
    results, psi = {}, ""
    for record in instance.get_records_for_run(run.run_id).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.asset_key == names.drift_report:
                results[evaluation.check_name] = "ok" if evaluation.passed else "FAIL"
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            if materialization.asset_key == names.drift_report:
                psi = f"{materialization.metadata['max_psi'].value:.2f}"
    if not results:
        return "ingested (no champion yet)", ""
    return (f"drift {results.get('no_feature_drift', '?')}, "
            f"decay {results.get('no_performance_decay', '?')}"), psi


COLUMNS = [("day", 23), ("rows", 7), ("checks", 27), ("max PSI", 8), ("trigger", 18),
           ("champion", 14), ("verdict", 12)]


def format_row(row: Row) -> str:
    values = [row.day, row.rows, row.checks, row.drift, row.trigger, row.model, row.verdict]
    return "".join(f"{v:<{w}}" for v, (_, w) in zip(values, COLUMNS, strict=True))


def print_timeline(demo: Demo, out=print) -> None:
    out(f"\nretrain_assets demo — what the daemon did (state in {demo.home})")
    for story in demo.stories.values():
        out(f"\n{story.model}\n" + "".join(f"{name:<{w}}" for name, w in COLUMNS))
        for row in story.rows:
            out(format_row(row))
        tags = story.promoted_by
        out(f"champion: v{story.first_champion} at first, v{story.champion} now"
            + (f", promoted after {tags.get('retrain/trigger')} on "
               f"{tags.get('retrain/partition')} ({tags.get('retrain/check')}, score "
               f"{tags.get('retrain/score')})"
               if story.champion != story.first_champion else ""))
    out(f"\nbrowse what happened (the instance is kept in {demo.home}):\n"
        f"  RETRAIN_ASSETS_HOME={demo.home} ./tasks dev      # Dagster UI on 127.0.0.1:3000\n"
        f"  RETRAIN_ASSETS_HOME={demo.home} ./tasks mlflow-ui  # MLflow UI on 127.0.0.1:5000")
