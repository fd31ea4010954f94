"""Dagster resources: where data lands, where assets are stored, where models are tracked.

Every location is a setting with an embedded default under one project-local home folder
(`RETRAIN_ASSETS_HOME`, default `./.retrain_home`), so swapping in GCS or an MLflow server is a
change of environment, not of asset code.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from retrain_assets.core.frames import read_parquet
from retrain_assets.landing import LandingZone
from retrain_assets.registry import ModelRegistry
from retrain_assets.storage import GCSObjectStore, LocalObjectStore, ObjectStore, join_url

# MLflow and object storage can blip (a restarting tracking server, a GCS 503, a network hiccup):
# every step that talks to them retries with exponential backoff (about 2s, 4s, 8s) before
# failing. Failures that retrying cannot fix are raised with `allow_retries=False`.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


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

    def registry(self) -> ModelRegistry:
        return ModelRegistry(tracking_uri=self.tracking_uri, experiment=self.experiment,
                             model_name=self.model_name, artifact_location=self.artifact_location,
                             ui_url=self.ui_url)


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
    as JSON. Never pickles: what is stored can be read by any tool, and nothing is executed."""

    url: str = Field(description="Local folder or gs://bucket/prefix for asset storage")
    gcs: dg.ConfigurableResource | None = GCS_FIELD

    def _store(self) -> ObjectStore:
        return open_store(self.url, self.gcs)

    @staticmethod
    def _asset_path(context: dg.OutputContext | dg.InputContext) -> str:
        return "/".join(context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        store, path = self._store(), self._asset_path(context)
        if not context.has_asset_partitions:
            store.write_bytes(f"{path}.json", json.dumps(obj, indent=2, default=str).encode())
            context.add_output_metadata({"stored_at": dg.MetadataValue.path(
                join_url(store.url, f"{path}.json"))})
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

    def load_input(self, context: dg.InputContext):
        store, path = self._store(), self._asset_path(context)
        if not context.has_asset_partitions:
            key = f"{path}.json"
            if not store.exists(key):
                raise dg.Failure(f"{context.asset_key.to_user_string()} has never been "
                                 f"materialized (nothing at {join_url(store.url, key)}). "
                                 "Materialize it first.", allow_retries=False)
            return json.loads(store.read_bytes(key))
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
