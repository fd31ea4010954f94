"""Model training: a scikit-learn Pipeline with preprocessing inside it.

Preprocessing lives in the pipeline, so the logged MLflow model takes raw feature columns and
serving cannot apply a different encoding than training did. scikit-learn is imported when a
pipeline is built: it takes seconds, and runs that never train should not pay for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pandas as pd

from retrain_assets.core.dataset import DatasetSpec

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


class FeatureMismatchError(ValueError):
    """A model expects input columns that today's features do not have (the dataset spec
    changed since it was trained). Retrying cannot help; the message says what can."""


@dataclass(frozen=True)
class Hyperparameters:
    learning_rate: float = 0.1
    max_iter: int = 200
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    random_state: int = 0

    def as_params(self) -> dict[str, float | int]:
        return asdict(self)


def build_pipeline(spec: DatasetSpec, hyperparameters: Hyperparameters) -> Pipeline:
    """Gradient-boosted trees over ordinal-encoded categories: fast on millions of rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = list(spec.categorical_features)
    preprocess = ColumnTransformer(
        [("categorical",
          OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                         encoded_missing_value=-2),
          categorical)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    estimator_type = (HistGradientBoostingRegressor if spec.task == "regression"
                      else HistGradientBoostingClassifier)
    estimator = estimator_type(
        categorical_features=list(range(len(categorical))),  # encoder output comes first
        early_stopping=False,
        **hyperparameters.as_params(),
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def model_inputs(features: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The columns the pipeline is fitted on, in a fixed order (this is the model signature)."""
    return features[list(spec.model_features)]


def train_model(features: pd.DataFrame, spec: DatasetSpec,
                hyperparameters: Hyperparameters) -> Pipeline:
    if features.empty:
        raise ValueError("cannot train on an empty window: no feature rows were given")
    pipeline = build_pipeline(spec, hyperparameters)
    pipeline.fit(model_inputs(features, spec), features[spec.target])
    return pipeline


def fitted_inputs(model, features: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The columns `model` was fitted on, taken from `features`. A model trained before the
    spec changed still scores if today's features hold all its columns."""
    expected = list(getattr(model, "feature_names_in_", spec.model_features))
    missing = [c for c in expected if c not in features.columns]
    if missing:
        raise FeatureMismatchError(
            f"the model expects columns {missing} that today's features of dataset "
            f"{spec.name!r} lack (it was trained on {expected}; the features now are "
            f"{list(spec.model_features)}), e.g. after derive_time_features changed. Either "
            "restore the spec, or retrain with the evaluation_report config "
            "`replace_incompatible_champion: true` (the candidate is then judged on the "
            "absolute thresholds alone), or register under a new model name "
            "(RETRAIN_ASSETS_MODEL_NAME).")
    return features[expected]


def predict(model, features: pd.DataFrame, spec: DatasetSpec) -> pd.Series:
    """Regression value, or positive-class probability for classification."""
    inputs = fitted_inputs(model, features, spec)
    if spec.task == "classification":
        values = model.predict_proba(inputs)[:, 1]
    else:
        values = model.predict(inputs)
    return pd.Series(values, index=features.index, dtype="float64", name="prediction")
