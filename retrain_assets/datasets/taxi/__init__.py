"""Taxi trips: the regression dataset (spec, Pandera contracts and simulator)."""

from retrain_assets.datasets.taxi.spec import TAXI_TRIPS

__all__ = ["TAXI_TRIPS"]
