"""Side-by-side report of several checkpoints on an eval suite: markdown tables, PNG charts, JSON.

The report is rendered from one JSON-able dict (`suite_results`), so it can be regenerated from the JSON
file alone:

    {"suite": name, "data_root": str, "sets": {set: EvalSet.summary()},
     "models": {label: evaluate_suite(...) output + optional "info"},
     "groups": {group: [labels]}}          # optional: e.g. one method trained with several seeds

Groups (default: every model alone) are shown as mean ± sample standard deviation over their members;
reliability diagrams and margin histograms pool the members' pairs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rewardkit.evaluation.calibration import calibration
from rewardkit.evaluation.suites import EvalSet
from rewardkit.files import write_json_atomic, write_text_atomic

CHARTS = {"accuracy": "accuracy.png", "reliability": "reliability.png", "margins": "margins.png"}


@dataclass(frozen=True)
class Stat:
    """Mean and spread of one number over a group's members (sd is None for a single member)."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    def format(self, digits: int = 3) -> str:
        text = f"{self.mean:.{digits}f}"
        return text if self.sd is None else f"{text} ± {self.sd:.{digits}f}"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "sd": self.sd, "n": len(self.values), "values": list(self.values)}


def suite_results(
    evaluations: dict[str, dict[str, Any]],
    sets: dict[str, EvalSet],
    *,
    suite: str,
    data_root: str | Path,
    groups: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Assemble the report input from `evaluate_suite` outputs ({label: output}) and the loaded sets."""
    if not evaluations:
        raise ValueError("no evaluations to report")
    if groups:
        unknown = sorted({m for members in groups.values() for m in members} - set(evaluations))
        if unknown:
            raise ValueError(f"groups name models that were not evaluated: {unknown}")
    return {
        "suite": suite,
        "data_root": str(data_root),
        "sets": {n: s.summary() for n, s in sets.items()},
        "models": evaluations,
        "groups": groups or {label: [label] for label in evaluations},
    }


def _groups(results: dict[str, Any]) -> dict[str, list[str]]:
    return results.get("groups") or {label: [label] for label in results["models"]}


def group_stat(
    results: dict[str, Any], members: list[str], read: Callable[[dict[str, Any]], float | None]
) -> Stat | None:
    """`read(model evaluation)` over a group's members; None when no member has the value."""
    values = [read(results["models"][m]) for m in members]
    values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return Stat(tuple(values)) if values else None


def _metric(set_name: str, *keys: str, implicit: bool = False) -> Callable[[dict[str, Any]], Any]:
    def read(evaluation: dict[str, Any]) -> Any:
        m = evaluation["metrics"].get(set_name)
        if m is not None and implicit:
            m = m.get("implicit")
        for k in keys:
            if not isinstance(m, dict):
                return None
            m = m.get(k)
        return m

    return read


def macro_mean(evaluation: dict[str, Any], key: str = "accuracy", implicit: bool = False) -> float | None:
    """Unweighted mean over sets of one metric (every set counts once)."""
    values = [_metric(s, key, implicit=implicit)(evaluation) for s in evaluation["metrics"]]
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def accuracy_table(results: dict[str, Any], *, implicit: bool = False) -> dict[str, dict[str, Stat]]:
    """{group: {column: Stat}}: accuracy per set, section scores, and the macro mean over sets."""
    sections_key = "implicit_sections" if implicit else "sections"
    table: dict[str, dict[str, Stat]] = {}
    for group, members in _groups(results).items():
        row: dict[str, Stat] = {}
        for set_name in results["sets"]:
            stat = group_stat(results, members, _metric(set_name, "accuracy", implicit=implicit))
            if stat is not None:
                row[set_name] = stat
        if not row:
            continue
        sections = {s for m in members for s in results["models"][m].get(sections_key) or {}}
        for section in sorted(sections):
            stat = group_stat(results, members, lambda e, s=section: (e.get(sections_key) or {}).get(s))
            if stat is not None:
                row[f"{section} (section)"] = stat
        row["mean"] = group_stat(results, members, lambda e: macro_mean(e, implicit=implicit))
        table[group] = row
    return table


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _stat_table(table: dict[str, dict[str, Stat]], first: str = "model") -> str:
    columns = list(dict.fromkeys(c for row in table.values() for c in row))
    rows = [[g] + [row[c].format() if c in row else "" for c in columns] for g, row in table.items()]
    return _markdown([first] + columns, rows)


def _per_set_table(results: dict[str, Any], cell: Callable[[str, list[str]], str]) -> str:
    sets = list(results["sets"])
    rows = [[g] + [cell(s, members) for s in sets] for g, members in _groups(results).items()]
    return _markdown(["model"] + sets, rows)


def _fmt(stat: Stat | None, digits: int = 3) -> str:
    return "" if stat is None else stat.format(digits)


def _mean(stat: Stat | None, digits: int = 2) -> str:
    return "–" if stat is None else f"{stat.mean:.{digits}f}"


def subset_table(results: dict[str, Any]) -> str | None:
    """Accuracy per subset of the sets that have several (e.g. LLMBar adversarial, TL;DR valid1/valid2)."""
    columns = [
        (s, sub) for s, info in results["sets"].items() if len(info["subset_sizes"]) > 1 for sub in info["subset_sizes"]
    ]
    if not columns:
        return None
    rows = [
        [g] + [_fmt(group_stat(results, members, _metric(s, "subsets", sub, "accuracy"))) for s, sub in columns]
        for g, members in _groups(results).items()
    ]
    return _markdown(["model"] + [f"{s} / {sub}" for s, sub in columns], rows)


def data_table(results: dict[str, Any]) -> str:
    """What was evaluated: pairs, where they came from, what was dropped, the prefer-longer baseline."""
    any_model = next(iter(results["models"].values()))
    rows = []
    for name, info in results["sets"].items():
        dropped = ", ".join(f"{k}: {v}" for k, v in info["dropped"].items()) or "–"
        n = info["pairs"]
        longer = _metric(name, "length_bias", "data_chosen_longer_rate")(any_model)
        rows.append(
            [
                name,
                str(n),
                str(info["available"]),
                dropped,
                str(info["overlap_removed"]),
                f"{math.sqrt(0.25 / n):.3f}" if n else "",
                "–" if longer is None else f"{longer:.3f}",
                info.get("description", ""),
            ]
        )
    return _markdown(
        [
            "set",
            "pairs evaluated",
            "available",
            "dropped when loading",
            "training overlap removed",
            "SE at 50%",
            "prefer-longer accuracy",
            "source",
        ],
        rows,
    )


def render_markdown(results: dict[str, Any], *, charts: dict[str, str] | None = None, heading: str = "###") -> str:
    """The report body (no title): tables, then the charts by relative path."""
    parts = [
        f"{heading} Accuracy\n",
        "Strict accuracy (a tie counts as wrong); section = subset accuracies weighted by full subset size "
        "(RewardBench style); mean = unweighted mean over sets.\n",
        _stat_table(accuracy_table(results)),
    ]
    implicit = accuracy_table(results, implicit=True)
    if implicit:
        parts += [
            f"\n{heading} Implicit-reward accuracy\n",
            "beta * (log pi - log ref) of models with an LM head (DPO; HaF's second score).\n",
            _stat_table(implicit),
        ]
    subsets = subset_table(results)
    if subsets:
        parts += [f"\n{heading} Accuracy per subset\n", subsets]
    parts += [
        f"\n{heading} Calibration\n",
        "**Expected calibration error** of sigmoid(margin) (10 confidence bins over [0.5, 1]; lower is better):\n",
        _per_set_table(results, lambda s, ms: _mean(group_stat(results, ms, _metric(s, "ece")), 3)),
        "\n**Log loss** -log sigmoid(margin) (0.693 = a constant margin of 0):\n",
        _per_set_table(results, lambda s, ms: _mean(group_stat(results, ms, _metric(s, "calibration", "log_loss")), 3)),
        f"\n{heading} Length bias\n",
        "**Accuracy when the preferred response is the longer / the shorter one** (characters; a "
        "length-blind reward scores alike on both):\n",
        _per_set_table(
            results,
            lambda s, ms: (
                f"{_mean(group_stat(results, ms, _metric(s, 'length_bias', 'accuracy_chosen_longer')))} / "
                f"{_mean(group_stat(results, ms, _metric(s, 'length_bias', 'accuracy_chosen_shorter')))}"
            ),
        ),
        "\n**Spearman correlation of reward with response length** (all responses):\n",
        _per_set_table(
            results, lambda s, ms: _mean(group_stat(results, ms, _metric(s, "length_bias", "reward_length_spearman")))
        ),
        f"\n{heading} Reward scale\n",
        "Margin r(chosen) - r(rejected): mean / standard deviation.\n",
        _per_set_table(
            results,
            lambda s, ms: (
                f"{_mean(group_stat(results, ms, _metric(s, 'margin_mean')))} / "
                f"{_mean(group_stat(results, ms, _metric(s, 'margin_std')))}"
            ),
        ),
        f"\n{heading} Eval data\n",
        f"Suite `{results['suite']}` under `{results['data_root']}`. SE at 50% = the binomial standard "
        "error of one accuracy at 0.5 on that many pairs.\n",
        data_table(results),
    ]
    if charts:
        parts.append(f"\n{heading} Charts\n")
        parts += [f"![{name}]({path})\n" for name, path in charts.items()]
    return "\n".join(parts)


def pooled_margins(results: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """{set: {group: margins of all members}}."""
    out: dict[str, dict[str, list[float]]] = {}
    for set_name in results["sets"]:
        per_group = {}
        for group, members in _groups(results).items():
            values = [x for m in members for x in results["models"][m].get("margins", {}).get(set_name, [])]
            if values:
                per_group[group] = values
        if per_group:
            out[set_name] = per_group
    return out


def write_charts(results: dict[str, Any], out_dir: str | Path, prefix: str = "") -> dict[str, Path]:
    """accuracy.png, reliability.png, margins.png (names prefixed with `prefix`) in `out_dir`."""
    from rewardkit.evaluation.plots import plot_accuracy_bars, plot_margin_histograms, plot_reliability

    out = Path(out_dir)
    table = accuracy_table(results)
    accuracy = {g: {s: st.mean for s, st in row.items() if s in results["sets"]} for g, row in table.items()}
    errors = {g: {s: st.sd or 0.0 for s, st in row.items() if s in results["sets"]} for g, row in table.items()}
    margins = pooled_margins(results)
    bins = {s: {g: [asdict(b) for b in calibration(v).bins] for g, v in per.items()} for s, per in margins.items()}
    return {
        "accuracy": plot_accuracy_bars(accuracy, out / f"{prefix}{CHARTS['accuracy']}", errors=errors),
        "reliability": plot_reliability(bins, out / f"{prefix}{CHARTS['reliability']}"),
        "margins": plot_margin_histograms(margins, out / f"{prefix}{CHARTS['margins']}"),
    }


def write_suite_report(
    results: dict[str, Any], out_dir: str | Path, *, stem: str = "report", title: str | None = None
) -> Path:
    """<out_dir>/<stem>.json, <stem>.md and the PNG charts; returns the markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / f"{stem}.json", results, indent=1)
    charts = write_charts(results, out)
    body = render_markdown(results, charts={k: p.name for k, p in charts.items()}, heading="##")
    md = out / f"{stem}.md"
    write_text_atomic(md, f"# {title or 'Evaluation on suite ' + results['suite']}\n\n{body}")
    return md
