"""What a preset's runs show: accuracy per method (mean over seeds), the papers' claims checked on them,
the in/out-of-distribution table, and the preset's section of docs/results.md (between its markers)."""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

from rewardkit.files import write_text_atomic

from .machine import REFERENCE_FORWARD_MS
from .presets import DOCS, ENCODING_TEXT, PRESET_ORDER, PRESETS, RESULTS, RESULTS_MD, duration, encoding_of


def seeds_per_method(report: dict[str, Any]) -> int:
    """Seeds of the method with the fewest (a partial result may have fewer for some methods)."""
    return min((len(members) for members in report["groups"].values()), default=1)


def summarize(report: dict[str, Any], methods: list[str]) -> dict[str, dict[str, float]]:
    """{method: {set: mean accuracy over seeds, ..., "mean": macro mean}}."""
    from rewardkit.evaluation.report import accuracy_table

    table = accuracy_table(report)
    return {
        m: {c: round(s.mean, 4) for c, s in table[m].items() if "(section)" not in c} for m in methods if m in table
    }


def best_line(preset: str, summary: dict[str, dict[str, float]]) -> str:
    best = max(summary, key=lambda m: summary[m]["mean"])
    cells = " ".join(f"{s}={a:.3f}" for s, a in summary[best].items() if s != "mean")
    return f"methods {preset} best={best} {cells} mean={summary[best]['mean']:.3f}"


# ---- the papers' claims, checked on the results ----------------------------------------------------


def _accuracy_values(
    report: dict[str, Any], method: str, sets: list[str], implicit: bool = False
) -> list[float] | None:
    """Per seed: mean accuracy over `sets`."""
    members = report["groups"].get(method)
    if not members or not sets:
        return None
    out = []
    for m in members:
        metrics = report["models"][m]["metrics"]
        values = []
        for s in sets:
            if s not in metrics:
                return None
            mm = metrics[s].get("implicit") if implicit else metrics[s]
            if mm is None:
                return None
            values.append(mm["accuracy"])
        out.append(statistics.fmean(values))
    return out


def _scale_values(report: dict[str, Any], method: str) -> list[float] | None:
    """Per seed: margin standard deviation averaged over all sets."""
    members = report["groups"].get(method)
    if not members:
        return None
    return [statistics.fmean(m["margin_std"] for m in report["models"][x]["metrics"].values()) for x in members]


def accuracy_diff_se(pairs: int, seeds: int, p: float = 0.5) -> float:
    """Binomial SE of the difference of two accuracies near `p` on `pairs` pairs each (unpaired, so
    conservative), averaged over `seeds` runs."""
    return math.sqrt(2 * p * (1 - p) / max(pairs, 1) / max(seeds, 1))


def compare(a: list[float] | None, b: list[float] | None, binomial_se: float) -> dict[str, Any] | None:
    """mean(a) - mean(b), with an SE combining `binomial_se` (eval-sample noise) and the seed spread of the
    difference; supported / contradicted when the difference exceeds 2 SE."""
    if not a or not b:
        return None
    diff = statistics.fmean(a) - statistics.fmean(b)
    se = binomial_se
    if len(a) == len(b) and len(a) > 1:
        se = math.sqrt(se**2 + statistics.variance([x - y for x, y in zip(a, b)]) / len(a))
    verdict = "supported" if diff > 2 * se else "contradicted" if diff < -2 * se else "inconclusive (within 2 SE)"
    return {"difference": diff, "se": se, "verdict": verdict}


SCALE_TOLERANCE = 0.9  # reward scale "constrained": margin std below 90% of BT's for every seed


def claim_checks(report: dict[str, Any], in_distribution: list[str], seeds: int) -> list[dict[str, Any]]:
    """The papers' claims as comparisons on one preset's results (only those its methods allow)."""
    sets = list(report["sets"])
    ind = [s for s in sets if s in in_distribution]
    ood = [s for s in sets if s not in in_distribution]
    k = seeds
    size = lambda ss: sum(report["sets"][s]["pairs"] for s in ss)  # noqa: E731
    se_all, se_ood, se_ind = (accuracy_diff_se(size(ss), k) for ss in (sets, ood, ind))
    acc = lambda m, ss=sets, imp=False: _accuracy_values(report, m, ss, imp)  # noqa: E731
    checks = []

    def add(claim: str, source: str, result: dict[str, Any] | None, detail: str) -> None:
        if result is not None:
            checks.append({"claim": claim, "paper": source, "detail": detail, **result})

    add("HaF beats BT (mean accuracy, all sets)", "HaF-RM", compare(acc("haf"), acc("bt"), se_all), "haf - bt")
    add("HaF beats DPO (mean accuracy, all sets)", "HaF-RM", compare(acc("haf"), acc("dpo"), se_all), "haf - dpo")
    if ood:  # HaF-RM's Table 3 puts DPO below its baseline OOD (superscripts: HaF - baseline, subscripts: HaF - DPO)
        add(
            "BT is above DPO out of distribution (HaF-RM Table 3)",
            "HaF-RM",
            compare(acc("bt", ood), acc("dpo", ood), se_ood),
            f"bt - dpo on {', '.join(ood)}",
        )
        add(
            "HaF beats DPO out of distribution",
            "HaF-RM",
            compare(acc("haf", ood), acc("dpo", ood), se_ood),
            f"haf - dpo on {', '.join(ood)}",
        )
    for method in ("pcrm-length", "pcrm-cosine"):
        base, ours = _scale_values(report, "bt"), _scale_values(report, method)
        if base and ours:
            ratio = statistics.fmean(ours) / statistics.fmean(base)
            per_seed = [o / b for o, b in zip(ours, base)] if len(ours) == len(base) else [ratio]
            verdict = (
                "supported"
                if all(r < SCALE_TOLERANCE for r in per_seed)
                else "contradicted"
                if all(r > 1 / SCALE_TOLERANCE for r in per_seed)
                else f"no clear difference (some seed within ±{1 - SCALE_TOLERANCE:.0%})"
            )
            checks.append(
                {
                    "claim": f"{method} constrains reward scale (margin std below BT's)",
                    "paper": "PCRM",
                    "detail": f"margin std {method} / bt, mean over sets",
                    "difference": ratio - 1,
                    "se": None,
                    "verdict": verdict,
                    "ratio": ratio,
                }
            )
        add(f"{method} improves accuracy over BT", "PCRM", compare(acc(method), acc("bt"), se_all), f"{method} - bt")
    add("HaF+PCRM improves accuracy over HaF", "PCRM", compare(acc("haf-pcrm"), acc("haf"), se_all), "haf-pcrm - haf")
    add(
        "HaF's reward head beats its own implicit reward",
        "HaF-RM",
        compare(acc("haf"), acc("haf", sets, True), se_all),
        "haf reward head - haf implicit",
    )
    return checks


def distribution_table(report: dict[str, Any], in_distribution: list[str]) -> str:
    """Per method: mean accuracy in / out of distribution (reward head, and implicit reward where there is
    one), and the margin standard deviation relative to BT's (mean over sets)."""
    from rewardkit.evaluation.report import Stat

    sets = list(report["sets"])
    ind = [s for s in sets if s in in_distribution]
    ood = [s for s in sets if s not in in_distribution]

    def cell(values: list[float] | None) -> str:
        return Stat(tuple(values)).format() if values else "–"

    bt_scale = _scale_values(report, "bt")
    lines = [
        f"| method | ID accuracy ({', '.join(ind) or '–'}) | OOD accuracy ({len(ood)} sets) | implicit ID | "
        "implicit OOD | margin std (mean over sets) | margin std / BT's |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method in report["groups"]:
        scale = _scale_values(report, method)
        ratio = f"{statistics.fmean(scale) / statistics.fmean(bt_scale):.2f}" if scale and bt_scale else "–"
        implicit = any(
            "implicit" in m for x in report["groups"][method] for m in report["models"][x]["metrics"].values()
        )
        lines.append(
            f"| {method} | {cell(_accuracy_values(report, method, ind))} | "
            f"{cell(_accuracy_values(report, method, ood))} | "
            f"{cell(_accuracy_values(report, method, ind, True)) if implicit else '–'} | "
            f"{cell(_accuracy_values(report, method, ood, True)) if implicit else '–'} | "
            f"{cell(scale)} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


# ---- docs/results.md -------------------------------------------------------------------------------


def begin_marker(preset: str, source: str | None = None) -> str:
    source = source or f"benchmarks/results/methods-{preset}.json"
    return (
        f"<!-- BEGIN methods:{preset} (generated by benchmarks/methods.py from {source}; edits inside are "
        "overwritten) -->"
    )


def end_marker(preset: str) -> str:
    return f"<!-- END methods:{preset} -->"


def replace_section(document: str, preset: str, body: str, source: str | None = None) -> str:
    """Put `body` between the preset's markers (appended at the end when the markers are missing)."""
    begin, end = begin_marker(preset, source), end_marker(preset)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(f"<!-- BEGIN methods:{preset} ") + r".*?" + re.escape(end), re.S)
    if pattern.search(document):
        return pattern.sub(lambda _: block, document, count=1)
    return document.rstrip() + "\n\n" + block + "\n"


def preset_section(result: dict[str, Any], chart_dir: Path, docs_dir: Path = DOCS) -> str:
    """The markdown of one preset's results (charts written to `chart_dir`, linked relative to `docs_dir`)."""
    from rewardkit.evaluation.report import render_markdown, write_charts

    report, p = result["report"], result["preset"]
    charts = write_charts(report, chart_dir)
    links = {k: path.relative_to(docs_dir).as_posix() for k, path in charts.items()}
    b = result["budget"]
    tuning = f"top {b['top_layers']} of 30 layers" if b["tuning"] == "top_layers" else b["tuning"]
    train = ", ".join(f"{t['path']}" + (f" (first {t['limit']})" if t.get("limit") else "") for t in result["train"])
    probe = result.get("speed_probe") or {}
    probe_text = ""
    if probe.get("forward_ms_per_token") and result["model"] == PRESETS[p].model:  # the reference's model
        factor = probe["forward_ms_per_token"] / REFERENCE_FORWARD_MS
        probe_text = (
            f" Speed probe during the run: {probe['forward_ms_per_token']:.2f} ms per token forward "
            f"(uncontended reference {REFERENCE_FORWARD_MS} ms), i.e. the machine ran about {factor:.1f}x "
            f"slower than when idle; wall time scaled to an idle machine ≈ "
            f"{duration(result['wall_seconds'] / max(factor, 1.0))}."
        )
    lines = [
        f"## Preset `{p}` — {result['hardware']['label']}\n",
        result["description"] + "\n",
        "| setting | value |",
        "|---|---|",
        f"| command | `{result['command']}` |",
        f"| model | {result['model']}, fp32, {tuning} (+ reward head), max length {b['max_length']} |",
        f"| encoding | `{encoding_of(result)}`: {ENCODING_TEXT[encoding_of(result)]} |",
        f"| training data | {train} |",
        f"| split | {result['split']['train']} train / {result['split']['validation']} validation pairs "
        f"(validation carved from the training data by prompt; checkpoint = best validation accuracy of "
        f"{b['evals_per_epoch']} per epoch) |",
        f"| budget | {b['epochs']:g} epoch(s), {b['batch_size']} pairs per step, AdamW lr {b['learning_rate']:g}, "
        f"linear decay, 5% warm-up; the same for every method |",
        f"| methods | {', '.join(result['methods'])} (HaF alpha 0.2, beta 0.1; PCRM default bounds) |",
        f"| seeds | {', '.join(map(str, result['seeds']))} (cells: mean ± sd over seeds) |",
        f"| hardware | {result['hardware']['label']} ({result['hardware'].get('processor', '')}, torch "
        f"{result['hardware'].get('torch', '')}) |",
        f"| wall time | {duration(result['wall_seconds'])} for this invocation ({result['created']})"
        + (
            f"; the runs' own training + evaluation time, summed: {duration(result['run_seconds_total'])}"
            if "run_seconds_total" in result
            else ""
        )
        + " |",
        "",
        probe_text.strip() + "\n" if probe_text else "",
    ]
    if result.get("pending"):
        done = sum(len(v) for v in report["groups"].values())
        lines += [
            f"**Partial result: {done} of {done + len(result['pending'])} runs done.** Pending (not started "
            f"within the time limit): {', '.join(result['pending'])}. Rerunning the command continues "
            "from the recorded runs.\n"
        ]
    lines += [
        "### In and out of distribution\n",
        f"In distribution (ID): {', '.join(result['in_distribution'])} (closest to the training data); "
        "out of distribution (OOD): the other sets; accuracies are unweighted means over sets.\n",
        distribution_table(report, result["in_distribution"]),
        "",
    ]
    lines.append(render_markdown(report, charts=links, heading="###"))
    lines += [
        "\n### Runs\n",
        "| run | train | eval | selected step (validation acc) | validation accuracy over steps |",
        "|---|---:|---:|---|---|",
    ]
    for name, run in result["runs"].items():
        sel = run.get("selected") or {}
        val = sel.get("validation_accuracy", sel.get("validation_implicit_accuracy"))
        history = ", ".join(
            f"{h['step']}: {h.get('accuracy', h.get('implicit_accuracy', float('nan'))):.3f}" for h in run["validation"]
        )
        lines.append(
            f"| {name} | {duration(run['train_seconds'])} | {duration(run['eval_seconds'])} | "
            f"{sel.get('step', '–')} ({'–' if val is None else f'{val:.3f}'}) | {history} |"
        )
    checks = claim_checks(report, result["in_distribution"], seeds_per_method(report))
    if checks:
        lines += [
            "\n### The papers' claims on these results\n",
            "Difference of mean accuracy (or margin-std ratio − 1 for reward scale); SE combines the "
            "binomial error of the eval pairs with the seed spread; a claim is *supported* when the "
            "difference exceeds 2 SE in its direction; reward scale is *constrained* when the margin std "
            f"is below {SCALE_TOLERANCE:.0%} of BT's for every seed.\n",
            "| claim | paper | compared | difference | SE | verdict |",
            "|---|---|---|---:|---:|---|",
        ]
        for c in checks:
            se = "" if c.get("se") is None else f"{c['se']:.3f}"
            lines.append(
                f"| {c['claim']} | {c['paper']} | {c['detail']} | {c['difference']:+.3f} | {se} | {c['verdict']} |"
            )
    return "\n".join(lines) + "\n"


def render_docs(results_dir: Path = RESULTS, document: Path = RESULTS_MD) -> list[str]:
    """Regenerate the section of every preset whose JSON exists; returns the presets rendered."""
    text = document.read_text() if document.exists() else "# Results\n"
    rendered = []
    files = {f.stem.removeprefix("methods-"): f for f in results_dir.glob("methods-*.json")}
    order = [p for p in PRESET_ORDER if p in files] + sorted(set(files) - set(PRESET_ORDER))
    for name in order:
        result = json.loads(files[name].read_text())
        chart_dir = document.parent / "results" / f"methods-{name}"
        text = replace_section(text, name, preset_section(result, chart_dir, document.parent))
        rendered.append(name)
    write_text_atomic(document, text)
    return rendered


def print_summary(result: dict[str, Any]) -> None:
    summary = result["summary"]
    sets = [s for s in next(iter(summary.values())) if s != "mean"]
    print("| method | " + " | ".join(sets) + " | mean |")
    print("|---|" + "---:|" * (len(sets) + 1))
    for method, row in summary.items():
        print(f"| {method} | " + " | ".join(f"{row[s]:.3f}" for s in sets) + f" | {row['mean']:.3f} |")
    for c in result.get("claims") or []:
        print(f"claim: {c['claim']}: {c['difference']:+.3f} → {c['verdict']}")
    if result.get("pending"):
        print(f"partial: {len(result['pending'])} runs pending ({', '.join(result['pending'])})")
    print(f"wall time {duration(result['wall_seconds'])}")
