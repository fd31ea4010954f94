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


# The imputer of `scaled_onehot` stores the dtype it was fitted on.
PREPROCESSING_TRUSTED_TYPES = {"scaled_onehot": ("numpy.dtype",)}


@dataclass(frozen=True)
class Hyperparameters:
    """The built-in HistGradientBoosting model's; a spec with its own model sets its params in
    its ModelSpec instead."""

    learning_rate: float = 0.1
    max_iter: int = 200
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    random_state: int = 0

    def as_params(self) -> dict[str, float | int]:
        return asdict(self)


def build_pipeline(spec: DatasetSpec, hyperparameters: Hyperparameters) -> Pipeline:
    """The spec's own model (`DatasetSpec.model`) behind its preprocessing, or by default
    gradient-boosted trees over ordinal-encoded categories: fast on millions of rows."""
    from sklearn.pipeline import Pipeline

    if spec.model is not None:
        preprocess = _preprocessing(spec, spec.model.resolved_preprocessing)
        return Pipeline([*([("preprocess", preprocess)] if preprocess is not None else []),
                         ("model", _own_estimator(spec))])
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    estimator_type = (HistGradientBoostingRegressor if spec.task == "regression"
                      else HistGradientBoostingClassifier)
    estimator = estimator_type(
        categorical_features=list(range(len(spec.categorical_features))),  # encoded first
        early_stopping=False,
        **hyperparameters.as_params(),
    )
    return Pipeline([("preprocess", _preprocessing(spec, "ordinal")), ("model", estimator)])


def _preprocessing(spec: DatasetSpec, kind: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    categorical = list(spec.categorical_features)
    if kind == "ordinal":
        return ColumnTransformer(
            [("categorical",
              OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                             encoded_missing_value=-2),
              categorical)],
            remainder="passthrough", verbose_feature_names_out=False)
    if kind == "scaled_onehot":
        return ColumnTransformer(
            [("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
              list(spec.model_numeric_features)),
             ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)],
            verbose_feature_names_out=False)
    return None  # "none": the estimator brings its own


def _own_estimator(spec: DatasetSpec):
    """The spec's estimator; one that takes `categorical_features` (HistGradientBoosting) is
    told which ordinal-encoded columns are categories unless its params say otherwise."""
    estimator = spec.model.build()
    if (spec.model.resolved_preprocessing == "ordinal"
            and "categorical_features" in estimator.get_params(deep=False)
            and "categorical_features" not in spec.model.params):
        estimator.set_params(categorical_features=list(range(len(spec.categorical_features))))
    return estimator


def model_params(spec: DatasetSpec, hyperparameters: Hyperparameters) -> dict:
    """What the model's MLflow run logs about the model: the built-in model's hyperparameters,
    or the spec's estimator, preprocessing and params."""
    return hyperparameters.as_params() if spec.model is None else spec.model.as_params()


def trusted_types(spec: DatasetSpec) -> tuple[str, ...]:
    """Types beyond the platform's base list (registry.SKOPS_TRUSTED_TYPES) that a model of this
    spec may contain: what its preprocessing needs plus what the spec declares."""
    if spec.model is None:
        return ()
    preprocessing = PREPROCESSING_TRUSTED_TYPES.get(spec.model.resolved_preprocessing, ())
    return (*preprocessing, *spec.model.trusted_types)


def model_inputs(features: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The columns the pipeline is fitted on, in a fixed order (this is the model signature)."""
    return features[list(spec.model_features)]


def train_model(features: pd.DataFrame, spec: DatasetSpec,
                hyperparameters: Hyperparameters) -> Pipeline:
    if features.empty:
        raise ValueError("cannot train on an empty window: no feature rows were given")
    if spec.model is not None and hyperparameters != Hyperparameters():
        changed = {k: v for k, v in hyperparameters.as_params().items()
                   if v != getattr(Hyperparameters, k)}
        raise ValueError(
            f"dataset {spec.name!r} trains its own model ({spec.model.estimator}), so the "
            f"built-in model's hyperparameters {changed} would be ignored. Set the estimator's "
            "params in the spec's ModelSpec(params=...) and leave these at their defaults.")
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


def predict(model, features: pd.DataFrame, spec: DatasetSpec) -> pd.Series | pd.DataFrame:
    """Regression value, or positive-class probability for classification; for multiclass one
    probability column per class (named by its label)."""
    inputs = fitted_inputs(model, features, spec)
    if spec.task == "multiclass":
        return pd.DataFrame(model.predict_proba(inputs), index=features.index,
                            columns=[str(c) for c in model.classes_], dtype="float64")
    if spec.task == "classification":
        values = model.predict_proba(inputs)[:, 1]
    else:
        values = model.predict(inputs)
    return pd.Series(values, index=features.index, dtype="float64", name="prediction")
