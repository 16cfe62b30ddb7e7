"""Over-optimisation report: one PNG (gold and proxy against d = sqrt(KL) for every reward, one row per prompt
group, plus RL runs) and markdown tables, from the curves of evaluation/overopt.py."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rewardkit.evaluation.overopt import PEAK, UNCERTAIN, gao_curve


def plot_overopt(
    curves: dict[str, dict[str, dict[str, Any]]],
    path: str | Path,
    *,
    rl_runs: dict[str, dict[str, Any]] | None = None,
    title: str | None = None,
) -> Path:
    """curves: {group: {reward: bon_curve}}; rl_runs: {run: rl curve (`generation.overopt.rl_curve`)}.

    Left column: mean gold of the best-of-N pick (error bars: bootstrap SE over prompts; dashed: the Gao fit,
    a marker at a fitted peak). Right column: the proxy's gain in its within-prompt standard deviations.
    Top axis: N. A last row shows the held-out gold of RL runs against d with their fits."""
    rl_runs = rl_runs or {}
    rows = len(curves) + (1 if rl_runs else 0)
    if rows == 0:
        raise ValueError("nothing to plot: no best-of-N curves and no RL runs")
    fig = Figure(figsize=(12, 3.8 * rows), dpi=100)
    FigureCanvasAgg(fig)
    row = 0
    for group, per_reward in curves.items():
        gold_ax = fig.add_subplot(rows, 2, 2 * row + 1)
        proxy_ax = fig.add_subplot(rows, 2, 2 * row + 2)
        for i, (reward, c) in enumerate(per_reward.items()):
            color = f"C{i % 10}"
            d = _gold_curve(gold_ax, c["d"], c["gold"], c["gold_gain_se"], c["fits"].get("gold"), color, reward)
            proxy_ax.plot(d, c["proxy_gain_sd"], color=color, marker="o", markersize=3, linewidth=1, label=reward)
        some = next(iter(per_reward.values()))
        prompts = some["prompts"]
        gold_ax.set_title(f"{group}: gold of the best-of-N pick ({prompts} prompts)", fontsize=9)
        gold_ax.set_ylabel("gold", fontsize=8)
        proxy_ax.set_title(f"{group}: proxy gain over N = 1", fontsize=9)
        proxy_ax.set_ylabel("proxy gain / within-prompt SD", fontsize=8)
        for ax in (gold_ax, proxy_ax):
            ax.set_xlabel("d = sqrt(KL_bon)", fontsize=8)
            _n_axis(ax, some["d"], some["n"])
        gold_ax.legend(fontsize=6, loc="best")
        row += 1
    if rl_runs:
        ax = fig.add_subplot(rows, 2, 2 * row + 1)
        for i, (run, c) in enumerate(rl_runs.items()):
            _gold_curve(ax, c["d"], c["gold"], c["gold_se"], c.get("fit"), f"C{i % 10}", run)
        ax.set_title("RL: held-out gold against d = sqrt(KL to the initial policy)", fontsize=9)
        ax.set_xlabel("d", fontsize=8)
        ax.set_ylabel("gold", fontsize=8)
        ax.legend(fontsize=6, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.98) if title else None)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _gold_curve(
    ax: Any,
    d: list[float],
    gold: list[float],
    se: list[float | None],
    fit: dict[str, Any] | None,
    color: str,
    label: str,
) -> np.ndarray:
    """Gold against d with bootstrap-SE error bars (a missing SE draws none) and its fitted curve; returns d."""
    d_values = np.asarray(d)
    errors = [0.0 if s is None else s for s in se]
    ax.errorbar(d_values, gold, yerr=errors, color=color, marker="o", markersize=3, linewidth=1, capsize=2, label=label)
    _fitted(ax, fit, d_values, gold[0], color)
    return d_values


def _fitted(ax: Any, fit: dict[str, Any] | None, d: np.ndarray, start: float, color: str) -> None:
    """The fitted curve start + R(d) over the measured range (dashed), and its peak if it has one there."""
    if not fit:
        return
    grid = np.linspace(0.0, float(d.max()), 100)
    ax.plot(
        grid,
        start + gao_curve(grid, fit["alpha"], fit["beta"], fit["form"]),
        color=color,
        linestyle="--",
        linewidth=0.8,
    )
    if fit["status"] in (PEAK, UNCERTAIN):  # an uncertain peak: hollow
        ax.plot(
            [fit["peak_d"]],
            [start + fit["peak_gain"]],
            color=color,
            marker="*",
            markersize=9,
            markerfacecolor=color if fit["status"] == PEAK else "none",
        )


def _n_axis(ax: Any, d: list[float], ns: list[int]) -> None:
    top = ax.twiny()
    top.set_xlim(ax.get_xlim())
    top.set_xticks(d, [f"N={n}" if i == 0 else str(n) for i, n in enumerate(ns)], fontsize=7)


# ---- markdown ----------------------------------------------------------------------------------------------


def fmt(value: float | None, se: float | None = None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    text = f"{value:.{digits}f}"
    return f"{text} ± {se:.{digits}f}" if se is not None and math.isfinite(se) else text


def peak_cells(fit: dict[str, Any] | None, start: float) -> list[str]:
    """status, d*, N* (best-of-N), gold at the peak, and the share of bootstrap replicates that peak."""
    if not fit:
        return ["–"] * 5
    status = {
        "peak": "peak",
        "uncertain": "uncertain peak",
        "rising": "no turn-down within range",
        "falling": "falls from the start",
        "flat": "flat (no change)",
    }[fit["status"]]
    if fit["status"] not in (PEAK, UNCERTAIN):
        return [status, "–", "–", "–", fmt(fit.get("peak_share"), digits=2)]
    gold = start + fit["peak_gain"]
    return [
        status,
        fmt(fit["peak_d"], fit.get("peak_d_se"), 2),
        fmt(fit.get("peak_n"), digits=1),
        fmt(gold, fit.get("peak_gain_se")),
        fmt(fit.get("peak_share"), digits=2),
    ]


def bon_table(per_reward: dict[str, dict[str, Any]]) -> str:
    """One row per reward: gold at N = 1 and n_max, the gold fit and its peak, the proxy gain."""
    lines = [
        "| reward | gold N=1 | gold N=max | best measured N | proxy gain (SD) | gold fit alpha | gold fit beta "
        "| R² | gold peak | d* | N* | gold at d* | peak share |",
        "|---|" + "---:|" * 12,
    ]
    for reward, c in per_reward.items():
        fit = c["fits"].get("gold") or {}
        best = int(np.argmax(c["gold"]))
        lines.append(
            "| "
            + " | ".join(
                [
                    reward,
                    fmt(c["gold"][0], c["gold_se"][0]),
                    fmt(c["gold"][-1], c["gold_gain_se"][-1]),
                    str(c["n"][best]),
                    fmt(c["proxy_gain_sd"][-1], digits=2),
                    fmt(fit.get("alpha"), fit.get("alpha_se")),
                    fmt(fit.get("beta"), fit.get("beta_se")),
                    fmt(fit.get("r2"), digits=2),
                    *peak_cells(fit or None, c["gold"][0]),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def rl_table(runs: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| run | steps measured | KL max | gold at step 0 | gold at the end | fit alpha | fit beta | R² "
        "| gold peak | d* | gold at d* |",
        "|---|" + "---:|" * 10,
    ]
    for run, c in runs.items():
        fit = c.get("fit") or {}
        cells = peak_cells(fit or None, c["gold"][0])
        lines.append(
            "| "
            + " | ".join(
                [
                    run,
                    str(len(c["steps"])),
                    fmt(max(c["kl"]), digits=3),
                    fmt(c["gold"][0], c["gold_se"][0]),
                    fmt(c["gold"][-1], c["gold_se"][-1]),
                    fmt(fit.get("alpha"), fit.get("alpha_se")),
                    fmt(fit.get("beta"), fit.get("beta_se")),
                    fmt(fit.get("r2"), digits=2),
                    cells[0],
                    cells[1],
                    cells[3],
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def markdown_report(report: dict[str, Any], plot: str | None = None) -> str:
    """The tables of a `rewardkit overopt` report (generation/overopt.py)."""
    lines = [
        f"Over-optimisation: policy {report['policy']}, {report['prompts']} prompts, n = {report['n_max']} "
        f"samples per prompt, N in {report['ns']}, gold: {report['gold']}.",
        "",
    ]
    if plot:
        lines += [f"![over-optimisation curves]({plot})", ""]
    lines += [
        "gold N=max ± SE of its gain over N = 1; fits: gain R(d) = d (alpha - beta d), d = sqrt(log N - "
        "(N-1)/N); d*, gold at d*: the fitted peak when it lies within the measured range, ± bootstrap SE "
        "over prompts; peak share: bootstrap replicates whose fit peaks within the range (under half: an uncertain "
        "peak).",
        "",
    ]
    for group, per_reward in report["curves"].items():
        prompts = next(iter(per_reward.values()))["prompts"] if per_reward else 0
        lines += [f"**{group}** ({prompts} prompts)", "", bon_table(per_reward)]
    if report.get("rl"):
        lines += [
            "**RL runs** (held-out gold against d = sqrt(KL to the initial policy); fit R(d) = d (alpha - beta log d))",
            "",
            rl_table(report["rl"]),
        ]
    return "\n".join(lines)
