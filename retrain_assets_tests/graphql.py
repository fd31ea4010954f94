"""The GraphQL launchRun mutation the Dagster UI sends, for tests that launch runs like a user."""

from __future__ import annotations

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status } }
}
"""

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def execution_params(location: str, job: str, *, tags: dict[str, str] | None = None,
                     partition: str | None = None, run_config: dict | None = None) -> dict:
    """What the launchpad sends for `job` of the Definitions in code location `location`."""
    tags = {**(tags or {}), **({"dagster/partition": partition} if partition else {})}
    return {"selector": {"repositoryLocationName": location, "repositoryName": "__repository__",
                         "jobName": job},
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}


def launched_run_id(data: dict) -> str:
    """The run id from a launchRun response; anything else fails with what Dagster said."""
    result = data["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", f"launchRun failed: {result}"
    return result["run"]["runId"]

CODE_LOCATIONS = """
query CodeLocations {
  workspaceOrError { ... on Workspace { locationEntries { name } } }
}
"""
