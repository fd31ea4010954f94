"""The gate's settings in a model's YAML reach the retrains the sensors request."""

from retrain_assets.pipeline.assets.training import EvaluationConfig
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.sensors import RetrainPolicy


def test_segment_gates_set_in_the_retrain_policy_reach_evaluation_report():
    policy = RetrainPolicy(evaluation=EvaluationConfig(segment_columns=["pickup_zone"],
                                                       confidence=0.95))
    config = policy.run_config(Names("taxi"), change_day="2025-02-10")
    assert config["ops"]["taxi__evaluation_report"] == {"config": {
        "confidence": 0.95, "segment_columns": ["pickup_zone"]}}
    assert config["ops"]["taxi__candidate_model"] == {"config": {"change_day": "2025-02-10"}}
    assert RetrainPolicy().run_config(Names("taxi")) == {}
