"""Bring your own model: which estimator a dataset trains, with which preprocessing, and which
extra types its stored model may contain.

A `ModelSpec` names an estimator factory by import path. It is resolved and built once when
the spec is loaded, so a typo, a parameter the estimator refuses or a regressor for a
classification task stops the code location from loading, saying what to change, instead of
failing the first training run. Types the model file may contain beyond the platform's own are
declared here, in code the user reviews, and never read from the model file.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, Literal

Preprocessing = Literal["ordinal", "scaled_onehot", "none"]
PREPROCESSING = {
    # trees split on codes: categories as ordinal codes, numbers as they are
    "ordinal": "categories ordinal-encoded, numbers passed through (trees)",
    # linear and distance-based models need comparable scales and no order between categories
    "scaled_onehot": "numbers median-imputed and standardized, categories one-hot encoded "
                     "(linear models, SVMs, neighbours, neural networks)",
    # a pipeline that brings its own preprocessing gets the raw feature columns
    "none": "the feature columns as they are (a pipeline with its own preprocessing)",
}
# Packages whose estimators want `scaled_onehot` when a spec does not say.
SCALE_SENSITIVE_PACKAGES = ("sklearn.linear_model", "sklearn.svm", "sklearn.neighbors",
                            "sklearn.neural_network")


@dataclass(frozen=True)
class ModelSpec:
    """A scikit-learn-compatible estimator (or pipeline) and how to feed it.

    `estimator`: import path of a class or factory, `package.module.Name` or
    `package.module:Name`, called with `params`. `preprocessing`: see `PREPROCESSING`; None
    picks `scaled_onehot` for `SCALE_SENSITIVE_PACKAGES` and `ordinal` otherwise.
    `trusted_types`: fully qualified names of types in the fitted model that skops does not
    trust by default and the platform does not already trust (loading names any that are
    missing), e.g. `sklearn.tree._tree.Tree` for a random forest.
    """

    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)
    preprocessing: Preprocessing | None = None
    trusted_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))
        if isinstance(self.trusted_types, str):  # ("a.B") is a string, not a tuple
            object.__setattr__(self, "trusted_types", (self.trusted_types,))
        object.__setattr__(self, "trusted_types", tuple(self.trusted_types))

    @property
    def resolved_preprocessing(self) -> Preprocessing:
        if self.preprocessing is not None:
            return self.preprocessing
        return "scaled_onehot" if self.estimator.startswith(SCALE_SENSITIVE_PACKAGES) \
            else "ordinal"

    def factory(self):
        """The class or function `estimator` names."""
        module_name, attribute = _split_path(self.estimator)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(
                f"estimator {self.estimator!r}: module {module_name!r} cannot be imported "
                f"({exc}). Give the full import path of an installed estimator, e.g. "
                "'sklearn.linear_model.LogisticRegression'.") from exc
        if not hasattr(module, attribute):
            close = get_close_matches(attribute, dir(module), n=3)
            raise ValueError(
                f"estimator {self.estimator!r}: module {module_name!r} has no {attribute!r}"
                f"{f' (did you mean {close}?)' if close else ''}. Fix the name in the spec's "
                "ModelSpec(estimator=...).")
        return getattr(module, attribute)

    def build(self):
        """A fresh, unfitted estimator."""
        try:
            return self.factory()(**self.params)
        except TypeError as exc:
            raise ValueError(
                f"estimator {self.estimator!r} refuses params {self.params}: {exc}. Change "
                "ModelSpec(params=...) to names the estimator accepts.") from exc

    def check(self, task: str) -> None:
        """Build the estimator and check its params and its kind against the task."""
        from sklearn.base import is_classifier, is_regressor

        if self.preprocessing is not None and self.preprocessing not in PREPROCESSING:
            raise ValueError(f"preprocessing {self.preprocessing!r} is not one of "
                             f"{sorted(PREPROCESSING)} ({PREPROCESSING}); or leave it None")
        bad_types = [t for t in self.trusted_types if not isinstance(t, str) or "." not in t]
        if bad_types:
            raise ValueError(f"trusted_types {bad_types} are not fully qualified type names "
                             "such as 'sklearn.tree._tree.Tree'")
        estimator = self.build()
        if hasattr(estimator, "_validate_params"):  # scikit-learn's own checks, before any fit
            try:
                estimator._validate_params()
            except (ValueError, TypeError) as exc:  # InvalidParameterError is both
                raise ValueError(f"estimator {self.estimator!r} refuses params {self.params}: "
                                 f"{exc}. Change ModelSpec(params=...).") from exc
        if task == "regression" and not is_regressor(estimator):
            raise ValueError(f"estimator {self.estimator!r} is not a regressor, and the task is "
                             "regression; name a regressor (e.g. 'sklearn.linear_model.Ridge').")
        if task != "regression" and not (is_classifier(estimator)
                                         and hasattr(estimator, "predict_proba")):
            raise ValueError(
                f"estimator {self.estimator!r} is not a classifier with predict_proba, and the "
                f"task is {task}; name one (e.g. 'sklearn.linear_model.LogisticRegression').")

    def as_params(self) -> dict[str, Any]:
        """What the MLflow run logs: the estimator, its preprocessing and its params."""
        return {"estimator": self.estimator, "preprocessing": self.resolved_preprocessing,
                **{f"estimator.{name}": value for name, value in self.params.items()}}


def _split_path(path: str) -> tuple[str, str]:
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"estimator {path!r} is not an import path such as "
                         "'sklearn.linear_model.LogisticRegression' or 'my_pkg.models:Factory'")
    return module_name, attribute
