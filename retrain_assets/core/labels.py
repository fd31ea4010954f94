"""Labels that arrive after the features: their contract, and how they meet a day's rows.

A dataset with a `LabelFeed` (core.dataset) lands its features without the target; the target
lands later in a zone of its own, `<labels zone>/<day>/<any name>.csv|.parquet` (the day the
labels refer to), one row per id holding the id and the target. Each labelled day is matched to
that day's features by id: ids with more than one label and ids no feature row has are counted
and sampled, never silently dropped, and only rows with exactly one label count as labelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from retrain_assets.core.dataset import DatasetSpec
from retrain_assets.core.features import target_values, unlabelled
from retrain_assets.core.frames import TEXT

SAMPLE_IDS = 10


def label_schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    """The label files' contract: the id and the target, typed as the task needs them (as the
    raw schema declares the target: a boolean churn flag, a text class, a number). Ids are
    not held unique here: a repeated id is reported by `match_labels`, not a rejected file."""
    declared = spec.raw_schema.to_schema().columns
    ids, target = declared[spec.id_column], declared[spec.target]
    return pa.DataFrameSchema(
        {spec.id_column: pa.Column(ids.dtype, ids.checks, name=spec.id_column),
         spec.target: pa.Column(target.dtype, target.checks, name=spec.target)},
        strict=True, coerce=True, name=f"{spec.name}_labels")


def raw_contract(spec: DatasetSpec) -> pa.DataFrameSchema:
    """The raw schema a landed feature day is held to: as declared, except that with a label
    feed the target column may be absent (it arrives with the labels)."""
    schema = spec.raw_schema.to_schema()
    if spec.labels is None:
        return schema
    return schema.update_column(spec.target, required=False)


@dataclass(frozen=True)
class LabelMatch:
    """How one day's labels meet that day's features."""

    day: str
    label_rows: int
    feature_rows: int
    labelled_rows: int  # feature rows with exactly one label
    duplicate_ids: list[str]  # ids with more than one label (none of them is used)
    unmatched_ids: list[str]  # labelled ids no feature row of the day has

    @property
    def coverage(self) -> float:
        return self.labelled_rows / self.feature_rows if self.feature_rows else 0.0

    @property
    def clean(self) -> bool:
        return not self.duplicate_ids and not self.unmatched_ids

    def describe(self) -> str:
        problems = []
        if self.duplicate_ids:
            problems.append(f"{len(self.duplicate_ids)} id(s) have more than one label and are "
                            f"not used (e.g. {self.duplicate_ids[:SAMPLE_IDS]})")
        if self.unmatched_ids and not self.feature_rows:
            problems.append(f"no features of {self.day} are stored to match its "
                            f"{self.label_rows} label(s) to: ingest the day's features, then "
                            "materialize labels for it again")
        elif self.unmatched_ids:
            problems.append(f"{len(self.unmatched_ids)} labelled id(s) match no feature row of "
                            f"{self.day} (e.g. {self.unmatched_ids[:SAMPLE_IDS]})")
        covered = (f"{self.labelled_rows} of {self.feature_rows} feature rows labelled "
                   f"({self.coverage:.0%})")
        if not problems:
            return f"{self.day}: {covered}"
        return (f"{self.day}: {'; '.join(problems)}; {covered}. Land corrected label files for "
                f"{self.day} (one label per id, ids as the feature files wrote them).")


def unique_labels(labels: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.Series, list[str]]:
    """The target by id for ids labelled once, and the ids labelled more than once."""
    ids = labels[spec.id_column].astype(TEXT)
    repeated = ids.duplicated(keep=False)
    once = pd.Series(labels.loc[~repeated, spec.target].to_numpy(),
                     index=ids[~repeated].to_numpy())
    return once, sorted(ids[repeated].unique())


def match_labels(day: str, labels: pd.DataFrame, feature_ids: pd.Series | None,
                 spec: DatasetSpec) -> LabelMatch:
    """Count what `labels` leave out or cannot place among the day's feature ids (None: the
    day's features are not stored, so every label is unmatched)."""
    once, duplicates = unique_labels(labels, spec)
    known = pd.Index([] if feature_ids is None else feature_ids.astype(TEXT))
    labelled_ids = pd.Index(labels[spec.id_column].astype(TEXT).unique())
    unmatched = sorted(labelled_ids.difference(known))
    return LabelMatch(day=day, label_rows=len(labels), feature_rows=len(known),
                      labelled_rows=int(known.isin(once.index).sum()),
                      duplicate_ids=duplicates, unmatched_ids=unmatched)


def with_labels(features: pd.DataFrame, labels: pd.DataFrame | None,
                spec: DatasetSpec) -> pd.DataFrame:
    """The day's features with the target taken from its labels by id: missing where no label
    (or more than one) arrived for the row."""
    return features.assign(**{spec.target: labels_for(features[spec.id_column], labels, spec)})


def labels_for(ids: pd.Series, labels: pd.DataFrame | None, spec: DatasetSpec) -> pd.Series:
    """The target of each id as the features hold it (`target_values`), missing where no
    label, or more than one, arrived for it."""
    once = unique_labels(labels, spec)[0] if labels is not None else pd.Series(dtype=object)
    found = ids.astype(TEXT).map(once)
    known = found.notna()
    values = unlabelled(ids.index, spec)
    if known.any():
        values[known] = target_values(found[known], spec).to_numpy()
    return values


def labelled_only(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The rows whose label has arrived: the only rows a model may train or be judged on."""
    return frame[frame[spec.target].notna()].reset_index(drop=True)


def scored_with_labels(predictions: pd.DataFrame, labels: pd.DataFrame,
                       spec: DatasetSpec) -> pd.DataFrame:
    """A day's stored predictions with `actual` taken from the labels that have arrived (by
    `row_id`); realized metrics are computed on the rows where it is not missing."""
    return predictions.assign(actual=labels_for(predictions["row_id"], labels, spec))


def labelled_frames(features: Mapping[str, pd.DataFrame], labels: Mapping[str, pd.DataFrame],
                    days: Sequence[str], spec: DatasetSpec) -> tuple[dict[str, pd.DataFrame], int]:
    """Each day's features reduced to the rows whose label has arrived, and how many rows of
    those days that left out (no label yet, or more than one)."""
    frames, left_out = {}, 0
    for day in days:
        day_features = features[day]
        frames[day] = labelled_only(with_labels(
            day_features, labels.get(day), spec), spec)
        left_out += len(day_features) - len(frames[day])
    return frames, left_out


def labelled_rows_gained(now: Mapping[str, int], before: Mapping[str, int]) -> int:
    """Rows labelled since a point in time, from each day's labelled rows `now` and `before`
    it: a day's labels land in several files over time and each landing counts the whole day
    again, so only its growth is new."""
    return sum(max(0, rows - before.get(day, 0)) for day, rows in now.items())
