"""Dagster's own cost for the ingest benchmarks' shape, with no data work: a code location.

The same two assets as the product's taxi model (taxi/raw_data → taxi/features: its names, daily
partitions and backfill policy, from its YAML), its per-day checks (the blocking `contract`,
raw_data's arrival checks), Dagster's freshness check and the in-process executor, run through
the same routes as the product's runs. Each step reads, validates and stores nothing: it reports
its days as passing. So its run records the same events as the product's (run, step, and per
day a planned materialization, a materialization and a check evaluation for each check;
test_bench.py checks the counts match), and its time is what Dagster charges for that shape on
this instance. Taken from our figure, the rest is what the product adds on top of the
orchestrator.
"""

import dagster as dg

from bench.workload import shipped_project
from retrain_assets.pipeline.assets.ingest import build_ingest_job
from retrain_assets.pipeline.checks import (
    PartitionOutcome,
    arrival_specs,
    build_freshness_checks,
    contract_spec,
    partition_check_results,
)
from retrain_assets.pipeline.project import Project


class NothingStored(dg.IOManager):
    def handle_output(self, context: dg.OutputContext, obj) -> None:
        pass

    def load_input(self, context: dg.InputContext) -> None:
        return None


def _all_days_pass(context: dg.AssetExecutionContext):
    yield dg.Output(None)
    for spec in context.assets_def.check_specs:
        yield from partition_check_results(context, context.asset_key, spec.name, [
            PartitionOutcome(day, True, f"{day}: {spec.name} holds", {})
            for day in context.partition_keys], what=f"fail {spec.name}", blocking=spec.blocking)


def build_floor_definitions(project: Project | None = None) -> dg.Definitions:
    """The floor of `project` (default: the shipped taxi model's)."""
    project = project or shipped_project()
    names = project.names

    def shaped_like(key: dg.AssetKey, *more_checks: dg.AssetCheckSpec, **kwargs):
        return dg.asset(key=key, partitions_def=project.partitions,
                        backfill_policy=project.backfill_policy, io_manager_key="nothing_stored",
                        check_specs=[contract_spec(key, project.partitions,
                                                   "no rule (a bench floor)"), *more_checks],
                        **kwargs)

    @shaped_like(names.raw_data, *arrival_specs(names.raw_data, project.partitions,
                                                project.volume))
    def raw_data(context: dg.AssetExecutionContext):
        yield from _all_days_pass(context)

    @shaped_like(names.features, ins={"raw_data": dg.AssetIn(names.raw_data)})
    def features(context: dg.AssetExecutionContext, raw_data):
        yield from _all_days_pass(context)

    return dg.Definitions(
        assets=[raw_data, features],
        asset_checks=build_freshness_checks(names.raw_data, project.freshness_deadline_cron),
        jobs=[build_ingest_job(project)],
        resources={"nothing_stored": NothingStored()},
        executor=dg.in_process_executor)


defs = build_floor_definitions()
