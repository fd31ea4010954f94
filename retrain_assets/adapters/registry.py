"""MLflow as experiment tracker and model registry.

Every training run is an MLflow run (params, metrics, the model with signature and input example,
tags tracing it to the Dagster run and partitions), registered as a new version. Its source is
the Dagster job and asset that logged it, and its description links back to that Dagster run;
its evaluation (verdict, metric tables, plots) is logged on it too. The champion is
whatever the alias `champion` points at. Every alias move (promotion, approval, rejection,
rollback) is appended to the promotion history: one `history.<seq>` tag on the version moved to,
never rewritten, so the registry itself holds the complete record and a rollback walks it. The
alias `previous` shows where a rollback would go. Models are loaded only by name/version.

MLflow is imported in the methods that use it: it takes seconds to import, and every Dagster run
imports this module with the code location, including ingest runs that never touch the registry.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from retrain_assets.core.estimation import Calibration
from retrain_assets.core.evaluation import Verdict
from retrain_assets.core.point_in_time import ChampionMove, VersionWindow
from retrain_assets.core.policy import ChampionWindow

CHAMPION = "champion"
PREVIOUS = "previous"
AWAITING_APPROVAL = "awaiting_approval"  # alias of a blessed candidate waiting for a person
CHALLENGER = "challenger"  # alias of a blessed candidate judged on live days (`shadow` mode)
HISTORY_TAG = "history."  # + zero-padded sequence number: one promotion-history record
# history actions; the forward ones made a version champion on its merits
PROMOTE, APPROVE, REJECT, ROLLBACK, AWAIT, EXPIRE = (
    "promote", "approve", "reject", "rollback", "await_approval", "expire")
SHADOW_START, SHADOW_PROMOTE, SHADOW_RETIRE = "shadow_start", "shadow_promote", "shadow_retire"
FORWARD = (PROMOTE, APPROVE, SHADOW_PROMOTE)
HOLDOUT_DAYS_TAG = "holdout_days"  # version tags: first..last day of the holdout, and ...
TRAINED_FROM_CHANGE_TAG = "trained_from_change"  # ... the change day training started at, or "no"
SHADOW_JUDGED_TAG = "shadow_judged_through"  # the newest live day a shadow promotion weighed
MAX_TAG_VALUE = 5000  # MLflow's limit on a model version tag's value
REFERENCE_ARTIFACT = "reference/training_reference.json"
EVALUATION_ARTIFACTS = "evaluation"  # verdict.json, <table>.csv, <plot>.png of log_evaluation
CALIBRATION_ARTIFACT = f"{EVALUATION_ARTIFACTS}/calibration.json"  # for estimates before labels
# MLflow 3's UI opens an experiment as classic machine learning or as GenAI. It reads the
# experiment tag below (values from its JavaScript; the Python package defines no constant) and,
# since 3.x added a view switch that defaults to GenAI, the `workflowType` query parameter, which
# our run links carry.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MACHINE_LEARNING_KIND = "custom_model_development"
MACHINE_LEARNING_VIEW = "workflowType=machine_learning"
# run metrics of an evaluated candidate: holdout_<metric>, holdout_<metric>_noise, holdout_rows
HOLDOUT, NOISE, ROWS = "holdout_", "_noise", "rows"
# Models are stored with skops, not pickle; these are the non-default types our pipeline
# (HistGradientBoosting inside a ColumnTransformer) needs, reviewed and trusted explicitly. A
# dataset spec with its own model adds the types it declares (core.training.trusted_types).
SKOPS_TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]


@dataclass(frozen=True)
class ModelRef:
    """What the Dagster asset for a model holds: a pointer into the registry, never the model."""

    name: str
    version: str
    run_id: str
    run_url: str
    train_days: tuple[str, ...]
    holdout_days: tuple[str, ...]
    train_rows: int
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelRef:
        return cls(**{**data, "train_days": tuple(data["train_days"]),
                      "holdout_days": tuple(data["holdout_days"])})


@dataclass(frozen=True)
class RunOrigin:
    """The Dagster run and asset that log an MLflow run: its source, and the way back to it."""

    job: str
    asset: str
    run_id: str
    run_url: str | None = None  # the run's page in the Dagster UI, when its address is set

    def tags(self) -> dict[str, str]:
        """MLflow's source tags (shown as the run's Source, instead of the process's script),
        the Dagster run's id and link, and a description (MLflow's note) that links to it."""
        from mlflow.entities import SourceType
        from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE, MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE

        run = f"[{self.run_id}]({self.run_url})" if self.run_url else f"`{self.run_id}`"
        return {MLFLOW_SOURCE_NAME: f"dagster:{self.job}/{self.asset}",
                MLFLOW_SOURCE_TYPE: SourceType.to_string(SourceType.JOB),
                "dagster_run_id": self.run_id, "dagster_job": self.job,
                **({"dagster_run_url": self.run_url} if self.run_url else {}),
                MLFLOW_RUN_NOTE: f"Logged by the asset `{self.asset}` in Dagster run {run} of "
                                 f"job `{self.job}`."}


@dataclass(frozen=True)
class RunLink:
    """Where an MLflow run is: its ids, which stay valid when the UI moves, and its page."""

    run_id: str
    experiment_id: str
    url: str


@dataclass(frozen=True)
class HoldoutMetrics:
    """What a version scored on its holdout when it was evaluated: each metric, the relative
    chance spread per row of those the evaluation measured it for (`core.evaluation.
    metric_noise`), and how many rows. Empty for a version never evaluated; versions evaluated
    before the spread was measured have none."""

    metrics: Mapping[str, float]
    rows: int = 0
    noise: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AliasMove:
    alias: str
    from_version: str | None
    to_version: str


@dataclass(frozen=True)
class Actor:
    """Who moved an alias: the Dagster run and the person (or sensor) behind it."""

    run_id: str
    user: str


@dataclass(frozen=True)
class HistoryRecord:
    """One alias move or approval decision, as written to the version's `history.<seq>` tag."""

    seq: int
    at: str  # ISO 8601, UTC
    action: str
    from_version: str | None
    to_version: str
    reason: str
    run_id: str
    user: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> HistoryRecord:
        return cls(**json.loads(text))


def previous_champion(history: Sequence[HistoryRecord], current: str | None) -> str | None:
    """The champion before `current` came in on its merits (a promotion or approval).

    Rollbacks are walked past, not followed: after rolling back from 3 to 2, the one before 2
    is the champion 2 replaced when it was promoted, never 3 again.
    """
    for record in reversed(history):
        if record.to_version == current and record.action in FORWARD:
            return record.from_version
    return None


def shadow_start(history: Sequence[HistoryRecord], version: str) -> HistoryRecord | None:
    """The record of `version`'s newest shadow start (who it shadowed, and since when)."""
    return next((r for r in reversed(history)
                 if r.action == SHADOW_START and r.to_version == version), None)


def champion_moves(history: Sequence[HistoryRecord]) -> list[ChampionMove]:
    """The records that moved the alias `champion`, for point-in-time scoring."""
    return [ChampionMove(at=datetime.fromisoformat(r.at), version=r.to_version,
                         on_merits=r.action in FORWARD)
            for r in history if r.action in (*FORWARD, ROLLBACK)]


@dataclass(frozen=True)
class PendingApproval:
    """A blessed candidate waiting for a person, judged against `expected_champion`."""

    version: str
    expected_champion: str | None
    expires_at: datetime


class ChampionMovedError(RuntimeError):
    """The champion changed between evaluation and promotion; the verdict is stale."""


class ApprovalError(RuntimeError):
    """An approval decision that cannot be carried out (nothing waiting, or it expired)."""


class UntrustedModelError(RuntimeError):
    """A registered model is not a skops artifact made only of the types we trust."""


def _without_credentials(url: str) -> str:
    """`http://user:token@host` -> `http://host`: URLs end up in metadata and logs."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}" if sep else url


def serving_requirements() -> list[str]:
    """Pinned to what trained the model; stated, because MLflow's inference of them imports
    the model in a subprocess and costs seconds per training run."""
    return [f"{name}=={version(name)}" for name in
            ("scikit-learn", "skops", "pandas", "numpy", "scipy", "mlflow")]


class ModelRegistry:
    def __init__(self, *, tracking_uri: str, experiment: str, model_name: str,
                 artifact_location: str | None = None, ui_url: str | None = None):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.model_name = model_name
        self.artifact_location = artifact_location
        self.ui_url = _without_credentials(
            ui_url or (tracking_uri if tracking_uri.startswith("http")
                       else "http://127.0.0.1:5000")).rstrip("/")
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _activate(self) -> str:
        """Point the fluent API at this store; returns the experiment id. The experiment is
        created, or first used, as a machine-learning one (`EXPERIMENT_KIND_TAG`), unless
        someone already chose its kind."""
        import mlflow
        from mlflow.exceptions import MlflowException

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        existing = self.client.get_experiment_by_name(self.experiment)
        if existing is None:
            try:
                return self.client.create_experiment(
                    self.experiment, artifact_location=self.artifact_location,
                    tags={EXPERIMENT_KIND_TAG: MACHINE_LEARNING_KIND})
            except MlflowException:  # created concurrently by another run
                existing = self.client.get_experiment_by_name(self.experiment)
        if EXPERIMENT_KIND_TAG not in existing.tags:
            self.client.set_experiment_tag(existing.experiment_id, EXPERIMENT_KIND_TAG,
                                           MACHINE_LEARNING_KIND)
        return existing.experiment_id

    def _run_page(self, experiment_id: str, run_id: str) -> str:
        return (f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"
                f"?{MACHINE_LEARNING_VIEW}")

    def run_link(self, run_id: str) -> RunLink:
        experiment_id = self.client.get_run(run_id).info.experiment_id
        return RunLink(run_id, experiment_id, self._run_page(experiment_id, run_id))

    def run_url(self, run_id: str) -> str:
        return self.run_link(run_id).url

    def _run_id_of(self, version: str) -> str:
        return self.client.get_model_version(self.model_name, version).run_id

    def run_url_of(self, version: str) -> str:
        """The MLflow UI page of the run that trained `version`."""
        return self.run_url(self._run_id_of(version))

    def run_tags(self, version: str) -> dict[str, str]:
        """The tags of the run that trained `version` (lineage, trigger, verdict)."""
        return dict(self.client.get_run(self._run_id_of(version)).data.tags)

    def log_evaluation(self, candidate: ModelRef, holdout: HoldoutMetrics, verdict: Verdict, *,
                       tables: Mapping[str, pd.DataFrame], plots: Mapping[str, bytes],
                       calibration: Mapping | None = None) -> None:
        """On the candidate's run: its holdout metrics (where monitoring reads them back with
        `holdout_metrics`), the verdict as a tag and its numbers as metrics, and under
        `evaluation/` the whole verdict (JSON), each table (CSV, which the MLflow UI shows as a
        table), each plot (PNG) and the holdout calibration (`load_calibration`). The verdict
        with its reasons goes on the version too. A retried evaluation overwrites the
        artifacts, so the run keeps one copy of each."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        interval = verdict.interval
        values = {**{f"{HOLDOUT}{name}": value for name, value in holdout.metrics.items()},
                  f"{HOLDOUT}{ROWS}": holdout.rows,
                  **{f"{HOLDOUT}{name}{NOISE}": value for name, value in holdout.noise.items()},
                  **{f"champion_{HOLDOUT}{name}": value
                     for name, value in (verdict.champion_metrics or {}).items()},
                  "blessed": verdict.blessed,
                  **({"improvement": verdict.improvement}
                     if verdict.improvement is not None else {}),
                  **({"improvement_low": interval.low, "improvement_high": interval.high,
                      "improvement_confidence": interval.confidence} if interval else {})}
        self.client.log_batch(candidate.run_id, metrics=[
            Metric(key, float(value), now, 0) for key, value in values.items()])
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "verdict.json").write_text(json.dumps(verdict.to_dict(), indent=2,
                                                                default=str))
            for name, frame in tables.items():
                frame.to_csv(folder / f"{name}.csv", index=False)
            for name, png in plots.items():
                (folder / f"{name}.png").write_bytes(png)
            if calibration is not None:
                (folder / Path(CALIBRATION_ARTIFACT).name).write_text(json.dumps(calibration))
            self.client.log_artifacts(candidate.run_id, tmp, EVALUATION_ARTIFACTS)
        outcome = "blessed" if verdict.blessed else "not blessed"
        self.client.set_tag(candidate.run_id, "verdict", outcome)
        self.tag_verdict(candidate.version, f"{outcome}: {'; '.join(verdict.reasons)}")

    def holdout_metrics(self, version: str) -> HoldoutMetrics:
        """What `log_evaluation` recorded for `version`."""
        logged = self.client.get_run(self._run_id_of(version)).data.metrics
        metrics, noise, rows = {}, {}, 0
        for key, value in logged.items():
            name = key.removeprefix(HOLDOUT)
            if name == key:
                continue
            if name == ROWS:
                rows = int(value)
            elif name.endswith(NOISE):
                noise[name.removesuffix(NOISE)] = value
            else:
                metrics[name] = value
        return HoldoutMetrics(metrics=metrics, rows=rows, noise=noise)

    def log_candidate(self, model, *, inputs: pd.DataFrame, params: Mapping,
                      metrics: Mapping[str, float], tags: Mapping[str, str], origin: RunOrigin,
                      train_days: tuple[str, ...], holdout_days: tuple[str, ...],
                      reference: Mapping | None = None,
                      trusted_types: Sequence[str] = (),
                      trained_from_change: str | None = None) -> ModelRef:
        """Log one training run, tagged with the Dagster run it came from (`origin`), and
        register its model as a new version. `trusted_types`
        (beyond SKOPS_TRUSTED_TYPES) go to the MLmodel file for other readers; `load_model`
        never reads them from there. The version is tagged with its holdout days (for people;
        `version_window` reads the run's) and the change day its training started at, if it
        did (`champion_window` reads it)."""
        import mlflow
        from mlflow.models import infer_signature

        experiment_id = self._activate()
        example = inputs.head(5)
        signature = infer_signature(example, model.predict(example))
        with mlflow.start_run(experiment_id=experiment_id,
                              run_name=f"train {train_days[0]}..{train_days[-1]}",
                              tags={**tags, **origin.tags(),
                                    "train_days": f"{train_days[0]}..{train_days[-1]}",
                                    "holdout_days": f"{holdout_days[0]}..{holdout_days[-1]}",
                                    "train_rows": str(len(inputs))}) as run:
            mlflow.log_params(dict(params))
            mlflow.log_metrics(dict(metrics))
            mlflow.log_input(mlflow.data.from_pandas(
                example, name=f"features {train_days[0]}..{train_days[-1]}"),
                context="training")
            if reference is not None:
                mlflow.log_dict(dict(reference), REFERENCE_ARTIFACT)
            info = mlflow.sklearn.log_model(
                model, name="model", signature=signature, input_example=example,
                registered_model_name=self.model_name, serialization_format="skops",
                skops_trusted_types=[*SKOPS_TRUSTED_TYPES, *trusted_types],
                pip_requirements=serving_requirements(),
            )
        version = str(info.registered_model_version)
        for key, value in (("run_id", run.info.run_id),
                           (HOLDOUT_DAYS_TAG, f"{holdout_days[0]}..{holdout_days[-1]}"),
                           (TRAINED_FROM_CHANGE_TAG, trained_from_change or "no")):
            self.client.set_model_version_tag(self.model_name, version, key, value)
        return ModelRef(name=self.model_name, version=version, run_id=run.info.run_id,
                        run_url=self._run_page(experiment_id, run.info.run_id),
                        train_days=train_days,
                        holdout_days=holdout_days, train_rows=len(inputs), params=dict(params))

    def version_for(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def champion_window(self) -> ChampionWindow | None:
        """Where the champion was last judged (`version_window`) and the change day its training
        started at, from its version's tags; None without a champion or for a version
        registered before the tags were written."""
        from mlflow.exceptions import MlflowException

        try:
            champion = self.client.get_model_version_by_alias(self.model_name, CHAMPION)
        except MlflowException:
            return None
        window, trained_from = self._window(champion), champion.tags.get(TRAINED_FROM_CHANGE_TAG)
        if window is None or trained_from is None:
            return None
        return ChampionWindow(str(champion.version), window.last_judged_day,
                              None if trained_from == "no" else trained_from)

    def load_model(self, version: str, trusted_types: Sequence[str] = ()):
        """Load a version from this registry with skops, trusting only `SKOPS_TRUSTED_TYPES`
        and the `trusted_types` the caller's dataset spec declares.

        mlflow.sklearn.load_model would trust whatever types the model's MLmodel file lists (and
        unpickle pickle-format models), so a crafted version could run code; here only the
        registry's `models:/name/version` is read and the trusted list never comes from it.
        """
        import mlflow
        import skops.io  # it enumerates all of scikit-learn (seconds) on import
        from mlflow.models import Model
        from skops.io.exceptions import UntrustedTypesFoundException

        self._activate()
        trusted = [*SKOPS_TRUSTED_TYPES, *trusted_types]
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(mlflow.artifacts.download_artifacts(
                f"models:/{self.model_name}/{version}", dst_path=tmp))
            flavor = Model.load(local).flavors.get("sklearn", {})
            if flavor.get("serialization_format") != "skops":
                raise UntrustedModelError(
                    f"{self.model_name} version {version} is not a skops-serialized sklearn "
                    f"model (format: {flavor.get('serialization_format')}); refusing to load it. "
                    "Register models through candidate_model.")
            path = local / flavor["pickled_model"]
            try:
                return skops.io.load(path, trusted=trusted)
            except UntrustedTypesFoundException as exc:
                undeclared = sorted(set(skops.io.get_untrusted_types(file=path)) - set(trusted))
                raise UntrustedModelError(
                    f"{self.model_name} version {version} contains types this platform does "
                    f"not trust and the dataset spec does not declare: {undeclared}; refusing "
                    "to load it. If you reviewed them and trust them, declare them in the "
                    "spec's ModelSpec(trusted_types=...); otherwise roll back to a trusted "
                    "version.") from exc

    def load_reference(self, version: str) -> dict | None:
        return self._load_json(version, REFERENCE_ARTIFACT)

    def load_calibration(self, version: str) -> Calibration | None:
        """The holdout calibration `log_evaluation` kept for `version` (binary classifiers);
        None for other tasks or a version evaluated before it was kept."""
        kept = self._load_json(version, CALIBRATION_ARTIFACT)
        return None if kept is None else Calibration.from_dict(kept)

    def _load_json(self, version: str, artifact: str) -> dict | None:
        from mlflow.exceptions import MlflowException

        run_id = self._run_id_of(version)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(run_id, artifact, tmp)
            except (MlflowException, OSError):
                return None
            return json.loads(Path(path).read_text())

    def tag_verdict(self, version: str, verdict: str) -> None:
        """The evaluation's verdict on the version itself, so a rejected one says why."""
        self.client.set_model_version_tag(self.model_name, version, "verdict",
                                          verdict[:MAX_TAG_VALUE])

    def version_window(self, version: str) -> VersionWindow | None:
        """The last days `version` trained and was judged on (`_window`)."""
        return self._window(self.client.get_model_version(self.model_name, version))

    def _window(self, model_version) -> VersionWindow | None:
        """The last days a registered version trained and was judged on, from its run's day
        ranges; a version promoted from shadow was judged through the live days it shadowed,
        while the champion before it served them. None for a version without them."""
        tags = self.client.get_run(model_version.run_id).data.tags if model_version.run_id \
            else {}
        train, judged = tags.get("train_days"), tags.get("holdout_days")
        if not train or not judged:
            return None
        return VersionWindow(last_train_day=train.rpartition("..")[2],
                             last_judged_day=model_version.tags.get(SHADOW_JUDGED_TAG)
                             or judged.rpartition("..")[2])

    def history(self) -> list[HistoryRecord]:
        """Every recorded alias move and approval decision, oldest first."""
        versions = self.client.search_model_versions(f"name='{self.model_name}'")
        return sorted((HistoryRecord.from_json(value) for v in versions
                       for key, value in v.tags.items() if key.startswith(HISTORY_TAG)),
                      key=lambda r: r.seq)

    def _record(self, action: str, from_version: str | None, to_version: str, reason: str,
                actor: Actor) -> HistoryRecord:
        """Append to the history; called under the champion lock, so sequence numbers are
        unique, and each record gets a tag of its own, so nothing earlier is rewritten."""
        history = self.history()
        record = HistoryRecord(
            seq=history[-1].seq + 1 if history else 1,
            at=datetime.now(UTC).isoformat(timespec="seconds"), action=action,
            from_version=from_version, to_version=to_version,
            reason=reason[:MAX_TAG_VALUE // 2],  # the rest of the record fits in the other half
            run_id=actor.run_id, user=actor.user)
        self.client.set_model_version_tag(self.model_name, to_version,
                                          f"{HISTORY_TAG}{record.seq:06d}", record.to_json())
        return record

    def promote(self, version: str, *, expected_champion: str | None, reason: str,
                actor: Actor, action: str = PROMOTE) -> list[AliasMove]:
        """Make `version` the champion (`action` is PROMOTE or, for a person's, APPROVE).

        `expected_champion` is the champion the verdict was measured against; if someone else
        moved the alias since, promotion refuses rather than overwrite a newer decision. If the
        alias already points at `version` (a retried step whose first attempt moved it, then
        failed), the promotion has happened: it is completed, not refused.
        """
        with self._champion_lock():
            current = self.version_for(CHAMPION)
            if current == version != expected_champion:
                self.client.set_model_version_tag(self.model_name, version, "promotion_reason",
                                                  reason)
                history = self.history()
                if not history or history[-1].to_version != version:
                    self._record(action, expected_champion, version, reason, actor)
                return [AliasMove(CHAMPION, expected_champion, version)]
            if current != expected_champion:
                self.client.set_model_version_tag(
                    self.model_name, version, "promotion_refused",
                    f"champion was version {current}, not {expected_champion} as evaluated "
                    f"({reason})")
                raise ChampionMovedError(
                    f"the champion of {self.model_name!r} is now version {current}, but the "
                    f"evaluation compared against version {expected_champion}. Re-run "
                    "evaluation_report so the candidate is judged against the current champion."
                )
            self.client.set_model_version_tag(self.model_name, version, "promotion_reason",
                                              reason)
            return self._point_champion(version, current, action, reason, actor)

    @contextmanager
    def _champion_lock(self) -> Iterator[None]:
        """Check-then-move of the champion as one step for every thread and process on this
        machine (an OS file lock per store and model); across machines the Dagster pool
        `champion_alias` runs one production_model/rollback step at a time."""
        key = hashlib.sha256(f"{self.tracking_uri}|{self.model_name}".encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"retrain_assets-champion-{key}.lock"
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def rollback(self, to: str = PREVIOUS, *, reason: str, actor: Actor) -> list[AliasMove]:
        """Re-point `champion` at `to`: `previous` (the champion before the current one came
        in, from the history) or a version number. The target's `promotion_reason` is kept."""
        with self._champion_lock():
            current = self.version_for(CHAMPION)
            target = previous_champion(self.history(), current) if to == PREVIOUS else to
            if target is None:
                raise ValueError(
                    f"cannot roll back {self.model_name!r}: the promotion history has no "
                    f"champion before version {current}; give a version number as `to`")
            if not target.isdigit():
                raise ValueError(f"rollback `to` must be {PREVIOUS!r} or a version number, "
                                 f"not {to!r}")
            self.client.get_model_version(self.model_name, target)  # raises if it is missing
            if target == current:
                raise ValueError(f"version {target} of {self.model_name!r} is already the "
                                 "champion; nothing to roll back")
            return self._point_champion(target, current, ROLLBACK, reason, actor)

    def _point_champion(self, version: str, current: str | None, action: str, reason: str,
                        actor: Actor) -> list[AliasMove]:
        self.client.set_registered_model_alias(self.model_name, CHAMPION, version)
        self._record(action, current, version, reason, actor)
        moves = [AliasMove(CHAMPION, current, version)]
        before, after = self.version_for(PREVIOUS), previous_champion(self.history(), version)
        if after != before:
            if after is None:
                self.client.delete_registered_model_alias(self.model_name, PREVIOUS)
            else:
                self.client.set_registered_model_alias(self.model_name, PREVIOUS, after)
            moves.append(AliasMove(PREVIOUS, before, after or "none"))
        return moves

    def request_approval(self, version: str, *, expected_champion: str | None, reason: str,
                         expires_at: datetime, actor: Actor) -> PendingApproval:
        """Park a blessed candidate under `awaiting_approval` until a person decides (or it
        expires); a newer one takes the alias over, and the history shows both requests."""
        with self._champion_lock():
            self.client.set_model_version_tag(self.model_name, version,
                                              "approval_expected_champion",
                                              expected_champion or "none")
            self.client.set_model_version_tag(self.model_name, version, "approval_expires",
                                              expires_at.isoformat(timespec="seconds"))
            self.client.set_registered_model_alias(self.model_name, AWAITING_APPROVAL, version)
            self._record(AWAIT, expected_champion, version,
                         f"{reason} (expires {expires_at.isoformat(timespec='minutes')})", actor)
        return PendingApproval(version, expected_champion, expires_at)

    def pending_approval(self) -> PendingApproval | None:
        version = self.version_for(AWAITING_APPROVAL)
        if version is None:
            return None
        tags = self.client.get_model_version(self.model_name, version).tags
        expected = tags.get("approval_expected_champion", "none")
        return PendingApproval(version, None if expected == "none" else expected,
                               datetime.fromisoformat(tags["approval_expires"]))

    def decide_approval(self, version: str | None, *, approve: bool, reason: str, actor: Actor,
                        now: datetime) -> tuple[str, list[AliasMove]]:
        """A person's decision on the waiting candidate (`version`, or whichever waits); returns
        the version decided on and the alias moves.

        Approval promotes it against the champion it was judged with; rejection tags it with
        the reason. Either way the history records who decided. An expired candidate is
        recorded as expired and nothing moves.
        """
        pending = self.pending_approval()
        if pending is None or (version and version != pending.version):
            waiting = f"version {pending.version} is" if pending else "no version is"
            raise ApprovalError(
                f"{waiting} awaiting approval for {self.model_name!r}, not "
                f"{version or 'any'}; see the promotion_history asset")
        self.client.delete_registered_model_alias(self.model_name, AWAITING_APPROVAL)
        if now >= pending.expires_at:
            with self._champion_lock():
                self._record(EXPIRE, pending.expected_champion, pending.version,
                             f"approval asked after it expired at {pending.expires_at}", actor)
            raise ApprovalError(
                f"version {pending.version} waited for approval until {pending.expires_at} and "
                "expired; nothing moved. Retrain (training_job) for a fresh evaluation.")
        if approve:
            return pending.version, self.promote(
                pending.version, expected_champion=pending.expected_champion, reason=reason,
                actor=actor, action=APPROVE)
        self.tag_verdict(pending.version, f"rejected by {actor.user}: {reason}")
        with self._champion_lock():
            self._record(REJECT, pending.expected_champion, pending.version, reason, actor)
        return pending.version, []

    def start_shadow(self, version: str, *, champion: str, reason: str,
                     actor: Actor) -> list[AliasMove]:
        """Make a blessed candidate the `challenger`, judged on live days against `champion`.
        A newer one replaces the current challenger, whose shadow ends (retired) on record. A
        retried step whose first attempt started the shadow finds it started, and moves and
        records nothing."""
        with self._champion_lock():
            current = self.version_for(CHALLENGER)
            if current == version and shadow_start(self.history(), version) is not None:
                return []
            if current is not None and current != version:
                self._record(SHADOW_RETIRE, champion, current,
                             f"shadow end: retired: replaced by blessed version {version}", actor)
            self.client.set_registered_model_alias(self.model_name, CHALLENGER, version)
            self._record(SHADOW_START, champion, version, f"shadow start: {reason}", actor)
        return [AliasMove(CHALLENGER, current, version)]

    def end_shadow(self, version: str, *, promote: bool, reason: str, actor: Actor,
                   judged_through: str | None = None) -> list[AliasMove]:
        """End `version`'s shadow: promoted (champion <- challenger) or retired, and the history
        says why; the caller removes the alias `challenger` (`clear_challenger`) once it has
        recorded the outcome, so a retried step finds the challenger again. `judged_through`:
        the newest live day stored when it was decided; point-in-time scoring keeps the days up
        to it with the champion that served them."""
        if self.version_for(CHALLENGER) != version:
            raise ValueError(f"version {version} of {self.model_name!r} is not the challenger "
                             f"(the alias `{CHALLENGER}` points at "
                             f"{self.version_for(CHALLENGER) or 'nothing'}); see promotion_history")
        champion = self.version_for(CHAMPION)
        if champion == version:  # a retried step whose first attempt promoted it
            started = shadow_start(self.history(), version)
            champion = started.from_version if started else None
        moves = []
        if promote:
            if judged_through is not None:
                self.client.set_model_version_tag(self.model_name, version, SHADOW_JUDGED_TAG,
                                                  judged_through)
            moves = self.promote(version, expected_champion=champion, actor=actor,
                                 reason=f"shadow end: promoted: {reason}", action=SHADOW_PROMOTE)
        if not promote:
            self.tag_verdict(version, f"retired from shadow: {reason}")
            with self._champion_lock():
                last = (self.history() or [None])[-1]
                if last is None or (last.action, last.to_version) != (SHADOW_RETIRE, version):
                    self._record(SHADOW_RETIRE, champion, version,
                                 f"shadow end: retired: {reason}", actor)
        return [*moves, AliasMove(CHALLENGER, version, "none")]

    def clear_challenger(self, version: str) -> None:
        """Remove the alias `challenger` if it still points at `version` (end_shadow's last
        step)."""
        if self.version_for(CHALLENGER) == version:
            self.client.delete_registered_model_alias(self.model_name, CHALLENGER)
