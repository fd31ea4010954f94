"""Benchmarks of retrain_assets against same-run pandas / scikit-learn baselines (README.md)."""
