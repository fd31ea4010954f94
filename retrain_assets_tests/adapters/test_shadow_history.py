"""A shadow challenger's alias moves in the registry, each on the promotion history."""

import pytest

from retrain_assets.adapters.registry import CHALLENGER, CHAMPION, PREVIOUS, Actor, ModelRegistry

SENSOR = Actor(run_id="run-s", user="sensor taxi_shadow_sensor")


@pytest.fixture
def registry(home) -> ModelRegistry:
    registry = ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                             experiment="shadow", model_name="shadowed")
    registry.client.create_registered_model("shadowed")
    for i in range(4):
        registry.client.create_model_version("shadowed", source=str(home / f"m{i}"))
    registry.promote("1", expected_champion=None, reason="first", actor=SENSOR)
    return registry


def _records(registry: ModelRegistry) -> list[tuple]:
    return [(r.action, r.from_version, r.to_version, r.reason) for r in registry.history()[1:]]


def test_a_replaced_challenger_is_retired_and_a_winner_becomes_champion_on_record(registry):
    registry.start_shadow("2", champion="1", reason="blessed 2", actor=SENSOR)
    assert registry.version_for(CHALLENGER) == "2" and registry.version_for(CHAMPION) == "1"
    registry.start_shadow("3", champion="1", reason="blessed 3", actor=SENSOR)
    assert registry.version_for(CHALLENGER) == "3"

    moves = registry.end_shadow("3", promote=True, reason="5 wins", actor=SENSOR)
    registry.clear_challenger("3")

    assert registry.version_for(CHAMPION) == "3" and registry.version_for(CHALLENGER) is None
    assert registry.version_for(PREVIOUS) == "1"  # a rollback would go back to 1
    assert [(m.alias, m.from_version, m.to_version) for m in moves] == [
        (CHAMPION, "1", "3"), (PREVIOUS, None, "1"), (CHALLENGER, "3", "none")]
    assert _records(registry) == [
        ("shadow_start", "1", "2", "shadow start: blessed 2"),
        ("shadow_retire", "1", "2", "shadow end: retired: replaced by blessed version 3"),
        ("shadow_start", "1", "3", "shadow start: blessed 3"),
        ("shadow_promote", "1", "3", "shadow end: promoted: 5 wins")]
    assert {(r.run_id, r.user) for r in registry.history()[1:]} == {
        ("run-s", "sensor taxi_shadow_sensor")}


def test_a_retired_challenger_leaves_the_champion_and_says_why(registry):
    registry.start_shadow("2", champion="1", reason="blessed 2", actor=SENSOR)

    registry.end_shadow("2", promote=False, reason="lost 5 of 7 days", actor=SENSOR)
    registry.end_shadow("2", promote=False, reason="lost 5 of 7 days", actor=SENSOR)  # retried
    registry.clear_challenger("2")

    assert registry.version_for(CHAMPION) == "1" and registry.version_for(CHALLENGER) is None
    assert [r[0] for r in _records(registry)] == ["shadow_start", "shadow_retire"]
    assert _records(registry)[-1] == ("shadow_retire", "1", "2",
                                      "shadow end: retired: lost 5 of 7 days")
    tags = registry.client.get_model_version("shadowed", "2").tags
    assert tags["verdict"] == "retired from shadow: lost 5 of 7 days"
    with pytest.raises(ValueError, match="version 2 of 'shadowed' is not the challenger"):
        registry.end_shadow("2", promote=True, reason="again", actor=SENSOR)


def test_a_retried_promotion_from_shadow_completes_without_touching_previous(registry):
    """The first attempt moved the champion and then failed (before the caller recorded it
    and cleared the challenger): the retry finds the challenger and completes the promotion."""
    registry.start_shadow("2", champion="1", reason="blessed 2", actor=SENSOR)
    registry.end_shadow("2", promote=True, reason="5 wins", actor=SENSOR)
    assert registry.version_for(CHALLENGER) == "2", "cleared only by the caller, at its end"

    moves = registry.end_shadow("2", promote=True, reason="5 wins", actor=SENSOR)
    registry.clear_challenger("2")

    assert (registry.version_for(CHAMPION), registry.version_for(PREVIOUS)) == ("2", "1")
    assert [(m.alias, m.from_version, m.to_version) for m in moves][0] == (CHAMPION, "1", "2")
    assert [r[:3] for r in _records(registry)] == [("shadow_start", "1", "2"),
                                                   ("shadow_promote", "1", "2")]


def test_a_retried_shadow_start_records_it_once(registry):
    """The first attempt moved the alias and recorded the start, then the step failed: the
    retry finds the shadow started and records nothing more."""
    registry.start_shadow("2", champion="1", reason="blessed 2", actor=SENSOR)

    assert registry.start_shadow("2", champion="1", reason="blessed 2", actor=SENSOR) == []

    assert registry.version_for(CHALLENGER) == "2"
    assert _records(registry) == [("shadow_start", "1", "2", "shadow start: blessed 2")]


def test_a_champion_promoted_from_shadow_was_judged_through_the_days_it_shadowed(registry, home):
    """champion_window reads the same window as version_window: the follow-up of a change
    weighs the live days the shadow judged the champion on, not its older holdout."""
    run = registry.client.create_run(registry._activate(), tags={
        "train_days": "2025-01-01..2025-01-20", "holdout_days": "2025-01-21..2025-01-22"})
    version = str(registry.client.create_model_version(
        "shadowed", source=str(home / "m"), run_id=run.info.run_id).version)
    for key, value in (("holdout_days", "2025-01-21..2025-01-22"),
                       ("trained_from_change", "no")):  # as log_candidate tags it
        registry.client.set_model_version_tag("shadowed", version, key, value)
    registry.start_shadow(version, champion="1", reason="blessed", actor=SENSOR)
    registry.end_shadow(version, promote=True, reason="5 wins", actor=SENSOR,
                        judged_through="2025-01-30")

    window = registry.version_window(version)
    assert (window.last_train_day, window.last_judged_day) == ("2025-01-20", "2025-01-30")
    champion = registry.champion_window()
    assert (champion.version, champion.holdout_end, champion.trained_from) == (
        version, "2025-01-30", None)
