"""Every Dagster private name (`dagster._...`) the pipeline and the benchmarks use, in one place.

Each is here because no public API does the job; an upgrade of Dagster that moves one breaks
this module alone, and `retrain_assets_tests/test_layers.py` keeps it the only one (besides
instance_storage.py, whose storage classes subclass Dagster's, and dev/).
"""

from __future__ import annotations

import importlib

# A check evaluation logged for one day of a backfill points at that day's materialization
# with this; `dg.AssetCheckEvaluation(target_materialization_data=...)` is public, its type not.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

# The status filter of `event_log_storage.get_asset_check_execution_history` takes this enum,
# which dagster does not export (drift_retrain_sensor reads only finished check executions).
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

# The clock Dagster validates partitions against (and its test helpers freeze): the landing
# sensor's "today" must agree with it, which `datetime.now` does not under a frozen clock.
from dagster._time import get_current_datetime

# The SMTP senders behind `make_email_on_run_failure_sensor`: the public API only wraps them in
# a run-failure sensor, and alerts send their own messages (not blessed, drift, decay).
from dagster._utils.alert import send_email_via_ssl, send_email_via_starttls

# For the benchmarks, which drive the daemons' own iterations in-process (the sensor daemon's
# gRPC tick, the backfill daemon, the run queue): Dagster has no public API to run one
# iteration of a daemon. Imported on first use: these modules take ~0.5 s to import, which no
# process of the code location should pay.
_DAEMON_SIDE = {
    "BACKFILL_ID_TAG": "dagster._core.storage.tags",
    "BulkActionStatus": "dagster._core.execution.backfill",
    "PartitionBackfill": "dagster._core.execution.backfill",
    "make_new_backfill_id": "dagster._core.utils",
    "InstigatorType": "dagster._core.scheduler.instigation",
    "ModuleTarget": "dagster._core.workspace.load_target",
    "create_test_daemon_workspace_context": "dagster._core.test_utils",
    "execute_backfill_iteration": "dagster._daemon.backfill",
    "QueuedRunCoordinatorDaemon": "dagster._daemon.run_coordinator.queued_run_coordinator_daemon",
    "GetCurrentRunsResult": "dagster._grpc.types",
}

__all__ = ["AssetCheckEvaluationTargetMaterializationData", "AssetCheckExecutionRecordStatus",
           "get_current_datetime", "send_email_via_ssl", "send_email_via_starttls",
           *_DAEMON_SIDE]


def __getattr__(name: str):
    if name not in _DAEMON_SIDE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_DAEMON_SIDE[name]), name)
