"""The demo dataset: taxi trips, fare as the regression target (see `simulator`)."""

from retrain_assets.core.dataset import DatasetSpec
from retrain_assets.datasets.taxi.schema import TaxiFeatures, TaxiTripsRaw

TAXI_TRIPS = DatasetSpec(
    name="taxi_trips",
    description="Simulated taxi trips; predicts the fare of a trip at pickup time.",
    raw_schema=TaxiTripsRaw,
    features_schema=TaxiFeatures,
    time_column="pickup_at",
    id_column="trip_id",
    target="fare_amount",
    task="regression",
    numeric_features=("trip_distance_km", "passenger_count"),
    categorical_features=("pickup_zone", "dropoff_zone", "payment_type"),
    derive_time_features=True,  # night surcharge and rush-hour speed: the hour is signal
    absolute_thresholds={"r2": 0.5},
)
