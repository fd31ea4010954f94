"""Drift statistics: compare a new day of data against the champion's training reference.

The reference is a compact, JSON-serializable summary of the training data (bin fractions,
quantiles, category shares) rather than the raw rows, because it is stored next to the champion
model as an MLflow artifact and re-loaded whenever a new day arrives. Everything here is pure
numpy/pandas/scipy and vectorised, so a day of a million rows is compared in well under a second.
SciPy is imported by the statistics that need it: it takes seconds to import, and every run
imports this module with the code location.

Thresholds know the sample size. A reference built with day labels carries a `Calibration` per
feature, and a day of n rows is then held to the largest of: the fixed threshold (an effect
worth acting on), what sampling noise alone reaches for n rows only once in `1 / NOISE_TAIL`
days, and `CALIBRATION_MARGIN` times the largest day-to-day movement seen inside the training
data (NannyML's idea: the reference period's own chunks set the bar). References without a
calibration are held to the fixed thresholds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from retrain_assets.core.metrics import relative_improvement

OTHER = "__other__"
"""Bucket for categories outside the reference's top ones, and for categories never seen."""

MAX_CATEGORIES = 50
"""Categories kept by name in a reference; rarer ones are lumped into ``OTHER``."""

QUANTILE_COUNT = 101
"""Percentiles 0..100 of a training column, enough to approximate its CDF for the KS statistic."""

NOISE_TAIL = 1e-6
"""Chance that sampling noise alone pushes one statistic of one feature past its threshold."""

CALIBRATION_MARGIN = 1.5
"""Head-room over the largest day-to-day movement seen in the training data."""

MIN_CALIBRATION_CHUNKS = 3
"""Fewer training days than this say nothing about day-to-day movement (noise bound only)."""

MIN_CHUNK_ROWS = 20
"""Smaller training days are left out of the calibration (a partial first or last day)."""

MAX_CHUNK_ROWS = 10_000
"""Larger training days are calibrated on a sample of this many rows: the movement between
days shows as well, and a 5M-row window is calibrated in a fraction of a second."""


@dataclass(frozen=True)
class Calibration:
    """How much one feature's statistics move between the days of the training data.

    Each statistic is the largest over the training days of that day against the rest of the
    training data (computed against the whole reference, corrected for the day being part of
    it); None when there were fewer than `MIN_CALIBRATION_CHUNKS` days or the statistic does not
    apply. `chunk_rows` is the median day size, to scale the movement to a day of another size.
    """

    chunks: int
    chunk_rows: int
    psi: float | None = None
    ks_statistic: float | None = None
    js_distance: float | None = None


@dataclass(frozen=True)
class NumericReference:
    """Training distribution of one numeric feature.

    Bins are left-closed ``[e_i, e_{i+1})`` quantile bins; when new data is binned the outer edges
    act as -inf/+inf, so values outside the training range land in the outer bins. Edges are
    deduplicated for discrete data, so each frequent value gets a bin of its own (the last bin may
    be the single point ``max``).
    """

    bin_edges: list[float]
    bin_fractions: list[float]
    quantiles: list[float]
    mean: float
    std: float
    min: float
    max: float
    null_fraction: float
    count: int
    calibration: Calibration | None = None


@dataclass(frozen=True)
class CategoricalReference:
    """Training shares of one categorical feature, keyed by the category as a string."""

    fractions: dict[str, float]
    null_fraction: float
    count: int
    calibration: Calibration | None = None


@dataclass(frozen=True)
class LabelShiftCalibration:
    """How far a training day's mean label moved from the rest of the training days (relative
    to the training label mean, the largest over the days), and the median day size: the
    prediction shift of a day, measured against the training label mean, is held to at least
    `CALIBRATION_MARGIN` times that movement, scaled to the day's size."""

    shift: float
    day_rows: int


@dataclass(frozen=True)
class DatasetReference:
    """Everything drift detection needs to know about the champion's training data."""

    numeric: dict[str, NumericReference]
    categorical: dict[str, CategoricalReference]
    label_mean: float | None
    prediction_mean: float | None
    row_count: int
    label_shift: LabelShiftCalibration | None = None

    def to_dict(self) -> dict:
        """Plain JSON-serializable form, for storing as an MLflow artifact."""
        return asdict(self)

    def restricted_to(self, features) -> DatasetReference:
        """The same reference over only `features` (others are not compared)."""
        keep = set(features)
        return DatasetReference(
            numeric={n: r for n, r in self.numeric.items() if n in keep},
            categorical={n: r for n, r in self.categorical.items() if n in keep},
            label_mean=self.label_mean, prediction_mean=self.prediction_mean,
            row_count=self.row_count, label_shift=self.label_shift)

    @classmethod
    def from_dict(cls, d: dict) -> DatasetReference:
        """Inverse of :meth:`to_dict` (also accepts the result of ``json.loads``)."""
        return cls(
            numeric={name: NumericReference(**_with_calibration(ref))
                     for name, ref in d["numeric"].items()},
            categorical={name: CategoricalReference(**_with_calibration(ref))
                         for name, ref in d["categorical"].items()},
            label_mean=d["label_mean"],
            prediction_mean=d["prediction_mean"],
            row_count=d["row_count"],
            # absent from references stored before the prediction shift was calibrated
            label_shift=LabelShiftCalibration(**d["label_shift"]) if d.get("label_shift")
            else None,
        )


def _with_calibration(ref: dict) -> dict:
    """A stored feature reference with its calibration as a `Calibration` (old ones have none)."""
    calibration = ref.get("calibration")
    return {**ref, "calibration": None if calibration is None else Calibration(**calibration)}


@dataclass(frozen=True)
class DriftThresholds:
    """Fixed limits above which a statistic counts as drift (raised for small days when the
    reference is calibrated, see the module docstring).

    PSI follows the industry rule of thumb (<0.1 none, 0.1-0.2 moderate, >0.2 significant). The
    prediction shift is relative: ``|mean prediction - label mean| / |label mean|``, as in the
    Kubeflow retraining checker.
    """

    psi: float = 0.2
    ks_statistic: float = 0.15
    js_distance: float = 0.1
    prediction_shift: float = 0.25
    metric_decay: float = 0.25
    """Live metric worse than the champion's holdout metric by more than this fraction."""


@dataclass(frozen=True)
class FeatureThresholds:
    """The limits one feature is held to on a day of a given size."""

    psi: float
    ks_statistic: float
    js_distance: float


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature. ``ks_*`` are numeric-only, ``js_distance`` categorical-only; both
    are also None when the new column has no non-null values (PSI then flags it). The
    ``*_threshold`` columns are the limits this day was held to."""

    feature: str
    kind: str
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    js_distance: float | None
    null_fraction: float
    reference_null_fraction: float
    drifted: bool
    psi_threshold: float | None = None
    ks_threshold: float | None = None
    js_threshold: float | None = None


@dataclass(frozen=True)
class DriftSummary:
    """Drift of a whole day against the reference: per feature and for the predictions."""

    features: list[FeatureDrift]
    drifted_features: list[str]
    max_psi: float
    prediction_mean: float | None
    reference_label_mean: float | None
    prediction_shift: float | None
    prediction_drifted: bool
    row_count: int
    prediction_shift_threshold: float = DriftThresholds.prediction_shift

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, worst PSI first — the table shown as asset metadata."""
        frame = pd.DataFrame([asdict(f) for f in self.features], columns=_FEATURE_COLUMNS)
        return frame.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)

    def to_dict(self) -> dict:
        """Plain JSON-serializable form."""
        return asdict(self)


_FEATURE_COLUMNS = [
    "feature",
    "kind",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "js_distance",
    "null_fraction",
    "reference_null_fraction",
    "drifted",
    "psi_threshold",
    "ks_threshold",
    "js_threshold",
]


def build_reference(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    label: pd.Series | None = None,
    predictions: pd.Series | None = None,
    bins: int = 10,
    days: pd.Series | None = None,
) -> DatasetReference:
    """Summarise training data into the reference that later days are compared against.

    With `days` (one label per row, e.g. the row's date), each feature is also calibrated on
    how much it moves from one training day to the next (see `Calibration`).
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    _require_columns(frame, [*numeric, *categorical])
    chunks = None if days is None else _day_samples(np.asarray(days))
    numeric_refs = {name: _numeric_reference(frame[name], bins) for name in numeric}
    categorical_refs = {name: _categorical_reference(frame[name]) for name in categorical}
    if chunks is not None:
        numeric_refs = {name: replace(ref, calibration=_calibrate(
                            ref, frame[name], chunks, _numeric_chunk_statistics))
                        for name, ref in numeric_refs.items()}
        categorical_refs = {name: replace(ref, calibration=_calibrate(
                                ref, frame[name], chunks, _categorical_chunk_statistics))
                            for name, ref in categorical_refs.items()}
    label_mean = None if label is None else _mean(label)
    return DatasetReference(
        numeric=numeric_refs,
        categorical=categorical_refs,
        label_mean=label_mean,
        prediction_mean=None if predictions is None else _mean(predictions),
        row_count=len(frame),
        label_shift=(None if chunks is None or label_mean is None
                     else _label_shift(np.asarray(label, dtype="float64"), label_mean, chunks)),
    )


def _label_shift(label: np.ndarray, mean: float, chunks: list[np.ndarray]
                 ) -> LabelShiftCalibration | None:
    """The largest relative move of a training day's mean label from the rest of the days
    (a day is a share ``w`` of the overall mean, which pulls it towards the day by ``w``:
    undone). None with fewer than `MIN_CALIBRATION_CHUNKS` days or a zero mean."""
    used = [c for c in chunks if c.size >= MIN_CHUNK_ROWS]
    if len(used) < MIN_CALIBRATION_CHUNKS or not mean:
        return None
    moves = [abs(np.nanmean(label[c]) - mean) / abs(mean) / (1.0 - c.size / label.size)
             for c in used]
    return LabelShiftCalibration(shift=float(np.nanmax(moves)),
                                 day_rows=int(np.median([c.size for c in used])))


def prediction_shift_threshold(ref: DatasetReference, rows: int,
                               thresholds: DriftThresholds = DriftThresholds()) -> float:
    """The limit a day of `rows` predictions is held to: the fixed one, raised to
    `CALIBRATION_MARGIN` times the training days' own label movement scaled from their size to
    `rows` (a mean of fewer rows moves more) when the reference is calibrated."""
    calibration = ref.label_shift
    if calibration is None or rows < 1:
        return thresholds.prediction_shift
    size = max(1.0, calibration.day_rows / rows)
    return float(max(thresholds.prediction_shift,
                     CALIBRATION_MARGIN * calibration.shift * np.sqrt(size)))


def _day_samples(days: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Row positions of each day, at most `MAX_CHUNK_ROWS` of them (a seeded sample)."""
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(rows, size=MAX_CHUNK_ROWS, replace=False))
            if rows.size > MAX_CHUNK_ROWS else rows
            for rows in pd.Series(days).groupby(days).indices.values()]


def _numeric_chunk_statistics(ref: NumericReference,
                              values: pd.Series) -> tuple[float, float | None, None]:
    x, _ = _numeric_values(values)
    return (*_numeric_statistics(ref, np.sort(x)), None)


def _categorical_chunk_statistics(ref: CategoricalReference,
                                  values: pd.Series) -> tuple[float, None, float | None]:
    found = categorical_drift(ref, values)
    return found.psi, None, found.js_distance


def _calibrate(ref, values: pd.Series, chunks: list[np.ndarray], statistics) -> Calibration:
    """The largest movement of one feature between a training day and the rest of them.

    A day is a share ``w`` of the reference it is compared with, which pulls each statistic
    towards zero by about ``(1 - w)`` (PSI, a squared distance: ``(1 - w)**2``); that is undone.
    """
    used = [c for c in chunks if c.size >= MIN_CHUNK_ROWS]
    calibration = Calibration(chunks=len(used),
                              chunk_rows=int(np.median([c.size for c in used])) if used else 0)
    if len(used) < MIN_CALIBRATION_CHUNKS:
        return calibration
    psi_max, ks_max, js_max = 0.0, None, None
    for chunk in used:
        chunk_psi, ks, js = statistics(ref, values.iloc[chunk])
        kept = 1.0 - chunk.size / len(values)
        psi_max = max(psi_max, chunk_psi / kept**2)
        if ks is not None:
            ks_max = max(ks_max or 0.0, ks / kept)
        if js is not None:
            js_max = max(js_max or 0.0, js / kept)
    return replace(calibration, psi=psi_max, ks_statistic=ks_max, js_distance=js_max)


def feature_thresholds(ref: NumericReference | CategoricalReference, rows: int,
                       thresholds: DriftThresholds = DriftThresholds()) -> FeatureThresholds:
    """The limits a day of `rows` non-null values of this feature is held to.

    Without a calibration: the fixed thresholds. With one, each is raised to what sampling noise
    alone reaches for `rows` once in ``1 / NOISE_TAIL`` days (``n·PSI`` and ``8·n·ln2·JS²`` are
    about chi-square with bins - 1 degrees of freedom, ``√n·KS`` Kolmogorov-distributed, with
    ``n`` the effective size of the two samples), and to `CALIBRATION_MARGIN` times the
    training days' own movement, scaled from their size to `rows` where the day is smaller.
    """
    fixed = FeatureThresholds(psi=thresholds.psi, ks_statistic=thresholds.ks_statistic,
                              js_distance=thresholds.js_distance)
    calibration = ref.calibration
    if calibration is None or rows < 1:
        return fixed
    from scipy import stats

    bins = (len(ref.bin_fractions) if isinstance(ref, NumericReference)
            else sum(1 for share in ref.fractions.values() if share > 0))
    n = rows * ref.count / (rows + ref.count)
    chi2 = float(stats.chi2.isf(NOISE_TAIL, max(bins - 1, 1)))
    noise = FeatureThresholds(psi=chi2 / n,
                              ks_statistic=float(stats.kstwobign.isf(NOISE_TAIL)) / np.sqrt(n),
                              js_distance=float(np.sqrt(chi2 / (8 * n * np.log(2)))))
    size = max(1.0, calibration.chunk_rows / rows)

    def seen(moved: float | None, scale: float) -> float:
        return 0.0 if moved is None else CALIBRATION_MARGIN * moved * scale

    return FeatureThresholds(
        psi=float(max(fixed.psi, noise.psi, seen(calibration.psi, size))),
        ks_statistic=float(max(fixed.ks_statistic, noise.ks_statistic,
                               seen(calibration.ks_statistic, np.sqrt(size)))),
        js_distance=float(max(fixed.js_distance, noise.js_distance,
                              seen(calibration.js_distance, np.sqrt(size)))),
    )


def psi(expected_fractions, actual_fractions, eps: float = 1e-4) -> float:
    """Population stability index; fractions are clipped at ``eps`` so empty bins stay finite."""
    expected = np.clip(np.asarray(expected_fractions, dtype=float), eps, None)
    actual = np.clip(np.asarray(actual_fractions, dtype=float), eps, None)
    if expected.shape != actual.shape:
        raise ValueError(f"psi needs matching bins, got {expected.shape} and {actual.shape}")
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_drift(
    ref: NumericReference, values: pd.Series, thresholds: DriftThresholds = DriftThresholds()
) -> FeatureDrift:
    """PSI over the reference bins plus a KS test against the reference's quantile CDF.

    The KS statistic is approximate because the training rows are not kept: the reference CDF is
    interpolated from ``ref.quantiles``. The p-value uses the asymptotic two-sample distribution
    with ``n = ref.count`` and ``m`` = non-null new values, as ``scipy.stats.ks_2samp`` does.
    """
    x, null_fraction = _numeric_values(values)
    x = np.sort(x)
    drift_psi, ks_statistic = _numeric_statistics(ref, x)
    ks_pvalue = None
    if x.size:
        effective_n = max(1, round(ref.count * x.size / (ref.count + x.size)))
        from scipy import stats

        ks_pvalue = float(stats.kstwo.sf(ks_statistic, effective_n))
    limits = feature_thresholds(ref, x.size, thresholds)
    return FeatureDrift(
        feature=str(values.name),
        kind="numeric",
        psi=drift_psi,
        ks_statistic=ks_statistic,
        ks_pvalue=ks_pvalue,
        js_distance=None,
        null_fraction=null_fraction,
        reference_null_fraction=ref.null_fraction,
        drifted=_is_drifted(limits, drift_psi, ks_statistic=ks_statistic),
        psi_threshold=limits.psi,
        ks_threshold=limits.ks_statistic,
    )


def _numeric_statistics(ref: NumericReference,
                        sorted_x: np.ndarray) -> tuple[float, float | None]:
    """PSI over the reference bins, and the approximate KS statistic (None without values)."""
    drift_psi = psi(ref.bin_fractions, _bin_fractions(np.asarray(ref.bin_edges), sorted_x))
    ks = _approximate_ks(np.asarray(ref.quantiles), sorted_x) if sorted_x.size else None
    return drift_psi, ks


def categorical_drift(
    ref: CategoricalReference, values: pd.Series, thresholds: DriftThresholds = DriftThresholds()
) -> FeatureDrift:
    """PSI and Jensen–Shannon distance (base 2, in [0, 1]) over the reference categories.

    Categories the reference does not name go to ``OTHER``, so a brand-new category shows up as
    growth of that bucket.
    """
    counts, null_fraction = _category_counts(values)
    categories = list(ref.fractions) + ([] if OTHER in ref.fractions else [OTHER])
    known = counts.index.isin(categories)
    actual_counts = (
        counts.groupby(np.where(known, counts.index, OTHER))
        .sum()
        .reindex(categories, fill_value=0)
        .to_numpy(dtype=float)
    )
    total = actual_counts.sum()
    actual = actual_counts / total if total else actual_counts
    expected = np.array([ref.fractions.get(c, 0.0) for c in categories])
    drift_psi = psi(expected, actual)
    js_distance = None
    if total:
        from scipy.spatial.distance import jensenshannon

        # Rounding can push the divergence a hair below zero, making scipy's sqrt return NaN.
        with np.errstate(invalid="ignore"):
            js_distance = float(np.nan_to_num(jensenshannon(expected, actual, base=2)))
    limits = feature_thresholds(ref, int(total), thresholds)
    return FeatureDrift(
        feature=str(values.name),
        kind="categorical",
        psi=drift_psi,
        ks_statistic=None,
        ks_pvalue=None,
        js_distance=js_distance,
        null_fraction=null_fraction,
        reference_null_fraction=ref.null_fraction,
        drifted=_is_drifted(limits, drift_psi, js_distance=js_distance),
        psi_threshold=limits.psi,
        js_threshold=limits.js_distance,
    )


def compare_to_reference(
    ref: DatasetReference,
    frame: pd.DataFrame,
    *,
    predictions: pd.Series | None = None,
    thresholds: DriftThresholds = DriftThresholds(),
) -> DriftSummary:
    """Drift of every reference feature in ``frame``, and of ``predictions`` vs the label mean."""
    _require_columns(frame, [*ref.numeric, *ref.categorical])
    features = [
        numeric_drift(feature_ref, frame[name], thresholds)
        for name, feature_ref in ref.numeric.items()
    ] + [
        categorical_drift(feature_ref, frame[name], thresholds)
        for name, feature_ref in ref.categorical.items()
    ]
    prediction_mean = None if predictions is None else _mean(predictions)
    prediction_shift = None
    limit = prediction_shift_threshold(ref, 0 if predictions is None else len(predictions),
                                       thresholds)
    if prediction_mean is not None and ref.label_mean is not None:
        prediction_shift = abs(prediction_mean - ref.label_mean) / max(abs(ref.label_mean), 1e-9)
    return DriftSummary(
        features=features,
        drifted_features=[f.feature for f in features if f.drifted],
        max_psi=max((f.psi for f in features), default=0.0),
        prediction_mean=prediction_mean,
        reference_label_mean=ref.label_mean,
        prediction_shift=prediction_shift,
        prediction_drifted=prediction_shift is not None and prediction_shift > limit,
        row_count=len(frame),
        prediction_shift_threshold=limit,
    )


@dataclass(frozen=True)
class PerformanceDecay:
    """The live metric of a labelled day against the champion's holdout metric."""

    metric: str
    live: float
    holdout: float
    decay: float  # relative, positive = the live metric is worse than on the holdout
    decayed: bool
    threshold: float = DriftThresholds.metric_decay


DECAY_NOISE_SIGMAS = 5.0
"""How many standard deviations of chance a decay must exceed on a small day."""


CHANCE_LEVEL = {"roc_auc": 0.5}
"""The metric a model that ranks at random scores, for metrics where that is fixed."""

MAX_EDGE_LOST = 0.5
"""Losing more than this fraction of the holdout's edge over chance is decay on any day: the
noise allowance of a small day must never excuse a model that has become a coin toss."""


def performance_decay(metric: str, live: float, holdout: float,
                      thresholds: DriftThresholds = DriftThresholds(), *,
                      noise: float | None = None, rows: int = 0,
                      holdout_rows: int = 0) -> PerformanceDecay:
    """Has the model got worse in production than it was when it was blessed?

    With the metric's `noise` measured on the holdout (`core.evaluation.metric_noise`), the
    threshold is raised to `DECAY_NOISE_SIGMAS` times the chance spread of the difference
    between a day of `rows` and the holdout's `holdout_rows`; without it, the fixed one. For a
    metric with a known chance level the threshold is capped at `MAX_EDGE_LOST` of the
    holdout's edge over chance.
    """
    decay = -relative_improvement(metric, live, holdout)
    limit = thresholds.metric_decay
    if noise is not None and rows > 0 and holdout_rows > 0:
        spread = noise * np.sqrt(1 / rows + 1 / holdout_rows)
        limit = max(limit, float(DECAY_NOISE_SIGMAS * spread))
    chance = CHANCE_LEVEL.get(metric)
    if chance is not None and holdout > chance:
        limit = min(limit, MAX_EDGE_LOST * (holdout - chance) / holdout)
    return PerformanceDecay(metric=metric, live=live, holdout=holdout, decay=decay,
                            decayed=decay > limit, threshold=limit)


def _is_drifted(
    thresholds: FeatureThresholds,
    drift_psi: float,
    *,
    ks_statistic: float | None = None,
    js_distance: float | None = None,
) -> bool:
    return (
        drift_psi > thresholds.psi
        or (ks_statistic is not None and ks_statistic > thresholds.ks_statistic)
        or (js_distance is not None and js_distance > thresholds.js_distance)
    )


def _require_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame is missing feature column(s) {missing}; it has {list(frame.columns)}"
        )


def _require_values(values: pd.Series, non_null: int) -> None:
    if not non_null:
        raise ValueError(
            f"cannot build a drift reference for feature {values.name!r}: it has no non-null "
            "values in the training data; drop it from the feature list or fix the data"
        )


def _null_fraction(values: pd.Series, non_null: int) -> float:
    return 1.0 - non_null / len(values) if len(values) else 0.0


def _numeric_values(values: pd.Series) -> tuple[np.ndarray, float]:
    """Finite values as float64 and the fraction that was missing (NaN/None/±inf)."""
    try:
        x = values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {values.name!r} must be numeric: {exc}") from exc
    x = x[np.isfinite(x)]
    return x, _null_fraction(values, x.size)


def _mean(values: pd.Series) -> float | None:
    x, _ = _numeric_values(values)
    return float(x.mean()) if x.size else None


def _bin_fractions(edges: np.ndarray, sorted_x: np.ndarray) -> np.ndarray:
    """Share of ``sorted_x`` per left-closed bin, outer edges treated as -inf/+inf.

    Searching the few inner edges in the sorted sample costs nothing next to the sort itself.
    """
    below = np.searchsorted(sorted_x, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], below, [sorted_x.size]]))
    return counts / sorted_x.size if sorted_x.size else counts.astype(float)


def _numeric_reference(values: pd.Series, bins: int) -> NumericReference:
    x, null_fraction = _numeric_values(values)
    _require_values(values, x.size)
    x = np.sort(x)
    lo, hi = x[0], x[-1]
    # Cuts are actual data values, so each frequent value of discrete data gets its own bin.
    cuts = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"))
    edges = np.concatenate([[lo], cuts[cuts > lo], [hi]])
    return NumericReference(
        bin_edges=edges.tolist(),
        bin_fractions=_bin_fractions(edges, x).tolist(),
        quantiles=np.quantile(x, np.linspace(0, 1, QUANTILE_COUNT)).tolist(),
        mean=float(x.mean()),
        std=float(x.std()),
        min=float(lo),
        max=float(hi),
        null_fraction=null_fraction,
        count=int(x.size),
    )


def _category_counts(values: pd.Series) -> tuple[pd.Series, float]:
    """Non-null counts per category (as string, so they survive JSON) and the null fraction."""
    counts = values.value_counts(dropna=True)
    counts = counts[counts > 0]
    counts.index = counts.index.astype(str)
    counts = counts.groupby(level=0).sum().sort_values(ascending=False, kind="stable")
    return counts, _null_fraction(values, int(counts.sum()))


def _categorical_reference(values: pd.Series) -> CategoricalReference:
    counts, null_fraction = _category_counts(values)
    total = int(counts.sum())
    _require_values(values, total)
    fractions = (counts / total).head(MAX_CATEGORIES)
    rest = 1.0 - float(fractions.sum())
    return CategoricalReference(
        fractions={
            **{c: float(f) for c, f in fractions.items()},
            **({OTHER: rest} if len(counts) > MAX_CATEGORIES else {}),
        },
        null_fraction=null_fraction,
        count=total,
    )


def _approximate_ks(quantiles: np.ndarray, sorted_x: np.ndarray) -> float:
    """max |F_ref - F_new| at the new values and the reference quantile points.

    ``F_ref`` is piecewise linear through (quantile_k, k / (K-1)) and right-continuous where
    quantiles repeat (point masses of discrete data); both CDFs are evaluated right-continuously,
    as ``ks_2samp`` does on pooled samples.
    """
    m = sorted_x.size
    last_of_ties = np.append(sorted_x[1:] != sorted_x[:-1], True)
    points = np.concatenate([sorted_x[last_of_ties], quantiles])
    new_cdf = np.concatenate(
        [
            (np.flatnonzero(last_of_ties) + 1) / m,
            np.searchsorted(sorted_x, quantiles, side="right") / m,
        ]
    )
    return float(np.max(np.abs(_reference_cdf(quantiles, points) - new_cdf)))


def _reference_cdf(quantiles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Interpolated training CDF: 0 below the min, 1 from the max on.

    Each point is placed on the segment starting at the last quantile <= it; repeated quantiles
    give a zero-length segment, i.e. a jump. Clipping handles points below the minimum.
    """
    probs = np.linspace(0, 1, quantiles.size)
    step = np.diff(quantiles)
    slope = np.divide(np.diff(probs), step, out=np.zeros_like(step), where=step > 0)
    k = np.maximum(np.searchsorted(quantiles, points, side="right") - 1, 0)
    return np.clip(probs[k] + (points - quantiles[k]) * np.append(slope, 0.0)[k], 0.0, 1.0)
