"""A deterministic simulator of customer churn with a known logistic rule.

Each day, a sample of subscribers is observed once (a snapshot of their plan, tenure, spend,
support tickets and usage) with whether they churned within the following month. The label
comes from a known logistic rule, so drift can be injected on purpose: covariate drift (usage
drops, as after an app change; the rule stays) and concept drift (the rule itself changes, as
when a competitor's cheaper offer makes price matter and usage matter less). Same seed and day
give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from retrain_assets.core.simulation import day_rng

PLANS = ("basic", "standard", "premium")
CONTRACTS = ("monthly", "annual")
REGIONS = ("north", "south", "east", "west")
CUSTOMERS = 2_000_000
"""Size of the subscriber base a day's sample is drawn from (ids C0000000..C1999999)."""
MAX_TENURE_MONTHS = 240
MAX_MONTHLY_SPEND = 1_000.0


@dataclass(frozen=True)
class ChurnRule:
    """The ground truth: log-odds of churning within a month. Each term is centred on a typical
    subscriber, so `intercept` sets the base rate. Concept drift swaps this rule."""

    intercept: float = -1.9
    per_ticket: float = 0.55  # support tickets in the last 30 days (typical: 1)
    per_usage_hour: float = -0.08  # hours of use in the last 30 days (typical: 20)
    per_tenure_month: float = -0.03  # months subscribed (typical: 20)
    per_spend: float = 0.01  # monthly spend in dollars (typical: 40)
    annual_contract: float = -1.3
    premium_plan: float = -0.4


BASELINE_CHURN_RULE = ChurnRule()
PRICE_WAR_RULE = ChurnRule(intercept=-1.6, per_ticket=0.1, per_usage_hour=-0.01,
                           per_tenure_month=-0.005, per_spend=0.05, annual_contract=-0.2,
                           premium_plan=0.8)
"""A competitor's cheaper offer: spend drives churn, usage and loyalty barely protect."""

USAGE_DROP = 0.5
"""Covariate drift: usage_hours scale when the app changed (the churn rule stays)."""


@dataclass(frozen=True)
class ChurnConditions:
    """What the world looks like on one day; the defaults are a normal day."""

    rule: ChurnRule = BASELINE_CHURN_RULE
    usage_scale: float = 1.0


def simulate_churn_day(day: date, rows: int, *, seed: int = 11,
                       conditions: ChurnConditions = ChurnConditions()) -> pd.DataFrame:
    """One day of subscriber snapshots; columns match `schema.ChurnRaw`."""
    rng = day_rng(seed, day)
    seconds = np.sort(rng.integers(0, 24 * 3600, size=rows))
    plan = rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15])
    annual = rng.random(rows) < 0.35
    tenure = np.clip(np.round(rng.gamma(1.5, 14.0, rows)), 0, MAX_TENURE_MONTHS)
    list_price = np.select([plan == "basic", plan == "standard"], [20.0, 45.0], 90.0)
    spend = np.round(list_price * rng.lognormal(0.0, 0.25, rows), 2)
    tickets = rng.poisson(np.where(plan == "basic", 1.2, 0.8))
    usage = np.round(rng.gamma(4.0, 5.0, rows) * conditions.usage_scale, 1)
    rule = conditions.rule
    log_odds = (rule.intercept + rule.per_ticket * (tickets - 1)
                + rule.per_usage_hour * (usage - 20) + rule.per_tenure_month * (tenure - 20)
                + rule.per_spend * (spend - 40) + rule.annual_contract * annual
                + rule.premium_plan * (plan == "premium"))
    churned = rng.random(rows) < 1 / (1 + np.exp(-log_odds))
    return pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in rng.choice(CUSTOMERS, rows, replace=False)],
        "observed_at": pd.Timestamp(day) + pd.to_timedelta(seconds, unit="s"),
        "plan": plan,
        "contract": np.where(annual, "annual", "monthly"),
        "region": rng.choice(REGIONS, rows),
        "tenure_months": tenure.astype("int64"),
        "monthly_spend": spend,
        "support_tickets": tickets.astype("int64"),
        "usage_hours": usage,
        "churned": churned,
    })


FILE_NAME = "customers"  # a landed day is <day>/customers.<csv|parquet>
LABELS_FILE_NAME = "churn_labels"  # with a label feed: <labels zone>/<day>/churn_labels.<...>
LABEL_DELAY_DAYS = 7
"""With a label feed, a day's churn labels land this many days after its snapshots."""


def split_labels(day: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated day as a label-fed dataset lands it: the snapshots without the target, and
    the labels (id and target) that land `LABEL_DELAY_DAYS` later."""
    return day.drop(columns="churned"), day[["customer_id", "churned"]]


def simulated_day(day: date, rows: int, *, seed: int = 11,
                  covariate_drift_from: date | None = None,
                  concept_drift_from: date | None = None) -> pd.DataFrame:
    """A day as the demo and `retrain-assets simulate` land it: from `covariate_drift_from`
    usage drops (the app changed); from `concept_drift_from` the price war decides who
    churns."""
    covariate = covariate_drift_from is not None and day >= covariate_drift_from
    concept = concept_drift_from is not None and day >= concept_drift_from
    return simulate_churn_day(day, rows, seed=seed, conditions=ChurnConditions(
        rule=PRICE_WAR_RULE if concept else BASELINE_CHURN_RULE,
        usage_scale=USAGE_DROP if covariate else 1.0))
