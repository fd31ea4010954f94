"""Warnings are silenced one by one, for a reason, never by category or stage wholesale."""

import tomllib
import warnings
from pathlib import Path

import dagster as dg

from retrain_assets.pipeline.checks import build_freshness_checks, build_freshness_sensor

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_test_suite_ignores_only_named_warnings():
    filters = tomllib.loads(PYPROJECT.read_text())["tool"]["pytest"]["ini_options"][
        "filterwarnings"]
    blanket = [f for f in filters if f.startswith("ignore")
               and (len(f.split(":")) < 3 or not f.split(":")[1].strip()
                    or ".*" in f.split(":")[1])]
    assert filters and not blanket, f"filters that ignore more than one named warning: {blanket}"


def test_building_the_freshness_check_and_its_sensor_warns_of_nothing():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_freshness_sensor(build_freshness_checks(dg.AssetKey("raw_data"), "0 9 * * *"))
    assert [str(w.message) for w in caught] == []
