"""What a user sees in the Dagster UI, in a real headless Chromium against `dagster dev`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.alerts import AlertRoute, OutcomeAlerts
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.sensors import FailureAlerts
from retrain_assets_tests.conftest import Shipped, land, load_shipped, sensor_tick
from retrain_assets_tests.dagster_dev import REPO, dagster_dev
from retrain_assets_tests.graphql import (
    CODE_LOCATIONS,
    FINISHED,
    LAUNCH_RUN,
    RUN_STATUS,
    execution_params,
    launched_run_id,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
STAGES = {"ingestion": ["raw_data", "features"],
          "training": ["candidate_model", "evaluation_report"],
          "deployment": ["production_model"],
          "monitoring": ["predictions"]}
MODELS = ("taxi", "churn")  # the shipped models: each has its own groups
GROUPS = [Names(model).of(stage) for model in MODELS for stage in STAGES]
WAIT_MS = 180_000  # generous: the UI loads the code location on a busy 2-core machine


@pytest.fixture
def page() -> Iterator:
    if not CHROMIUM.is_file():
        pytest.fail("Chromium not found at /usr/bin/chromium — install it with "
                    "`apt-get install -y chromium`", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.set_default_timeout(WAIT_MS)
            yield page
            shoot(page, "last-page")  # where the test ended, pass or fail
        finally:
            browser.close()


def graphql(page, url: str, query: str, variables: dict | None = None) -> dict:
    response = page.request.post(f"{url}/graphql",
                                 data={"query": query, "variables": variables or {}})
    assert response.ok, f"POST /graphql answered {response.status}: {response.text()}"
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for_run(page, url: str, run_id: str, deadline_s: float = 600) -> str:
    """Poll the run's status over GraphQL as the UI does; the deadline only stops a hang."""
    deadline = time.monotonic() + deadline_s
    while True:
        status = graphql(page, url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in FINISHED:
            return status
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(2)


@pytest.fixture
def taxi(home, instance, monkeypatch) -> tuple[Shipped, list[str]]:
    """The shipped taxi model and nine days landed for it, up to yesterday: the shipped code
    location has a partition for every day from RETRAIN_ASSETS_START_DATE to yesterday, so it
    starts at the first landed day and has no day without data. The first eight are ingested
    in-process as one backfill run and a first champion trained on them. Requested before
    `page`: an in-process run inside Playwright's running event loop leaves Dagster's
    event-loop clean-up un-awaited (a RuntimeWarning)."""
    first = datetime.now(UTC).date() - timedelta(days=9)
    monkeypatch.setenv("RETRAIN_ASSETS_START_DATE", first.isoformat())  # for `dagster dev` too
    shipped = load_shipped()
    days = land(shipped.landing, first, 9, rows=150)
    assert run_job(shipped.defs, shipped.names.ingest_job, instance, days=days[:8]).success
    assert run_job(shipped.defs, shipped.names.training_job, instance,
                   run_config=shipped.small_training).success
    return shipped, days


UNDERTRAINED = {"max_iter": 2, "learning_rate": 0.01}  # cannot beat the champion: not blessed


@dataclass(frozen=True)
class Rejection:
    """A training run whose candidate was rightly not blessed, and what the alert sensors did
    about the runs since their first tick."""

    run_id: str
    failed_run_id: str  # a run that did fail, so the failure sensor is seen to page
    champion: str
    failure_reactions: list[str]  # run ids run_failure_alert reacted to
    slack: list[dict]


@pytest.fixture
def rejection(taxi, instance, slack) -> Rejection:
    """After the first champion, an undertrained candidate (rightly not blessed) and a rollback
    to a version that does not exist (a real failure), with run_failure_alert and
    outcome_alert_sensor ticked before and after as the daemon ticks them, both routed to
    Slack. In-process, before `page`, for the reason `taxi` gives."""
    shipped, _ = taxi
    names = shipped.names
    resources = {
        names.of("alerts"): FailureAlerts(slack_token="xoxb-test", slack_channel="#ml-alerts"),
        names.of("outcome_alerts"): OutcomeAlerts(
            slack_token="xoxb-test", not_blessed_in_a_row=1,
            routes=[AlertRoute(kinds=["not_blessed"], slack_channel="#ml-outcomes")])}
    sensors = [names.of("run_failure_alert"), names.of("outcome_alert_sensor")]
    started = {sensor: sensor_tick(shipped.defs, sensor, instance, resources).cursor
               for sensor in sensors}
    training = shipped.small_training
    training["ops"][names.op(names.candidate_model)]["config"].update(UNDERTRAINED)
    rejected = run_job(shipped.defs, names.training_job, instance, run_config=training)
    failed = run_job(shipped.defs, names.rollback_job, instance, run_config={
        "ops": {names.of("rollback_champion"): {"config": {"to": "99"}}}})
    assert rejected.success and not failed.success
    ticks = {sensor: sensor_tick(shipped.defs, sensor, instance, resources, started[sensor])
             for sensor in sensors}
    champion = shipped.defs.resources[names.of("mlflow")].registry().version_for(CHAMPION)
    return Rejection(
        run_id=rejected.run_id, failed_run_id=failed.run_id, champion=champion,
        failure_reactions=[r.dagster_run.run_id
                           for r in ticks[names.of("run_failure_alert")].dagster_run_reactions],
        slack=slack)


def test_the_ui_shows_graph_partitions_checks_and_runs_what_it_launches(taxi, rejection, page):
    """Ends with issue 17's rejected candidate: an outcome, not a failure, in the UI and the
    alerts. Screenshots of each page checked are kept in test-artifacts/ (CI's artifact
    folder)."""
    from playwright.sync_api import expect

    shipped, days = taxi
    names = shipped.names
    raw_data, evaluation_report, production_model = (
        f"assets/{names.asset(asset).to_user_string()}"
        for asset in ("raw_data", "evaluation_report", "production_model"))

    with dagster_dev(ARTIFACTS / "dagster-dev.log") as url:
        # what the "Join the Dagster community" dialog's Skip does, so it never covers the page
        graphql(page, url, "mutation { setNuxSeen }")
        # the asset graph: every group of both shipped models, expanded, with the core assets
        # inside
        open_page(page, f"{url}/asset-groups")
        for group in GROUPS:
            expect(page.get_by_text(group, exact=True).first).to_be_visible()
        expand = page.get_by_role("img", name="unfold_more")
        expect(expand).to_have_count(len(GROUPS))
        for _ in GROUPS:
            # expanding a group pushes the others out of the drawn area; the UI remembers
            # expanded groups and fits the whole graph into view when it is opened again
            expand.first.click()
            open_page(page, f"{url}/asset-groups")
            for group in GROUPS:  # sidebar label (+ its hidden width probe) and the graph node
                expect(page.get_by_text(group, exact=True)).to_have_count(3)
            if not expand.count():
                break
        for asset in (asset for assets in STAGES.values() for asset in assets):
            # a node shows the key's last part, in each model's group
            expect(page.get_by_text(asset, exact=True).filter(visible=True)).to_have_count(
                len(MODELS))
        shoot(page, "asset-graph")

        # a materialization launched through the UI's GraphQL API, for the last day
        location, = (entry["name"] for entry in graphql(page, url, CODE_LOCATIONS)
                     ["workspaceOrError"]["locationEntries"])
        run_id = launched_run_id(graphql(page, url, LAUNCH_RUN, {
            "executionParams": execution_params(location, names.ingest_job,
                                                partition=days[-1])}))
        assert wait_for_run(page, url, run_id) == "SUCCESS"
        open_page(page, f"{url}/runs/{run_id}")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        shoot(page, "launched-run")

        # raw_data's partitions: the days backfilled in-process plus the launched one, and no
        # partition without data
        open_page(page, f"{url}/{raw_data}?view=partitions")
        expect(page.get_by_text(f"Materialized ({len(days)})")).to_be_visible()
        expect(page.get_by_text("Missing (0)").first).to_be_visible()
        expect(page.get_by_text("Failed (0)")).to_be_visible()
        shoot(page, "raw-data-partitions")

        # a backfilled day shows its own row count, not the backfill run's total
        rows = len(pd.read_parquet(
            shipped.storage.joinpath(*names.raw_data.path, f"{days[0]}.parquet")))
        open_page(page, f"{url}/{raw_data}?view=partitions&partition={days[0]}")
        expect(page.get_by_text(str(rows), exact=True).first).to_be_visible()
        shoot(page, "backfilled-day")

        # the contract check's partitions: every backfilled day passed
        open_page(page, f"{url}/{raw_data}?view=checks&checkDetail=contract")
        page.locator("button[role=tab]", has_text="Partitions").click()  # the check's tab
        expect(page.get_by_text(f"Passed ({len(days)})").first).to_be_visible()
        expect(page.get_by_text("Missing (0)").first).to_be_visible()
        shoot(page, "contract-check-partitions")

        # the evaluation's verdict and holdout plot, in place on the check's page
        open_page(page, f"{url}/{evaluation_report}?view=checks")
        plot = page.get_by_role("img", name="predicted vs actual on the holdout")
        expect(plot).to_be_visible()
        expect(plot).to_be_in_viewport()
        shoot(page, "evaluation-report-plot")

        # the contract check and its latest result
        open_page(page, f"{url}/{raw_data}?view=checks")
        expect(page.get_by_text("contract", exact=True).first).to_be_visible()
        expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
        expect(page.get_by_text(f"{days[-1]}: contract holds").first).to_be_visible()
        shoot(page, "raw-data-checks")

        # a rejected candidate: an outcome, not a failure. Its run reads Success ...
        open_page(page, f"{url}/runs/{rejection.run_id}")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        expect(page.get_by_text("Failure", exact=True)).to_have_count(0)
        shoot(page, "rejected-candidate-run")
        # ... the champion's asset reads as materialized, never Failed ...
        open_page(page, f"{url}/{production_model}")
        expect(page.get_by_text("Latest materialization")).to_be_visible()
        expect(page.get_by_text("Failed", exact=True)).to_have_count(0)
        shoot(page, "rejected-candidate-production-model")
        # ... and its latest event is the `not promoted` observation saying why
        open_page(page, f"{url}/{production_model}?view=events")
        expect(page.get_by_text("Observed in run")).to_be_visible()  # the newest, opened
        expect(page.get_by_role("link", name=rejection.run_id[:8]).first).to_be_visible()
        expect(page.get_by_text("not promoted", exact=True).first).to_be_visible()
        expect(page.get_by_text("was not blessed; champion stays").first).to_be_visible()
        expect(page.get_by_text("Failed", exact=True)).to_have_count(0)
        shoot(page, "rejected-candidate-production-model-events")
        # ... and no failure alert: run_failure_alert paged about the failed run alone, while
        # the outcome route says the candidate was not blessed
        assert rejection.failure_reactions == [rejection.failed_run_id]
        assert [(m["channel"], m["text"].split(" ")[0]) for m in rejection.slack] == [
            ("#ml-alerts", ":red_circle:"), ("#ml-outcomes", ":warning:")]
        assert rejection.run_id not in rejection.slack[0]["text"]
        assert f"1 candidates in a row were not blessed; champion version " \
               f"{rejection.champion} keeps serving" in rejection.slack[1]["text"]
