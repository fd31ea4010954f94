"""Is the serving champion the one the platform recorded, and is it recent enough?

The alias can be moved by hand in the MLflow UI; a model trained long ago may still serve after
retraining stopped (every candidate refused, sensors off). Both are silent unless checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_CHAMPION_MAX_AGE_DAYS = 30


@dataclass(frozen=True)
class Health:
    passed: bool
    description: str


def alias_health(recorded: str | None, alias: str | None, alias_name: str) -> Health:
    """The alias points at the version production_model last recorded."""
    if recorded == alias:
        return Health(True, f"alias `{alias_name}` points at version {alias}, the version "
                            "production_model last recorded" if alias else "no champion yet")
    return Health(False, (
        f"the MLflow alias `{alias_name}` points at version {alias or '(nothing)'}, but "
        f"production_model last recorded version {recorded or '(none)'}: the alias was moved "
        "outside the platform (e.g. in the MLflow UI), so promotion_history and the UI no longer "
        f"say what serves. Move it back by running rollback_job with `to: {recorded}`, or make "
        f"version {alias} champion through rollback_job (`to: {alias}`) so the move is recorded."
        if recorded else
        f"the MLflow alias `{alias_name}` points at version {alias}, but production_model never "
        "recorded a champion: the alias was set outside the platform. Record it by running "
        f"rollback_job with `to: {alias}`, or remove the alias."))


def staleness(version: str, last_train_day: str, newest_day: str, max_age_days: int) -> Health:
    """The champion trained on data at most `max_age_days` older than the newest data day."""
    age = (date.fromisoformat(newest_day) - date.fromisoformat(last_train_day)).days
    if age <= max_age_days:
        return Health(True, f"champion version {version} trained on data through "
                            f"{last_train_day}, {age} day(s) before the newest data day "
                            f"{newest_day} (allowed {max_age_days})")
    return Health(False, (
        f"champion version {version} trained on data through {last_train_day}, {age} days "
        f"before the newest data day {newest_day} (allowed {max_age_days}). Retrain: run "
        "training_job (and look at why recent candidates were not blessed in "
        "evaluation_report), or raise champion_max_age_days in the model's YAML if this model "
        "ages slowly."))
