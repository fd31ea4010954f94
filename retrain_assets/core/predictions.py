"""The predictions contract as Pandera models, one per task: every dataset's scores look alike.

While a shadow challenger exists, its scores sit beside the champion's in the same rows
(`challenger_*` columns, empty on days it did not score): one row per input row stays true, a
reader of the champion's columns sees the same file as before, and the two are compared on
exactly the same rows.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series


class Predictions(pa.DataFrameModel):
    """The champion's score for every row of a day, and the model version that produced it."""

    row_id: Series[str] = pa.Field(unique=True)
    prediction: Series[float] = pa.Field(description="Regression value or P(positive class)")
    actual: Series[float] = pa.Field(nullable=True, description="The label, when the day has one")
    model_version: Series[str]
    challenger_prediction: Series[float] | None = pa.Field(
        nullable=True, description="The shadow challenger's score of the same row")
    challenger_version: Series[str] | None = pa.Field(nullable=True)

    class Config:
        strict = True


class MulticlassPredictions(pa.DataFrameModel):
    """A multiclass champion's predicted class and its probability for every row of a day."""

    row_id: Series[str] = pa.Field(unique=True)
    prediction: Series[float] = pa.Field(ge=0, le=1,
                                         description="Probability of the predicted class")
    predicted_class: Series[str]
    actual: Series[str] = pa.Field(nullable=True, description="The label, when the day has one")
    model_version: Series[str]
    challenger_prediction: Series[float] | None = pa.Field(ge=0, le=1, nullable=True)
    challenger_predicted_class: Series[str] | None = pa.Field(nullable=True)
    challenger_version: Series[str] | None = pa.Field(nullable=True)

    class Config:
        strict = True


def predictions_model(task: str) -> type[pa.DataFrameModel]:
    return MulticlassPredictions if task == "multiclass" else Predictions
