"""Dagster resources: where data lands, where assets are stored, where models are tracked.

Every location is a setting with an embedded default under one project-local home folder
(`RETRAIN_ASSETS_HOME`, default `./.retrain_home`), so swapping in GCS or an MLflow server is a
change of environment, not of asset code.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from retrain_assets.adapters.landing import LandingZone
from retrain_assets.adapters.registry import ModelRegistry
from retrain_assets.adapters.storage import GCSObjectStore, LocalObjectStore, ObjectStore, join_url
from retrain_assets.core.frames import read_parquet
from retrain_assets.core.volume import (
    DayProfile,
    LandingRecord,
    hashes_from_bytes,
    hashes_to_bytes,
)

# MLflow and object storage can blip (a restarting tracking server, a GCS 503, a network hiccup):
# every step that talks to them retries with exponential backoff (waits of 2s, 6s, 14s) before
# failing. Only such transient errors are retried: a step with this policy wraps its body in
# `retries_only_transient`, which fails every other error at once.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)

# OSErrors that name a fact about a path, which stays true however often it is retried
_LASTING_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the step could help: I/O and network failures, timeouts, MLflow
    server errors (5xx) and Google API transient errors. Anything else (a missing input or
    column, a bad spec, a bug) fails the same way every time. Explicit causes are followed, so
    an error raised `from` a connection failure counts as one."""
    while exc is not None:
        if isinstance(exc, OSError) and not isinstance(exc, _LASTING_OS_ERRORS):
            response = getattr(exc, "response", None)  # requests' HTTPError: 4xx is lasting
            return getattr(response, "status_code", 500) >= 500
        mlflow_errors = sys.modules.get("mlflow.exceptions")  # loaded only if MLflow is in use
        if mlflow_errors and isinstance(exc, mlflow_errors.MlflowException):
            return exc.get_http_status_code() >= 500
        google_errors = sys.modules.get("google.api_core.exceptions")
        if google_errors and isinstance(exc, google_errors.GoogleAPICallError):
            return isinstance(exc, google_errors.ServerError | google_errors.TooManyRequests)
        google_auth = sys.modules.get("google.auth.exceptions")  # token refresh over the network
        if google_auth and isinstance(exc, google_auth.TransportError):
            return True
        exc = exc.__cause__
    return False


@contextmanager
def fail_at_once_unless_transient(where: str) -> Iterator[None]:
    """Re-raise a non-transient error as a `dg.Failure` that the retry policy does not retry,
    with what happened and where; transient errors and Dagster's own pass through."""
    try:
        yield
    except (dg.Failure, dg.RetryRequested, dg.DagsterError):
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise dg.Failure(
            description=f"{where}: {type(exc).__name__}: {exc} — not retried: this error is not "
                        "transient, so a retry would fail the same way. Fix the cause and run "
                        "again.",
            metadata={"error": dg.MetadataValue.text(type(exc).__name__)},
            allow_retries=False) from exc


def retries_only_transient(fn: Callable) -> Callable:
    """Decorate the body of every asset or op that has `TRANSIENT_RETRY` (under `@dg.asset`),
    so its retries are spent only on errors a retry can fix (see `is_transient`)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with fail_at_once_unless_transient(_step_and_days(fn.__name__, args)):
                yield from fn(*args, **kwargs)
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with fail_at_once_unless_transient(_step_and_days(fn.__name__, args)):
                return fn(*args, **kwargs)
    wrapper.retries_only_transient = True
    return wrapper


def _step_and_days(step: str, args: tuple) -> str:
    """"step raw_data (days 2025-01-01..2025-01-31)": where a failure happened."""
    context = args[0] if args and isinstance(args[0], dg.OpExecutionContext
                                             | dg.AssetExecutionContext) else None
    if context is None or not (context.has_partition_key or context.has_partition_key_range):
        return f"step {step}"
    days = context.partition_key_range
    return f"step {step} (day {days.start})" if days.start == days.end \
        else f"step {step} (days {days.start}..{days.end})"


def project_home() -> Path:
    return Path(os.environ.get("RETRAIN_ASSETS_HOME", ".retrain_home")).expanduser().resolve()


# The `gcs` fields hold a dagster-gcp GCSResource. They are typed as any resource so that
# dagster-gcp (which imports BigQuery and Dataproc clients: seconds) is imported only by setups
# that use gs:// locations, not by every run process of a local one.
GCS_FIELD = Field(
    default=None,
    description="dagster-gcp GCSResource used for gs:// URLs (share the one under the `gcs` "
                "resource key). Credentials never go here: the client reads them from the "
                "environment (GOOGLE_APPLICATION_CREDENTIALS, workload identity or the metadata "
                "server); without it a default GCSResource() is used.")


def open_store(url: str, gcs: dg.ConfigurableResource | None = None) -> ObjectStore:
    """A local folder, or a GCS bucket prefix through dagster-gcp's `GCSResource`."""
    if not url.startswith("gs://"):
        return LocalObjectStore(url)
    if gcs is None:
        from dagster_gcp import GCSResource

        gcs = GCSResource()
    if not callable(getattr(gcs, "get_client", None)):
        raise TypeError(f"{url}: the `gcs` setting must be a dagster-gcp GCSResource (it has "
                        f"get_client()), not {type(gcs).__name__}")
    return GCSObjectStore(gcs.get_client(), url)


class LandingZoneResource(dg.ConfigurableResource):
    """Where each day's files arrive: a local folder or `gs://bucket/prefix`."""

    url: str = Field(description="Local folder or gs://bucket/prefix holding one folder per day")
    gcs: dg.ConfigurableResource | None = GCS_FIELD

    def zone(self) -> LandingZone:
        return LandingZone(open_store(self.url, self.gcs))


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking server / store that is also the model registry."""

    tracking_uri: str = Field(description="e.g. sqlite:///path/mlflow.db or http://host:5000")
    experiment: str = "retrain_assets"
    model_name: str = Field(description="Registered model name; the champion is its alias")
    artifact_location: str | None = Field(
        default=None, description="Artifact root for a new experiment (folder or gs://...)")
    ui_url: str | None = Field(
        default=None, description="Base URL of the MLflow UI used for run links in metadata")
    dagster_ui_url: str | None = Field(
        default=None, description="Base URL of the Dagster UI, for the link from each MLflow "
                                  "run back to its Dagster run (the alerts' `dagster_ui_url`)")

    def registry(self) -> ModelRegistry:
        return ModelRegistry(tracking_uri=self.tracking_uri, experiment=self.experiment,
                             model_name=self.model_name, artifact_location=self.artifact_location,
                             ui_url=self.ui_url)

    def dagster_run_url(self, run_id: str) -> str | None:
        return f"{self.dagster_ui_url.rstrip('/')}/runs/{run_id}" if self.dagster_ui_url else None


class PartitionFrames(Mapping[str, pd.DataFrame]):
    """Stored partitions of a DataFrame asset, loaded one at a time on access.

    Models read weeks of partitions; loading lazily keeps memory to what the asset asks for.
    Days that were requested but never stored (rejected by their contract) are simply absent.
    `held`: frames of these partitions still in memory (`_HandOver`), each returned as it is
    the first time it is asked for and then let go (read from storage after that), so a
    many-day run holds no more than its upstream step did.
    """

    def __init__(self, store: ObjectStore, asset_path: str, keys: list[str],
                 held: Mapping[str, pd.DataFrame] | None = None):
        self._store, self._asset_path, self._keys = store, asset_path, keys
        self._held = held or {}

    def __getitem__(self, key: str) -> pd.DataFrame:
        if key not in self._keys:
            raise KeyError(key)
        if key in self._held:
            return self._held.pop(key)
        return read_parquet(self._store.read_bytes(f"{self._asset_path}/{key}.parquet"))

    def __contains__(self, key: object) -> bool:  # without loading the frame, as Mapping's would
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class _HandOver:
    """The partition frames this process stored last, kept for the next step of the same run
    that loads them (features right after raw_data in one run), which then reads them from
    memory instead of back from storage; they are still stored. One output at a time, given up
    to the first step that loads it (or replaced by the next output stored), so at most one
    step's frames outlive it. A frame is kept only when it is exactly what a read would return
    (a default row index)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], dict[str, pd.DataFrame]] = {}

    def keep(self, run_id: str | None, asset_path: str, frames: dict[str, pd.DataFrame]) -> None:
        self._kept = {} if run_id is None else {(run_id, asset_path): {
            key: frame for key, frame in frames.items()
            if frame.index.equals(pd.RangeIndex(len(frame)))}}

    def take(self, run_id: str | None, asset_path: str) -> dict[str, pd.DataFrame]:
        return self._kept.pop((run_id, asset_path), {})


_HANDED_OVER = _HandOver()


def _run_id(context: dg.OutputContext | None) -> str | None:
    """The run an output was stored by, if the context knows it (a context built by hand in a
    test may not)."""
    try:
        return context.run_id if context is not None else None
    except dg.DagsterInvariantViolationError:
        return None


class ParquetIOManager(dg.ConfigurableIOManager):
    """DataFrames as one Parquet file per partition; small values (model references, reports)
    as JSON, a typed value through its `to_dict`, read back with the `from_dict` of the type the
    reading input is annotated with. Never pickles: what is stored can be read by any tool, and
    nothing is executed.

    An unpartitioned value is stored per run (`<asset>/runs/<run_id>.json`) and read from the
    run that produced it, never as "the latest file": a retry, a re-execution from failure or a
    concurrent run reads its own candidate, not whichever run wrote last.
    """

    url: str = Field(description="Local folder or gs://bucket/prefix for asset storage")
    gcs: dg.ConfigurableResource | None = GCS_FIELD

    def _store(self) -> ObjectStore:
        return open_store(self.url, self.gcs)

    def day_profiles(self, asset: str) -> DayProfiles:
        return DayProfiles(self._store(), asset)

    def stored_partitions(self, asset_key: dg.AssetKey, after: str | None = None
                          ) -> PartitionFrames:
        """The stored partitions of a DataFrame asset after day `after`, read on access: for a
        step that takes whichever days exist rather than a partition range."""
        store, path = self._store(), "/".join(asset_key.path)
        days = sorted(day for o in store.list(f"{path}/") if o.key.endswith(".parquet")
                      and "/" not in (day := o.key[len(path) + 1:-len(".parquet")])
                      and (after is None or day > after))
        return PartitionFrames(store, path, days)

    @staticmethod
    def _asset_path(context: dg.OutputContext | dg.InputContext) -> str:
        return "/".join(context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        with fail_at_once_unless_transient(f"storing {context.asset_key.to_user_string()}"):
            self._handle_output(context, obj)

    def load_input(self, context: dg.InputContext):
        with fail_at_once_unless_transient(f"loading {context.asset_key.to_user_string()}"):
            return self._load_input(context)

    def _handle_output(self, context: dg.OutputContext, obj) -> None:
        store, path = self._store(), self._asset_path(context)
        if not context.has_asset_partitions:
            key = run_value_key(path, context.run_id)
            value = obj.to_dict() if callable(getattr(obj, "to_dict", None)) else obj
            store.write_bytes(key, json.dumps(value, indent=2, default=str).encode())
            context.add_output_metadata({"stored_at": dg.MetadataValue.path(
                join_url(store.url, key))})
            return
        stored = {}
        for key in context.asset_partition_keys:
            frame = obj.get(key)
            if frame is None:  # rejected day: nothing to store, the check says why
                continue
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            store.write_bytes(f"{path}/{key}.parquet", buffer.getvalue())
            stored[key] = frame
        _HANDED_OVER.keep(_run_id(context), path, stored)
        context.add_output_metadata({"stored_at": dg.MetadataValue.path(join_url(store.url,
                                                                                   path))})

    def _load_input(self, context: dg.InputContext):
        store, path = self._store(), self._asset_path(context)
        if not context.has_asset_partitions:
            return self._load_run_value(context, store, path)
        stored = {o.key[len(path) + 1:-len(".parquet")] for o in store.list(f"{path}/")
                  if o.key.endswith(".parquet")}
        wanted = list(context.asset_partition_keys)
        available = [k for k in wanted if k in stored]
        if len(wanted) == 1 and not available:
            raise dg.Failure(
                f"{context.asset_key.to_user_string()}[{wanted[0]}] has no stored data: it was "
                "never materialized, or its contract check rejected the day (see the check's "
                "metadata and the landing zone's _quarantine folder). Fix the day upstream and "
                "materialize it again.", allow_retries=False)
        return PartitionFrames(store, path, available,
                               _HANDED_OVER.take(_run_id(context.upstream_output), path))

    @staticmethod
    def _load_run_value(context: dg.InputContext, store: ObjectStore, path: str):
        asset = context.asset_key.to_user_string()
        run_id = producing_run(context)
        if run_id is None:
            raise dg.Failure(f"{asset} has never been materialized. Materialize it first.",
                             allow_retries=False)
        key = run_value_key(path, run_id)
        if not store.exists(key):
            raise dg.Failure(
                f"{asset} from run {run_id} is not stored (nothing at {join_url(store.url, key)}"
                "): the run did not finish storing it, or it was materialized by a version "
                f"that stored values elsewhere. Materialize {asset} again.",
                allow_retries=False)
        return _typed(context, json.loads(store.read_bytes(key)))


def _typed(context: dg.InputContext, value):
    """The stored JSON as the input's annotated type when that type reads itself from a dict
    (`from_dict`, e.g. `EvaluationReport`); as the plain value otherwise."""
    try:
        from_dict = getattr(context.dagster_type.typing_type, "from_dict", None)
    except dg.DagsterInvariantViolationError:  # a context built without a type
        return value
    return from_dict(value) if callable(from_dict) else value


def run_value_key(asset_path: str, run_id: str) -> str:
    return f"{asset_path}/runs/{run_id}.json"


def producing_run(context: dg.InputContext) -> str | None:
    """The run whose value of an unpartitioned input this step must read.

    Dagster names it when the producer is in this run or in the run this one re-executes (the
    parent run's, for a step not re-executed). For an input whose producer is in neither (e.g.
    `evaluation_report` materialized alone) Dagster passes a placeholder, not a run: that input
    reads the run of the asset's latest materialization.
    """
    try:
        run_id = context.upstream_output.run_id
    except dg.DagsterInvariantViolationError:
        run_id = None
    if run_id is not None and context.instance.has_run(run_id):
        return run_id
    event = context.instance.get_latest_materialization_event(context.asset_key)
    return event.run_id if event else None


class DayProfiles:
    """Each stored day's landing record and content hashes (`core.volume`), kept under
    `_profiles/<asset>/` in the asset storage, next to the partitions they describe."""

    def __init__(self, store: ObjectStore, asset: str):
        self._store, self._asset = store, asset
        self._folder = f"_profiles/{asset}"

    def is_stored(self, day: str) -> bool:
        """Whether the asset holds data for the day (from whichever landing)."""
        return self._store.exists(f"{self._asset}/{day}.parquet")

    def record(self, day: str) -> LandingRecord | None:
        try:  # one request, not exists + read: training reads a record per day of its window
            return LandingRecord.from_json(self._store.read_bytes(f"{self._folder}/{day}.json"))
        except FileNotFoundError:
            return None

    def profile(self, day: str) -> DayProfile | None:
        record = self.record(day)
        if record is None:
            return None
        return DayProfile(record, hashes_from_bytes(
            self._store.read_bytes(f"{self._folder}/{day}.hashes.parquet")))

    def write(self, profile: DayProfile) -> None:
        """Hashes first: a record is only ever read with its hashes in place."""
        day = profile.record.day
        self._store.write_bytes(f"{self._folder}/{day}.hashes.parquet",
                                hashes_to_bytes(profile.content_hashes))
        self.write_record(profile.record)

    def write_record(self, record: LandingRecord) -> None:
        self._store.write_bytes(f"{self._folder}/{record.day}.json", record.to_json())
