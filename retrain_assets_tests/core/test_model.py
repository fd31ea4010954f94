"""Bring your own model: a ModelSpec is checked when the dataset spec loads, and trains behind
the preprocessing that suits it."""

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from retrain_assets.core.features import build_features
from retrain_assets.core.metrics import compute_metrics
from retrain_assets.core.model import ModelSpec
from retrain_assets.core.training import (
    Hyperparameters,
    build_pipeline,
    model_params,
    predict,
    train_model,
    trusted_types,
)
from retrain_assets.datasets.churn import CUSTOMER_CHURN
from retrain_assets.datasets.churn.simulator import simulate_churn_day
from retrain_assets.datasets.taxi import TAXI_TRIPS

LOGISTIC = ModelSpec("sklearn.linear_model.LogisticRegression", params={"C": 0.5,
                                                                        "max_iter": 500})


@pytest.fixture(scope="module")
def churn():
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(5)]
    frames = [build_features(simulate_churn_day(d, 600), CUSTOMER_CHURN) for d in days]
    return pd.concat(frames[:4], ignore_index=True), frames[4]


@pytest.mark.parametrize(("model", "message"), [
    (ModelSpec("sklearn.linear_model.LogisticRegresion"),
     r"has no 'LogisticRegresion' \(did you mean \['LogisticRegression'"),
    (ModelSpec("sklearn.linear_modle.LogisticRegression"),
     r"module 'sklearn.linear_modle' cannot be imported"),
    (ModelSpec("sklearn.linear_model.LogisticRegression", params={"penalty_strength": 1}),
     r"refuses params \{'penalty_strength': 1\}.*ModelSpec\(params=...\)"),
    (ModelSpec("sklearn.linear_model.LogisticRegression", params={"C": "strong"}),
     r"refuses params \{'C': 'strong'\}: The 'C' parameter"),
    (ModelSpec("sklearn.linear_model.Ridge"),
     r"'sklearn.linear_model.Ridge' is not a classifier with predict_proba, and the task is "
     r"classification"),
    (ModelSpec("sklearn.linear_model.LogisticRegression", preprocessing="scaled"),
     r"preprocessing 'scaled' is not one of"),
])
def test_a_model_the_platform_cannot_train_stops_the_spec_from_loading(model, message):
    with pytest.raises(ValueError, match=rf"dataset 'customer_churn': model: .*{message}"):
        replace(CUSTOMER_CHURN, model=model)


def test_a_regressor_is_refused_for_nothing_but_a_classifier():
    with pytest.raises(ValueError, match="is not a regressor, and the task is regression"):
        replace(TAXI_TRIPS, model=LOGISTIC)
    assert replace(TAXI_TRIPS, model=ModelSpec("sklearn.linear_model.Ridge")).model


def test_preprocessing_follows_the_estimator_kind():
    assert LOGISTIC.resolved_preprocessing == "scaled_onehot"
    assert ModelSpec("sklearn.ensemble.RandomForestClassifier").resolved_preprocessing == \
        "ordinal"
    assert ModelSpec("sklearn.svm.SVC", preprocessing="ordinal").resolved_preprocessing == \
        "ordinal"


def test_a_linear_model_trains_on_scaled_numbers_and_one_hot_categories(churn):
    train, holdout = churn
    spec = replace(CUSTOMER_CHURN, model=LOGISTIC)
    model = train_model(train, spec, Hyperparameters())
    preprocess, estimator = model.named_steps["preprocess"], model.named_steps["model"]
    assert type(estimator).__name__ == "LogisticRegression" and estimator.C == 0.5
    assert {"plan_basic", "contract_annual", "region_west"} <= set(
        preprocess.get_feature_names_out())
    scaled = preprocess.transform(train[list(spec.model_features)])[:, :4]
    assert abs(scaled.mean()) < 1e-6  # the numeric block is standardized
    unseen = holdout.assign(plan="platinum")  # one-hot ignores a category it never saw
    probabilities = predict(model, unseen, spec)
    assert probabilities.between(0, 1).all()
    auc = compute_metrics("classification", holdout["churned"], predict(model, holdout, spec))
    assert auc["roc_auc"] > 0.7


def test_a_tree_model_with_params_gets_ordinal_codes_and_is_told_which_are_categories(churn):
    train, _ = churn
    spec = replace(CUSTOMER_CHURN, model=ModelSpec(
        "sklearn.ensemble.HistGradientBoostingClassifier", params={"max_iter": 10}))
    estimator = train_model(train, spec, Hyperparameters()).named_steps["model"]
    assert estimator.max_iter == 10 and estimator.categorical_features == [0, 1, 2]


def test_the_mlflow_params_name_the_estimator_and_the_default_model_stays_as_it_was():
    spec = replace(CUSTOMER_CHURN, model=LOGISTIC)
    assert model_params(spec, Hyperparameters()) == {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "preprocessing": "scaled_onehot", "estimator.C": 0.5, "estimator.max_iter": 500}
    assert model_params(CUSTOMER_CHURN, Hyperparameters()) == Hyperparameters().as_params()
    default = build_pipeline(CUSTOMER_CHURN, Hyperparameters()).named_steps["model"]
    assert type(default).__name__ == "HistGradientBoostingClassifier"
    assert default.categorical_features == [0, 1, 2] and default.early_stopping is False
    assert trusted_types(CUSTOMER_CHURN) == ()


def test_trusted_types_are_the_preprocessings_and_the_declared_ones_only():
    forest = ModelSpec("sklearn.ensemble.RandomForestClassifier",
                       trusted_types=("sklearn.tree._tree.Tree",))
    assert trusted_types(replace(CUSTOMER_CHURN, model=forest)) == ("sklearn.tree._tree.Tree",)
    assert trusted_types(replace(CUSTOMER_CHURN, model=LOGISTIC)) == ("numpy.dtype",)


def test_the_built_in_models_hyperparameters_are_refused_for_an_own_model(churn):
    train, _ = churn
    with pytest.raises(ValueError, match=r"built-in model's hyperparameters \{'max_iter': 30\} "
                                         r"would be ignored.*ModelSpec\(params=...\)"):
        train_model(train, replace(CUSTOMER_CHURN, model=LOGISTIC), Hyperparameters(max_iter=30))


def own_pipeline():
    """A user's factory for a pipeline that brings its own preprocessing."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    return make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"),
                                 ["plan", "contract", "region"]), remainder="passthrough"),
        LogisticRegression(max_iter=500))


def test_a_factory_for_a_whole_pipeline_gets_the_raw_feature_columns(churn):
    train, holdout = churn
    spec = replace(CUSTOMER_CHURN, model=ModelSpec(f"{__name__}:own_pipeline",
                                                   preprocessing="none"))
    model = train_model(train, spec, Hyperparameters())
    assert list(model.named_steps) == ["model"]
    assert list(model.feature_names_in_) == list(spec.model_features)
    assert predict(model, holdout, spec).between(0, 1).all()
