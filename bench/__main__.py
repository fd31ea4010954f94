"""`./tasks bench [--quick | --smoke]`: run the benchmarks, print the table, write RESULTS.md."""

from __future__ import annotations

import argparse
from pathlib import Path

# each module registers one benchmark
from bench import (  # noqa: F401
    airflow_peer,
    backfill,
    ingest,
    policy,
    reaction,
    sensor,
    training,
)
from bench.harness import BENCHMARKS, execute, machine, markdown, rows, text_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="reduced sizes, indicative figures in a few minutes")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest sizes that run every benchmark: proves the "
                             "benchmarks run, figures mean nothing (what the test suite runs)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats per measurement (default 3 quick, 2 full)")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    repeats = args.repeats or {"smoke": 1, "quick": 3, "full": 2}[mode]
    outcomes = []
    for name in args.only or sorted(BENCHMARKS, key=lambda n: BENCHMARKS[n].item):
        print(f"running {name}: {BENCHMARKS[name].title} ...", flush=True)
        outcomes.append(execute(BENCHMARKS[name], quick=args.quick, repeats=repeats,
                                smoke=args.smoke))
    print()
    print(text_table(rows(outcomes)))
    args.out.write_text(markdown(outcomes, machine(), mode=mode))
    print(f"\nwritten to {args.out}")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
