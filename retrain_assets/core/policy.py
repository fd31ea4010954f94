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

A change stays open until the training window lies after it. A candidate blessed early in a
change, before enough new rows existed to train from it, is judged (and later monitored) on rows
after the change: its own decay baseline already has the change in it, so its checks pass while
it serves the old relationship. While such a champion serves, the change asks for a follow-up
retrain as soon as the rows since it make a window that starts there; once a champion trained
from it serves, a follow-up each time the rows since the change have doubled, so the first
model of the new world, fitted on a day or two of it, does not serve for good
(`change_follow_up`).

Feature drift alone that persists while the champion its retrain measured still serves (the
candidate trained on the drifted rows was not better) asks again only once the rows since the
change have doubled (`drift_held_back`): moved inputs the model handles are not a reason to
retrain every day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

from retrain_assets.core.evaluation import TrainingWindow, WindowSettings, split_window

FEATURE_DRIFT = "no_feature_drift"
ESTIMATED_DECAY = "no_estimated_performance_decay"  # decay of the estimate before labels
CHANGE_FOLLOW_UP = "change_follow_up"  # the trigger of a retrain asked for by an open change


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
    asset: str = "drift_report"  # the asset checked (`performance` for a label-fed decay)

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

    trigger: str  # "drift", "performance_decay" or "estimated_decay"
    failures: tuple[CheckResult, ...]
    change_day: str

    @property
    def newest_day(self) -> str:
        return max(f.partition for f in self.failures)

    @property
    def drift_only(self) -> bool:
        """Asked for by feature drift alone: the inputs moved, no metric said worse."""
        return all(f.check == FEATURE_DRIFT for f in self.failures)

    def tags(self) -> dict[str, str]:
        worst = worst_failure(self.failures)
        by_check: dict[str, list[str]] = {}
        for failure in self.failures:
            by_check.setdefault(failure.check, []).append(failure.partition)
        return {
            "retrain/check": f"{worst.asset}:{worst.check}",
            "retrain/partition": self.newest_day,
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
    trigger = {FEATURE_DRIFT: "drift", ESTIMATED_DECAY: "estimated_decay"}.get(
        worst.check, "performance_decay")
    return RetrainRequest(trigger=trigger,
                          failures=tuple(standing),
                          change_day=change_start([*recent, *standing], newest))


@dataclass(frozen=True)
class DriftAsk:
    """The last retrain asked for by feature drift alone: the champion the failures measured,
    the day the change began and the rows since that day then."""

    champion: str
    change_day: str
    rows_since: int

    def summary(self) -> str:
        return (f"the last retrain for feature drift alone measured champion version "
                f"{self.champion} with {self.rows_since} rows since the change from "
                f"{self.change_day}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> DriftAsk:
        return cls(**data)

    @classmethod
    def after(cls, request: RetrainRequest, last: DriftAsk | None, champion: str | None,
              rows_since: int) -> DriftAsk | None:
        """What is remembered once `request` is asked for: itself when drift alone asked."""
        if champion is None or not request.drift_only:
            return last
        return cls(champion, request.change_day, rows_since)


def drift_held_back(request: RetrainRequest, last: DriftAsk | None, champion: str | None,
                    rows_since: int) -> str | None:
    """Why a retrain asked for by feature drift alone waits, or None when it is asked now.

    Drift says the inputs moved, not that the model got worse. When a retrain for the same
    change (the same run of failing days) was already asked for and the champion it measured
    still serves, that candidate, trained on the drifted rows, was not better: the champion
    holds up on the new inputs. Asking every day would retrain daily for as long as the inputs
    stay moved, so the next ask waits until the rows since the change have doubled (a later
    candidate has twice the new rows to learn from; after an ask with none, at least one). A
    decay failure, a new change or a new champion asks at once.
    """
    if last is None or not request.drift_only:
        return None
    if champion != last.champion or request.change_day != last.change_day:
        return None
    # at least one new row: labels that arrive late can leave a change with none for days
    needed = max(2 * last.rows_since, last.rows_since + 1)
    if rows_since >= needed:
        return None
    return (f"feature drift since {request.change_day} held back: the retrain asked with "
            f"{last.rows_since:,} rows since the change left champion version {champion} "
            f"serving (it held up on the drifted rows); the next asks at "
            f"{needed:,} rows ({rows_since:,} so far) or on a decay failure")


@dataclass(frozen=True)
class ChampionWindow:
    """What the serving champion's training window says about a change (its model version's
    tags): where its holdout, and so its decay baseline, ends, and the change day its training
    started at, if it did."""

    version: str
    holdout_end: str
    trained_from: str | None = None

    @classmethod
    def of(cls, version: str, window: TrainingWindow) -> ChampionWindow:
        return cls(version, window.holdout_days[-1], window.trained_from)


@dataclass(frozen=True)
class OpenChange:
    """A detected change younger than the training window: the day it began, the newest day
    of data when a retrain for it was last asked for, and the rows since it then (0: not
    known)."""

    day: str
    asked_through: str
    asked_rows: int = 0

    def summary(self) -> str:
        rows = f" with {self.asked_rows} rows since it" if self.asked_rows else ""
        return (f"change from {self.day} open (a retrain for it saw the data through "
                f"{self.asked_through}{rows})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> OpenChange:
        data = dict(data)
        if "followed_rows" in data:  # its name before retrains for failed checks set it
            data["asked_rows"] = data.pop("followed_rows")
        return cls(**data)


def open_change(current: OpenChange | None, change_day: str, newest_day: str,
                rows_since: int) -> OpenChange:
    """The change that stays open once a retrain for failed checks was asked for with
    `change_day` on data through `newest_day`, `rows_since` rows since that day: a newer change
    replaces an older one."""
    if current is not None and change_day <= current.day:
        return replace(current, asked_through=newest_day, asked_rows=rows_since)
    return OpenChange(change_day, newest_day, rows_since)


@dataclass(frozen=True)
class FollowUp:
    """What an open change asks for now: `change` is what stays open (None: closed), `due`
    whether a follow-up retrain is asked for, and `reason` says why, in words."""

    change: OpenChange | None
    due: bool
    reason: str
    newest_day: str | None = None
    champion: str | None = None
    rows_since: int = 0

    def asked(self) -> OpenChange:
        """The change once its follow-up was asked for: asked again only on a newer day, with
        twice the rows since the change."""
        return replace(self.change, asked_through=self.newest_day, asked_rows=self.rows_since)

    def tags(self) -> dict[str, str]:
        return {"retrain/change_day": self.change.day, "retrain/partition": self.newest_day,
                "retrain/champion": self.champion or "", "retrain/reason": self.reason}


def change_follow_up(change: OpenChange | None, champion: ChampionWindow | None,
                     day_rows: Mapping[str, int], settings: WindowSettings) -> FollowUp:
    """Whether the open `change` asks for a retrain that trains from it, given the serving
    `champion` and the rows of each day of features (`day_rows`).

    Closed when the champion trained from a later change, and once the change is older than
    `settings.window_days` (every window then lies after it, so a follow-up is a plain
    retrain). Due when the newest day is newer than the one the last retrain for the change saw
    (at most once per new day), `split_window` would now start training at the change, the rows
    since the change are at least twice what the last retrain for it saw (not every day), and
    either
    - the champion was judged on data after the change began but did not train from it (a
      champion judged on data before it keeps its pre-change baseline, so its own checks still
      ask): a candidate of the new world alone replaces what was learnt before it; or
    - the champion trained from the change, on the rows there were then: a candidate with twice
      the rows of the new world is judged against it, until the window lies after the change.
      Otherwise the first model of the new world, fitted on a day or two, would serve for good
      while a schedule's window fills with the new world.
    """
    if change is None:
        return FollowUp(None, False, "no change is open")
    if champion is not None and champion.trained_from and champion.trained_from > change.day:
        return FollowUp(None, False, f"the change from {change.day} is closed: champion "
                                     f"version {champion.version} trained from a later one, "
                                     f"from {champion.trained_from}")
    newest = max((day for day, rows in day_rows.items() if rows > 0),
                 default=change.asked_through)
    window_start = date.fromisoformat(newest) - timedelta(days=settings.window_days - 1)
    if change.day < window_start.isoformat():
        return FollowUp(None, False, f"the change from {change.day} is closed: it is older "
                                     f"than the {settings.window_days}-day window, which now "
                                     "lies after it")
    if champion is None:
        return FollowUp(change, False, f"the change from {change.day} is open; the champion's "
                                       "window is not recorded (none serves, or it was "
                                       "registered before windows were tagged)")
    trained = champion.trained_from == change.day
    if not trained and champion.holdout_end < change.day:
        return FollowUp(change, False, f"the change from {change.day} is open; champion "
                                       f"version {champion.version} was judged on data before "
                                       "it, so its own checks ask for a retrain while it "
                                       "still fails")
    waiting = (f"the change from {change.day} is open: champion version {champion.version} "
               + ("trained from it on the rows there were then" if trained else
                  "was blessed after it began but did not train from it"))
    if newest <= change.asked_through:
        return FollowUp(change, False, f"{waiting}; a retrain saw the data through "
                                       f"{change.asked_through}, the next may follow a newer day")
    since = sum(rows for day, rows in day_rows.items() if day >= change.day)
    try:
        window = split_window(day_rows, settings, change_day=change.day)
    except ValueError:
        window = None
    if window is None or not window.trains_from_change:
        return FollowUp(change, False, f"{waiting}; {since} rows since it are not yet enough "
                                       f"to train from it ({settings.min_rows_after_change} "
                                       "besides the holdout)")
    if since < 2 * change.asked_rows:
        return FollowUp(change, False, f"{waiting}; the last retrain for it saw "
                                       f"{change.asked_rows} rows since it, the next waits for "
                                       f"twice as many ({since} so far)")
    return FollowUp(change, True, f"{waiting}; the {since} rows since it now train a "
                                  f"candidate from it ({window.train_rows} rows, "
                                  f"{window.holdout_rows} held out)",
                    newest_day=newest, champion=champion.version, rows_since=since)
