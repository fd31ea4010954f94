"""The benchmark harness: a registry of benchmarks, measurement in fresh child processes, and
the report (a printed table and RESULTS.md).

Adding a benchmark is one function:

    @benchmark(3, "name", "what it measures")  # 3: its item number in issue 6
    def name(run: Run) -> list[Figure]:
        ours = run.measure(product_task, arg, ...)      # module-level functions returning the
        floor = run.measure(baseline_task, arg, ...)    # seconds of their timed region
        return [Figure("...", ours.best, floor.best, "plain pandas ...", "s", ratio_at_most(1.5))]

Every measurement runs in a fresh process (spawn), as a Dagster run would, so imports, caches and
memory of one measurement never leak into the next; its peak RSS comes with it. Noise on a shared
machine is tamed by repeats (best of N for times) and by comparing ratios taken in the same run.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import dagster as dg

GIB = 1024 ** 3
T = TypeVar("T")
VERSIONED = ("dagster", "pandas", "scikit-learn", "mlflow", "pandera", "pyarrow")


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[float, float], bool]  # (value, baseline) -> met?


def ratio_at_most(limit: float) -> Target:
    return Target(f"ratio ≤ {limit:g}", lambda value, baseline: value / baseline <= limit)


def times_faster_than_baseline(factor: float) -> Target:
    return Target(f"≥ {factor:g}× faster (ratio ≤ {1 / factor:.2g})",
                  lambda value, baseline: value * factor <= baseline)


def value_below(limit: float, unit: str) -> Target:
    return Target(f"< {limit:g} {unit}", lambda value, baseline: value < limit)


def value_at_most(limit: float, unit: str) -> Target:
    return Target(f"≤ {limit:g} {unit}", lambda value, baseline: value <= limit)


@dataclass(frozen=True)
class Figure:
    """One row of the results: our figure, its same-run baseline, and the target (None: a
    figure that explains another, such as Dagster's own share of it)."""

    what: str
    value: float
    baseline: float
    baseline_what: str
    unit: str
    target: Target | None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value, self.baseline)


@dataclass(frozen=True)
class Measurement:
    seconds: list[float]
    peak_rss: list[int]  # bytes, per repeat

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_gib(self) -> float:
        return max(self.peak_rss) / GIB


def _timed_in_child(task: Callable[..., T], args: tuple, log: str) -> tuple[T, int]:
    with open(log, "ab") as out:  # the child's logs and warnings go to the log, not the table
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    warnings.simplefilter("ignore")
    seconds = task(*args)
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def in_child(task: Callable[..., T], *args, log: Path) -> tuple[T, int]:
    """Run `task(*args)` in a fresh process; returns (what it returned, normally its timed
    seconds, and the process's peak RSS)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_timed_in_child, task, args, str(log)).result()


@dataclass
class Run:
    """What a benchmark gets: the mode, a scratch folder, and the means to measure."""

    quick: bool
    scratch: Path
    repeats: int
    smoke: bool = False  # the smallest sizes that run every benchmark (implies quick)
    sizes: list[str] = field(default_factory=list)  # what was measured, for the report
    notes: list[str] = field(default_factory=list)  # how (route taken, extrapolations)

    def measure(self, task: Callable[..., float], *args, repeats: int | None = None
                ) -> Measurement:
        results = [in_child(task, *args, log=self.log) for _ in range(repeats or self.repeats)]
        measured = Measurement([s for s, _ in results], [rss for _, rss in results])
        print(f"  {task.__name__}: {', '.join(f'{s:.2f}' for s in measured.seconds)} s, "
              f"peak {measured.peak_gib:.2f} GiB", flush=True)
        return measured

    def sized(self, *, full: T, quick: T, smoke: T) -> T:
        """This mode's size: smoke proves the benchmark runs (the test suite), quick gives
        indicative figures in minutes, full is what the targets are set for."""
        return smoke if self.smoke else quick if self.quick else full

    @property
    def log(self) -> Path:
        return self.scratch / "children.log"

    def folder(self, name: str) -> Path:
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Benchmark:
    item: int  # the benchmark's number in the issue; the report's order
    name: str
    title: str
    run: Callable[[Run], list[Figure]]


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(item: int, name: str, title: str):
    """Register a benchmark: a function of a `Run` returning its figures."""
    def register(fn: Callable[[Run], list[Figure]]) -> Callable[[Run], list[Figure]]:
        BENCHMARKS[name] = Benchmark(item, name, title, fn)
        return fn
    return register


@dataclass
class Outcome:
    benchmark: Benchmark
    figures: list[Figure]
    sizes: list[str]
    notes: list[str]
    seconds: float
    error: str | None = None


def execute(bench: Benchmark, *, quick: bool, repeats: int, smoke: bool = False) -> Outcome:
    started = time.perf_counter()
    # a code server a benchmark started may still be closing its files when we clean up
    with tempfile.TemporaryDirectory(prefix=f"bench-{bench.name}-",
                                     ignore_cleanup_errors=True) as scratch:
        run = Run(quick=quick or smoke, scratch=Path(scratch), repeats=repeats, smoke=smoke)
        try:
            figures, error = bench.run(run), None
        except Exception as exc:  # one broken benchmark must not hide the others' results
            tail = run.log.read_text()[-3000:] if run.log.exists() else ""
            figures, error = [], f"{type(exc).__name__}: {exc}"
            print(f"{bench.name} failed: {error}\n--- last child output ---\n{tail}")
    return Outcome(bench, figures, run.sizes, run.notes, time.perf_counter() - started, error)


def failure_summary(result: dg.ExecuteInProcessResult) -> str:
    """Why an in-process run failed: every step failure and retry with its error chain, and
    every failed check with its reasons (the check error alone does not say them)."""
    def chain(error) -> str:
        parts = []
        while error is not None:
            parts.append(" ".join(error.message.split()))
            error = error.cause or error.context
        return " <- ".join(parts)

    events = result.all_events
    lines = [f"{e.step_key} {'up for retry' if e.is_step_up_for_retry else 'failed'}: "
             f"{chain(e.event_specific_data.error)}"
             for e in events if e.is_step_failure or e.is_step_up_for_retry]
    lines += [f"check {check.check_name} failed: {check.description}"
              for e in events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
              and not (check := e.asset_check_evaluation_data).passed]
    return "; ".join(lines) or "see the run log"


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next((int(line.split()[1]) for line in _lines("/proc/meminfo")
                    if line.startswith("MemTotal")), 0)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kib / 1024 ** 2:.1f} GiB",
        "cpu": cpu,
        "load average (1, 5, 15 min)": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        "SQLite: connect, insert, commit, close (median of 50; see sqlite_write_seconds)":
            f"{sqlite_write_seconds() * 1000:.2f} ms",
        "python": platform.python_version(),
        **{name: version(name) for name in VERSIONED},
    }


def sqlite_write_seconds(samples: int = 50) -> float:
    """One small write as Dagster's own SQLite storage makes it: a new SQLite connection (WAL
    journal), one insert, a durable commit, close (the embedded instance keeps its connections
    instead, retrain_assets/instance_storage.py, but still commits durably). Runs write several
    per event, so on a disk that is slow to sync the runs' bookkeeping costs more while the bare
    baselines (no commits) do not: read the ratios with it."""
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
        path = Path(folder) / "probe.db"
        with closing(sqlite3.connect(path)) as setup:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.execute("CREATE TABLE probe (value INTEGER)")
        seconds = []
        for value in range(samples):
            started = time.perf_counter()
            with closing(sqlite3.connect(path)) as connection, connection:
                connection.execute("INSERT INTO probe VALUES (?)", (value,))
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _number(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    table = []
    for outcome in outcomes:
        if outcome.error:
            table.append([outcome.benchmark.name, "FAILED: " + outcome.error, "", "", "", "", ""])
        for f in outcome.figures:
            table.append([outcome.benchmark.name, f.what, _number(f.value, f.unit),
                          f"{_number(f.baseline, f.unit)} ({f.baseline_what})",
                          f"{f.ratio:.2f}", f.target.text if f.target else "—",
                          {None: "—", True: "yes", False: "NO"}[f.met]])
    return table


HEADER = ["benchmark", "figure", "value", "baseline", "ratio", "target", "met"]


def text_table(table: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *table]) for i in range(len(HEADER))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *map(line, table)])


def markdown(outcomes: list[Outcome], info: dict[str, str], *, mode: str) -> str:
    esc = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    described = {"full": "full",
                 "quick": "quick (reduced sizes; the targets are set for full sizes)",
                 "smoke": "smoke (the smallest sizes; proves the benchmarks run, figures mean "
                          "nothing)"}[mode]
    flag = "" if mode == "full" else f" --{mode}"
    out = ["# Benchmark results", "",
           f"Mode: **{described}** — written by `./tasks bench{flag}`; see README.md.",
           "", "| | |", "|---|---|", *(f"| {k} | {esc(v)} |" for k, v in info.items()), "",
           "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER),
           *("| " + " | ".join(map(esc, r)) + " |" for r in rows(outcomes)), ""]
    for outcome in outcomes:
        out += [f"## {outcome.benchmark.item}. {outcome.benchmark.name}: "
                f"{outcome.benchmark.title}", "",
                *(f"- size: {s}" for s in outcome.sizes),
                *(f"- {n}" for n in outcome.notes),
                f"- benchmark wall time (setup and all repeats): {outcome.seconds:.0f} s", ""]
    return "\n".join(out)
