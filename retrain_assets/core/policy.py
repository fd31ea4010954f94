"""When monitoring asks for a retrain: failed checks are remembered until they are answered.

A failed drift or decay check is a question the platform owes an answer to. While a retrain may
not start (one is in flight, or the last one monitoring asked for is too recent) the failure is
kept pending, not dropped; when a retrain may start, the failures still standing ask for one.
A failure stops standing when the check passes later (re-run on the same day, or on a later day
— the world is back to what the model knows), or when it measured a model that no longer
serves (another retrain already replaced it).

Before any champion exists there is nothing to monitor: the first one is trained once enough
days of features exist.

The retrain is told where the change began: the first day of the run of consecutive failing
days that ends at the newest failure, so training windows and the holdout can follow it
(`core.evaluation.split_window`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

FEATURE_DRIFT = "no_feature_drift"


@dataclass(frozen=True)
class CheckResult:
    """One evaluation of a monitoring check on one day's partition."""

    check: str
    partition: str
    passed: bool
    execution_id: int  # increases with time (the event log's storage id)
    score: float | None = None
    model_version: str | None = None  # the model the day was measured against
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> CheckResult:
        return cls(**data)


def newest_by_partition(results: Iterable[CheckResult]) -> dict[tuple[str, str], CheckResult]:
    """The latest evaluation of each (check, day)."""
    newest: dict[tuple[str, str], CheckResult] = {}
    for result in results:
        key = (result.check, result.partition)
        if key not in newest or result.execution_id > newest[key].execution_id:
            newest[key] = result
    return newest


def standing_failures(pending: Sequence[CheckResult], recent: Sequence[CheckResult], *,
                      seen: set[int], champion: str | None) -> list[CheckResult]:
    """Failures still owed a retrain: the pending ones plus new failures in `recent` (ids not
    in `seen`), less those answered since.

    A failure is answered when the same check passed later on that day or on a later day, or
    when it measured a model version other than the current `champion`.
    """
    candidates = newest_by_partition(
        [*pending, *(r for r in recent if not r.passed and r.execution_id not in seen)])
    passes = [r for r in recent if r.passed]
    standing = []
    for failure in candidates.values():
        answered = any(p.check == failure.check and p.partition >= failure.partition
                       and p.execution_id > failure.execution_id for p in passes)
        replaced = (champion is not None and failure.model_version is not None
                    and failure.model_version != champion)
        if not answered and not replaced:
            standing.append(failure)
    return sorted(standing, key=lambda f: (f.partition, f.check))


def change_start(recent: Sequence[CheckResult], day: str) -> str:
    """The first day of the run of consecutive days, ending at `day`, whose newest evaluation
    of some check failed: where the change the failures point at began."""
    failing = {key[1] for key, r in newest_by_partition(recent).items() if not r.passed}
    start = date.fromisoformat(day)
    while (start - timedelta(days=1)).isoformat() in failing:
        start -= timedelta(days=1)
    return start.isoformat()


def first_champion_due(has_champion: bool, days_with_features: int,
                       bootstrap_days: int) -> bool:
    """Train the first champion as soon as `bootstrap_days` days of features exist (0: never
    automatically); until one is blessed, every new day may ask again."""
    return not has_champion and bootstrap_days > 0 and days_with_features >= bootstrap_days


def worst_failure(failures: Sequence[CheckResult]) -> CheckResult:
    """Feature drift before decay, then the highest score: one clear cause to name."""
    return max(failures, key=lambda f: (f.check == FEATURE_DRIFT, f.score or 0.0, f.partition))


@dataclass(frozen=True)
class RetrainRequest:
    """What monitoring asks training for, and why (becomes the run's tags and config)."""

    trigger: str  # "drift" or "performance_decay"
    failures: tuple[CheckResult, ...]
    change_day: str

    def tags(self) -> dict[str, str]:
        worst = worst_failure(self.failures)
        by_check: dict[str, list[str]] = {}
        for failure in self.failures:
            by_check.setdefault(failure.check, []).append(failure.partition)
        return {
            "retrain/check": f"drift_report:{worst.check}",
            "retrain/partition": max(f.partition for f in self.failures),
            "retrain/score": f"{worst.score:.4f}" if worst.score is not None else "",
            "retrain/failed_checks": str(len(self.failures)),
            "retrain/checks": "; ".join(f"{check}: {', '.join(sorted(days))}"
                                        for check, days in sorted(by_check.items())),
            "retrain/change_day": self.change_day,
        }


def retrain_request(standing: Sequence[CheckResult],
                    recent: Sequence[CheckResult]) -> RetrainRequest | None:
    """One retrain answering every standing failure, or None when none stands."""
    if not standing:
        return None
    worst = worst_failure(standing)
    newest = max(f.partition for f in standing)
    return RetrainRequest(trigger="drift" if worst.check == FEATURE_DRIFT else "performance_decay",
                          failures=tuple(standing),
                          change_day=change_start([*recent, *standing], newest))
