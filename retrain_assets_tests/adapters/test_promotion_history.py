"""The promotion history in the MLflow registry: append-only, and what a rollback walks."""

from datetime import UTC, datetime, timedelta

import pytest

from retrain_assets.adapters.registry import (
    AWAITING_APPROVAL,
    CHAMPION,
    PREVIOUS,
    Actor,
    ApprovalError,
    ModelRegistry,
)

ALICE = Actor(run_id="run-a", user="alice")


@pytest.fixture
def registry(home) -> ModelRegistry:
    registry = ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                             experiment="history", model_name="audited")
    registry.client.create_registered_model("audited")
    for i in range(5):
        registry.client.create_model_version("audited", source=str(home / f"m{i}"))
    return registry


def _moves(registry: ModelRegistry) -> list[tuple]:
    return [(r.action, r.from_version, r.to_version) for r in registry.history()]


def test_three_promotions_and_two_rollbacks_leave_the_right_champion_and_a_full_record(registry):
    for version, champion in (("1", None), ("2", "1"), ("3", "2")):
        registry.promote(version, expected_champion=champion, reason=f"blessed {version}",
                         actor=Actor(run_id=f"train-{version}", user="sensor drift"))
    assert registry.version_for(PREVIOUS) == "2"

    registry.rollback(reason="3 misbehaves", actor=ALICE)
    assert registry.version_for(CHAMPION) == "2" and registry.version_for(PREVIOUS) == "1"
    # a second rollback goes further back, never to the model just rolled back from
    registry.rollback(reason="2 too", actor=Actor(run_id="run-b", user="bob"))
    assert registry.version_for(CHAMPION) == "1" and registry.version_for(PREVIOUS) is None

    assert _moves(registry) == [("promote", None, "1"), ("promote", "1", "2"),
                                ("promote", "2", "3"), ("rollback", "3", "2"),
                                ("rollback", "2", "1")]
    history = registry.history()
    assert [r.seq for r in history] == [1, 2, 3, 4, 5]
    assert [(r.run_id, r.user, r.reason) for r in history[3:]] == [
        ("run-a", "alice", "3 misbehaves"), ("run-b", "bob", "2 too")]
    tags = {v: registry.client.get_model_version("audited", v).tags for v in ("1", "2", "3")}
    # rollbacks keep each version's own promotion reason; every record has a tag of its own
    assert [tags[v]["promotion_reason"] for v in ("1", "2", "3")] == \
        ["blessed 1", "blessed 2", "blessed 3"]
    assert sorted(k for k in tags["2"] if k.startswith("history.")) == \
        ["history.000002", "history.000004"]

    with pytest.raises(ValueError, match="no champion before version 1; give a version number"):
        registry.rollback(reason="once more", actor=ALICE)
    registry.rollback("3", reason="fixed upstream after all", actor=ALICE)
    assert registry.version_for(CHAMPION) == "3" and registry.version_for(PREVIOUS) == "2"
    assert len(registry.history()) == 6


def _park(registry: ModelRegistry, version: str, expires_in: timedelta) -> datetime:
    now = datetime.now(UTC)
    registry.request_approval(version, expected_champion="1", reason="beats 1 by 4%",
                              expires_at=now + expires_in, actor=Actor("train-x", "sensor drift"))
    return now


def test_a_blessed_candidate_waits_until_a_person_approves_it(registry):
    registry.promote("1", expected_champion=None, reason="bootstrap", actor=ALICE)
    now = _park(registry, "2", timedelta(hours=72))
    assert registry.version_for(CHAMPION) == "1"
    assert registry.version_for(AWAITING_APPROVAL) == "2"
    assert registry.pending_approval().expected_champion == "1"

    version, moves = registry.decide_approval(None, approve=True, reason="report reviewed",
                                              actor=Actor("approve-1", "carol"), now=now)
    assert version == "2" and registry.version_for(CHAMPION) == "2"
    assert registry.version_for(AWAITING_APPROVAL) is None
    assert _moves(registry)[-2:] == [("await_approval", "1", "2"), ("approve", "1", "2")]
    assert registry.history()[-1].user == "carol"
    # an approved version rolls back like a promoted one
    registry.rollback(reason="regret", actor=ALICE)
    assert registry.version_for(CHAMPION) == "1"


def test_an_expired_or_rejected_candidate_moves_nothing_and_is_recorded(registry):
    registry.promote("1", expected_champion=None, reason="bootstrap", actor=ALICE)
    now = _park(registry, "2", timedelta(hours=1))
    with pytest.raises(ApprovalError, match="version 2 waited for approval until .* expired"):
        registry.decide_approval("2", approve=True, reason="late", actor=ALICE,
                                 now=now + timedelta(hours=2))
    assert registry.version_for(CHAMPION) == "1"
    assert registry.version_for(AWAITING_APPROVAL) is None
    assert _moves(registry)[-1] == ("expire", "1", "2")

    _park(registry, "3", timedelta(hours=1))
    with pytest.raises(ApprovalError, match="version 3 is awaiting approval .* not 2"):
        registry.decide_approval("2", approve=True, reason="wrong one", actor=ALICE, now=now)
    registry.decide_approval("3", approve=False, reason="segment airport regresses",
                             actor=Actor("approve-2", "dave"), now=now)
    assert registry.version_for(CHAMPION) == "1"
    assert _moves(registry)[-1] == ("reject", "1", "3")
    verdict = registry.client.get_model_version("audited", "3").tags["verdict"]
    assert verdict == "rejected by dave: segment airport regresses"
