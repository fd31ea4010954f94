"""The names one pipeline's definitions carry: asset keys, jobs, sensors, groups, resources."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Names:
    """Every name one pipeline's definitions carry, made in one place.

    A pipeline with a `model` name (one `RetrainingPipeline` component instance) prefixes its
    asset keys (`taxi/raw_data`) and names its groups, jobs, sensors and resources after it
    (`taxi_training_job`), so several pipelines share a code location without sharing state.
    Without one (a single pipeline built in Python), the bare names.
    """

    model: str | None = None

    def asset(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([self.model, name] if self.model else [name])

    def of(self, name: str) -> str:
        """A job, sensor, schedule, group or resource key of this pipeline."""
        return f"{self.model}_{name}" if self.model else name

    @staticmethod
    def op(key: dg.AssetKey) -> str:
        """The op of an asset, as run config names it (`taxi__candidate_model`)."""
        return "__".join(key.path)

    def resource(self, context, name: str):
        """This pipeline's resource `name` from a step's or a sensor's context. (A sensor called
        directly is also handed its resources as keywords, which its `**_on_context` takes.)"""
        return getattr(context.resources, self.of(name))

    raw_data = property(lambda self: self.asset("raw_data"))
    features = property(lambda self: self.asset("features"))
    candidate_model = property(lambda self: self.asset("candidate_model"))
    evaluation_report = property(lambda self: self.asset("evaluation_report"))
    production_model = property(lambda self: self.asset("production_model"))
    promotion_history = property(lambda self: self.asset("promotion_history"))
    predictions = property(lambda self: self.asset("predictions"))
    drift_report = property(lambda self: self.asset("drift_report"))
    labels = property(lambda self: self.asset("labels"))
    performance = property(lambda self: self.asset("performance"))
    shadow_report = property(lambda self: self.asset("shadow_report"))
    ingest_job = property(lambda self: self.of("ingest_job"))
    training_job = property(lambda self: self.of("training_job"))
    scoring_job = property(lambda self: self.of("scoring_job"))
    rollback_job = property(lambda self: self.of("rollback_job"))
    approve_job = property(lambda self: self.of("approve_job"))
    shadow_decision_job = property(lambda self: self.of("shadow_decision_job"))
