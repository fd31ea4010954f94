"""`retrain-assets`: simulate data, and run the demo end to end on embedded defaults."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from retrain_assets.dev.simulate import SIMULATORS, SimulationPlan


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-31") from exc


def _simulate(args: argparse.Namespace) -> int:
    from retrain_assets.pipeline.resources import open_store, project_home

    landing = args.landing or str(project_home() / args.dataset / "landing")
    covariate = args.drift_from if args.drift_kind in ("covariate", "both") else None
    concept = args.drift_from if args.drift_kind in ("concept", "both") else None
    plan = SimulationPlan(start=args.start, days=args.days, mean_rows=args.rows, seed=args.seed,
                          covariate_drift_from=covariate, concept_drift_from=concept,
                          file_format=args.format, dataset=args.dataset)
    from retrain_assets.dev.simulate import land_days

    labels = open_store(args.labels) if args.labels else None
    keys = land_days(open_store(landing), plan, labels)
    print(f"landed {len(keys)} day(s) in {landing}: {keys[0]} .. {keys[-1]}"
          + (f"; their labels a week late in {args.labels}" if labels else ""))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from retrain_assets.dev.demo import Scenario, run_demo

    return run_demo(scenario=Scenario(history_days=args.days, rows=args.rows))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrain-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="land simulated days of a built-in dataset "
                                                    "(taxi trips or churn), one day a folder")
    simulate.add_argument("--dataset", choices=sorted(SIMULATORS), default="taxi",
                          help="which built-in dataset (the shipped model of the same name)")
    simulate.add_argument("--start", type=_date, required=True, help="first day (YYYY-MM-DD)")
    simulate.add_argument("--days", type=int, required=True, help="number of days")
    simulate.add_argument("--rows", type=int, default=2_000, help="mean rows per day")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--drift-from", type=_date, help="first day with drift")
    simulate.add_argument("--drift-kind", choices=("covariate", "concept", "both"),
                          default="both", help="what changes from --drift-from on")
    simulate.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    simulate.add_argument("--landing", help="landing zone (default: the shipped model's, "
                                            "$RETRAIN_ASSETS_HOME/<dataset>/landing)")
    simulate.add_argument("--labels", help="churn only: a label zone; the days land without "
                                           "their target, and each day's labels land here "
                                           "7 days later (the churn_late_labels dataset)")
    simulate.set_defaults(run=_simulate)

    demo = commands.add_parser("demo", help="the automated loop under the real Dagster daemon: "
                                            "backfill, first champion, days landing, drift, "
                                            "retrain, promotion")
    demo.add_argument("--days", type=int, default=35, help="days of history before new days")
    demo.add_argument("--rows", type=int, default=1_000, help="mean rows per day and model")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
