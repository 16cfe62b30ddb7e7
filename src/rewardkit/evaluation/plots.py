"""PNG charts of one or more checkpoints (Agg rendering, no display needed): margin vs similarity scatter;
for suite reports, accuracy bars, reliability diagrams and margin histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rewardkit.data.priors import BoundParams
from rewardkit.evaluation.diagnostics import MarginPoints, pearson


def plot_margin_vs_similarity(
    points: dict[str, MarginPoints],
    path: str | Path,
    *,
    similarity_label: str = "prior similarity s",
    bound: BoundParams | None = None,
    title: str | None = None,
) -> Path:
    """One scatter series per label (e.g. "model / set"), with its Pearson r in the legend.

    With `bound`, also draws the PCRM optimum delta*(s) / 2 (the prior-constraint loss is smallest there),
    clipped to the margins' range so that a large bound at small s does not flatten the scatter.
    """
    series = {label: p for label, p in points.items() if p.similarity is not None and p.margins}
    if not series:
        raise ValueError("nothing to plot: no series has both margins and similarities")
    fig = Figure(figsize=(7, 5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, p in series.items():
        r = pearson(p.margins, p.similarity)
        legend = f"{label} (n={len(p.margins)}, r={r:.2f})" if r is not None else f"{label} (n={len(p.margins)})"
        ax.scatter(p.similarity, p.margins, s=8, alpha=0.5, label=legend)
    margins = np.concatenate([np.asarray(p.margins, dtype=np.float64) for p in series.values()])
    top, bottom = max(margins.max(), 0.0), min(margins.min(), 0.0)
    pad = 0.05 * (top - bottom) or 1.0
    if bound is not None:
        low = min(min(p.similarity) for p in series.values())
        s = np.linspace(max(low, 0.02), 1.0, 200)
        ax.plot(
            s,
            (bound.b1 / (s + bound.b2) + bound.b3) / 2,
            color="black",
            linewidth=1,
            label=f"PCRM optimum delta*(s)/2, b=({bound.b1:g}, {bound.b2:g}, {bound.b3:g})",
        )
    ax.set_ylim(bottom - pad, top + pad)
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel(similarity_label)
    ax.set_ylabel("margin r(chosen) - r(rejected)")
    ax.set_title(title or "margin vs prior similarity")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


# ---- multi-checkpoint suite charts (evaluation/report.py) ----------------------------------------------


def _save(fig: Figure, path: str | Path) -> Path:
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _panels(n: int, width: float = 4.0, height: float = 3.2, columns: int = 3) -> tuple[Figure, list]:
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(width * cols, height * rows), dpi=100)
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(n)]


def plot_accuracy_bars(
    accuracy: dict[str, dict[str, float]],
    path: str | Path,
    *,
    errors: dict[str, dict[str, float]] | None = None,
    title: str = "accuracy per eval set",
    chance: float | None = 0.5,
) -> Path:
    """Grouped bars: one group per eval set, one bar per model (accuracy: {model: {set: value}}), with
    optional error bars (same shape) and a dashed chance line."""
    models = list(accuracy)
    sets = list(dict.fromkeys(s for m in models for s in accuracy[m]))
    if not models or not sets:
        raise ValueError("nothing to plot: no accuracies")
    fig = Figure(figsize=(min(12.0, max(6.0, 1.2 * len(sets) + 2.5)), 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(models)
    x = np.arange(len(sets))
    for i, model in enumerate(models):
        values = [accuracy[model].get(s, np.nan) for s in sets]
        err = [errors.get(model, {}).get(s, 0.0) for s in sets] if errors else None
        ax.bar(
            x - 0.4 + width * (i + 0.5), values, width, yerr=err if err and any(err) else None, capsize=2, label=model
        )
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks(x, sets, rotation=30, ha="right")
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("accuracy (ties wrong)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def plot_reliability(
    bins: dict[str, dict[str, list[dict]]], path: str | Path, *, title: str = "reliability of sigmoid(margin)"
) -> Path:
    """One panel per eval set ({set: {model: reliability bins}}, bins as in evaluation/calibration.py):
    accuracy against mean confidence of each non-empty bin, marker area ~ pairs; the diagonal is perfect
    calibration."""
    if not bins:
        raise ValueError("nothing to plot: no reliability bins")
    fig, axes = _panels(len(bins))
    for ax, (set_name, per_model) in zip(axes, bins.items()):
        ax.plot([0.5, 1.0], [0.5, 1.0], color="grey", linewidth=0.8, linestyle="--")
        for model, model_bins in per_model.items():
            full = [b for b in model_bins if b["pairs"]]
            if not full:
                continue
            total = sum(b["pairs"] for b in full)
            conf = [b["confidence"] for b in full]
            acc = [b["accuracy"] for b in full]
            line = ax.plot(conf, acc, linewidth=1, label=model)[0]
            ax.scatter(conf, acc, s=[4 + 200 * b["pairs"] / total for b in full], color=line.get_color(), alpha=0.7)
        ax.set_xlim(0.48, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(set_name, fontsize=9)
        ax.set_xlabel("confidence max(p, 1-p)", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
    axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle(title)
    return _save(fig, path)


def plot_margin_histograms(
    margins: dict[str, dict[str, list[float]]],
    path: str | Path,
    *,
    bins: int = 30,
    title: str = "margin r(chosen) - r(rejected)",
) -> Path:
    """One panel per eval set ({set: {model: margins}}): step histograms on shared bins, zero marked."""
    if not margins:
        raise ValueError("nothing to plot: no margins")
    fig, axes = _panels(len(margins))
    for ax, (set_name, per_model) in zip(axes, margins.items()):
        values = [np.asarray(v, dtype=np.float64) for v in per_model.values() if len(v)]
        if not values:
            continue
        low, high = min(v.min() for v in values), max(v.max() for v in values)
        if high <= low:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, bins + 1)
        for model, v in per_model.items():
            if len(v):
                ax.hist(v, bins=edges, histtype="step", linewidth=1.2, label=model)
        ax.axvline(0.0, color="grey", linewidth=0.8)
        ax.set_title(set_name, fontsize=9)
        ax.set_xlabel("margin", fontsize=8)
        ax.set_ylabel("pairs", fontsize=8)
    axes[0].legend(fontsize=6)
    fig.suptitle(title)
    return _save(fig, path)
