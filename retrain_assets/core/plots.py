"""Plots for asset metadata. Matplotlib with the Agg backend: no display needed.

Matplotlib is imported when a plot is drawn, not with the code location: it takes seconds, and
most runs (ingest, backfills) draw nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_POINTS = 3_000


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def predicted_vs_actual(actual: pd.Series, scores: dict[str, pd.Series], task: str):
    """Regression: scatter per model against the diagonal. Classification: score histograms.
    Multiclass: each model's recall per class."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sample = actual.sample(min(MAX_POINTS, len(actual)), random_state=0).index
    if task == "regression":
        for who, predicted in scores.items():
            ax.scatter(actual.loc[sample], predicted.loc[sample], s=6, alpha=0.4, label=who)
        bounds = [float(actual.min()), float(actual.max())]
        ax.plot(bounds, bounds, color="black", linewidth=1, label="perfect")
        ax.set_xlabel("actual")
        ax.set_ylabel("predicted")
    elif task == "multiclass":
        truth = actual.astype(str)
        classes = sorted(truth.unique())
        width = 0.8 / max(len(scores), 1)
        for i, (who, predicted) in enumerate(scores.items()):
            hit = predicted.idxmax(axis=1) == truth
            ax.bar(np.arange(len(classes)) + i * width, [hit[truth == c].mean() for c in classes],
                   width=width, label=who)
        ax.set_xticks(np.arange(len(classes)), classes, rotation=45, fontsize=7)
        ax.set_ylabel("recall (share of the class predicted as it)")
    else:
        for who, predicted in scores.items():
            for label in (0, 1):
                values = predicted.loc[sample][actual.loc[sample] == label]
                ax.hist(values, bins=np.linspace(0, 1, 21), alpha=0.4,
                        label=f"{who}, label={label}")
        ax.set_xlabel("predicted probability")
    ax.set_title("Holdout: predicted vs actual")
    ax.legend(fontsize=8)
    plt.close(fig)
    return fig


def drift_over_time(frame: pd.DataFrame, *, psi_threshold: float,
                    decay_threshold: float | None = None):
    """Max feature PSI per day on the left axis and live metric decay on its own right axis
    (the two live on different scales), each with its threshold as a dashed line of its
    colour. `frame`: columns `day`, `max_psi`, `metric_decay` (NaN on unlabelled days)."""
    plt = _pyplot()
    fig, psi_axis = plt.subplots(figsize=(7, 3.5))
    psi_colour, decay_colour = "tab:blue", "tab:orange"
    psi_axis.plot(frame["day"], frame["max_psi"], marker="o", markersize=3, color=psi_colour,
                  label="max feature PSI")
    psi_axis.axhline(psi_threshold, color=psi_colour, linestyle="--", linewidth=1,
                     label=f"PSI threshold {psi_threshold:g}")
    psi_axis.set_ylabel("max feature PSI", color=psi_colour)
    decay_axis = psi_axis.twinx()
    decay_axis.plot(frame["day"], frame["metric_decay"], marker="s", markersize=3,
                    color=decay_colour, label="live metric decay")
    if decay_threshold is not None:
        decay_axis.axhline(decay_threshold, color=decay_colour, linestyle="--", linewidth=1,
                           label=f"decay threshold {decay_threshold:g}")
    decay_axis.set_ylabel("live metric decay (fraction worse than holdout)", color=decay_colour)
    psi_axis.set_title("Drift over time")
    psi_axis.tick_params(axis="x", rotation=45, labelsize=7)
    lines = psi_axis.get_legend_handles_labels()
    more = decay_axis.get_legend_handles_labels()
    psi_axis.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper left")
    plt.close(fig)
    return fig
