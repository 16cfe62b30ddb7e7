"""The evidence preset's section of docs/results.md: the claims table, per-scenario tables, PCRM's per-epoch
table, charts, and the sittings that produced the records (all from the committed records, no training). The
records of the old encoding (presets.LEGACY_ENCODING) get a section of their own, never pooled with the current
ones."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.files import write_json_atomic, write_text_atomic

from .claims import check_all, claims_table, load_records
from .evidence import (
    EVIDENCE,
    EVIDENCE_LEGACY,
    EVIDENCE_RECORDS,
    LEGACY_RECORDS,
    SCENARIOS,
    TIGHT_POLICY,
    TIGHT_REWARD,
    arm_terms,
)
from .presets import DOCS, ENCODING, ENCODING_TEXT, LEGACY_ENCODING, REPO, RESULTS, RESULTS_MD, duration, encoding_of
from .report import begin_marker, end_marker, replace_section

SITTINGS = RESULTS / "evidence-sittings.json"


def cell(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def final_metrics(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return record["test"][-1]["sets"]


def scenario_table(name: str, records: dict[tuple[str, str, int], Any], manifest: dict[str, Any]) -> str:
    sc = SCENARIOS[name]
    sets = list(manifest["sets"])
    cols = [(s, "accuracy") for s in sets] + [(s, "margin_std") for s in sets] + [(s, "ece") for s in sets]
    runs_all = [r for (scn, _, _), r in records.items() if scn == name]
    cols += [
        (s, "strength_spearman")
        for s in sets  # where the pairs carry a human preference strength
        if any(final_metrics(r)[s].get("strength_spearman") is not None for r in runs_all)
    ]
    head = " | ".join(f"{s} {k.replace('strength_', '').replace('margin_std', 'margin std')}" for s, k in cols)
    lines = [f"| arm | seeds | {head} |", "|---|---:|" + "---:|" * len(cols)]
    for arm in sc.arms:
        runs = [records[name, arm, s] for s in sc.seeds if (name, arm, s) in records]
        if not runs:
            lines.append(f"| {arm} | 0 |" + " – |" * len(cols))
            continue
        row = [cell([v for r in runs if (v := final_metrics(r)[s].get(k)) is not None]) for s, k in cols]
        lines.append(f"| {arm} | {len(runs)} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def share_past_half_bound(margins: list[float | None], similarity: list[float], implicit: bool) -> float | None:
    bound = TIGHT_POLICY if implicit else TIGHT_REWARD
    pairs = [(m, s) for m, s in zip(margins, similarity) if m is not None]
    if not pairs:
        return None
    return sum(m > (bound["b1"] / (s + bound["b2"]) + bound["b3"]) / 2 for m, s in pairs) / len(pairs)


def epoch_rows(
    name: str, records: dict[tuple[str, str, int], Any], manifest: dict[str, Any], test_set: str
) -> dict[str, list[dict[str, float]]]:
    """Per arm, per epoch (mean over seeds): test accuracy, margin std, ECE, Spearman, training share past
    delta*/2 (from the training log) and validation accuracy."""
    sc = SCENARIOS[name]
    out: dict[str, list[dict[str, float]]] = {}
    for arm in sc.arms:
        runs = [records[name, arm, s] for s in sc.seeds if (name, arm, s) in records]
        if not runs:
            continue
        implicit = arm_terms(arm)["implicit"]
        epochs: dict[int, dict[str, list[float]]] = {}
        for r in runs:
            train_share = {
                round(e["epoch"]): e.get("bound_reached_policy" if implicit else "bound_reached")
                for e in r["log"]
                if "loss" in e
            }
            val = {
                e["step"]: e.get("eval_implicit_accuracy" if implicit else "eval_accuracy")
                for e in r["log"]
                if "eval_loss" in e
            }
            for t in r["test"]:
                e = round(t["epoch"])
                m = t["sets"][test_set]
                slot = epochs.setdefault(e, {})
                for key, value in (
                    ("accuracy", m["accuracy"]),
                    ("margin std", m["margin_std"]),
                    ("ece", m["ece"]),
                    ("spearman", m.get("strength_spearman")),
                    ("train past δ*/2", train_share.get(e)),
                    ("validation", val.get(t["step"])),
                ):
                    if value is not None:
                        slot.setdefault(key, []).append(value)
        out[arm] = [
            {"epoch": e, **{k: statistics.fmean(v) for k, v in vals.items()}} for e, vals in sorted(epochs.items())
        ]
    return out


def epoch_table(rows: dict[str, list[dict[str, float]]]) -> str:
    keys = ["accuracy", "margin std", "ece", "spearman", "train past δ*/2", "validation"]
    lines = ["| arm | epoch | " + " | ".join(keys) + " |", "|---|---:|" + "---:|" * len(keys)]
    for arm, epochs in rows.items():
        for e in epochs:
            lines.append(
                f"| {arm} | {e['epoch']} | " + " | ".join(f"{e[k]:.3f}" if k in e else "–" for k in keys) + " |"
            )
    return "\n".join(lines) + "\n"


def checkpoint_table(
    name: str, records: dict[tuple[str, str, int], Any], manifest: dict[str, Any], test_set: str
) -> str:
    """Final vs best-validation checkpoint per arm: accuracy, margin std, share of test pairs past delta*/2."""
    sc = SCENARIOS[name]
    sim = [item["similarity"] for item in manifest["sets"][test_set]]
    lines = [
        "| arm | checkpoint | accuracy | margin std | test pairs past δ*/2 (tight length bound) |",
        "|---|---|---:|---:|---:|",
    ]
    for arm in sc.arms:
        runs = [records[name, arm, s] for s in sc.seeds if (name, arm, s) in records]
        implicit = arm_terms(arm)["implicit"]
        for ckpt in ("best", "final"):
            acc, std, share = [], [], []
            for r in runs:
                m = r["margins"].get(ckpt)
                if m is None:
                    continue
                values = np.array([x for x in m[test_set] if x is not None])
                acc.append(float((values > 0).mean()))
                std.append(float(values.std()))
                share.append(share_past_half_bound(m[test_set], sim, implicit))
            if acc:
                lines.append(f"| {arm} | {ckpt} | {cell(acc)} | {cell(std)} | {cell(share)} |")
    return "\n".join(lines) + "\n"


def write_charts(
    records: dict[tuple[str, str, int], Any], manifests: dict[str, Any], chart_dir: Path
) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chart_dir.mkdir(parents=True, exist_ok=True)
    charts = {}
    names = [n for n in SCENARIOS if n in manifests and n != "pcrm"]
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), sharey=True, squeeze=False)
        for ax, name in zip(axes[0], names):
            sc = SCENARIOS[name]
            sets = list(manifests[name]["sets"])
            width = 0.8 / max(len(sc.arms), 1)
            for i, arm in enumerate(sc.arms):
                runs = [records[name, arm, s] for s in sc.seeds if (name, arm, s) in records]
                means = [statistics.fmean([final_metrics(r)[s]["accuracy"] for r in runs]) if runs else 0 for s in sets]
                errs = [
                    statistics.stdev([final_metrics(r)[s]["accuracy"] for r in runs]) if len(runs) > 1 else 0
                    for s in sets
                ]
                ax.bar(np.arange(len(sets)) + i * width, means, width, yerr=errs, label=arm, capsize=2)
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_xticks(np.arange(len(sets)) + 0.4 - width / 2, sets)
            ax.set_title(name, fontsize=9)
            ax.set_ylim(0.3, 1.0)
        axes[0][0].set_ylabel("test accuracy (mean ± sd over seeds)")
        handles, labels = axes[0][-1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        charts["accuracy"] = chart_dir / "accuracy.png"
        fig.savefig(charts["accuracy"], dpi=110)
        plt.close(fig)
    if "pcrm" in manifests:
        rows = epoch_rows("pcrm", records, manifests["pcrm"], "batch18")
        keys = ["accuracy", "margin std", "spearman", "train past δ*/2", "ece"]
        fig, axes = plt.subplots(1, len(keys), figsize=(3.3 * len(keys), 3.2))
        for ax, key in zip(axes, keys):
            for arm, epochs in rows.items():
                xs = [e["epoch"] for e in epochs if key in e]
                ax.plot(xs, [e[key] for e in epochs if key in e], marker="o", ms=3, label=arm)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("epoch")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        charts["pcrm"] = chart_dir / "pcrm_epochs.png"
        fig.savefig(charts["pcrm"], dpi=110)
        plt.close(fig)
    return charts


def sittings_table(sittings: list[dict[str, Any]]) -> str:
    lines = [
        "| sitting | command | wall time | runs trained | predicted for them | pending after |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in sittings:
        predicted = sum(r["predicted"] or 0 for r in s["ran"])
        when = f"{s['started']} – {s['created'][-5:]}" if "started" in s else s["created"]
        lines.append(
            f"| {when} | `{s['command']}` | {duration(s['wall_seconds'])} | {len(s['ran'])} | "
            f"{duration(predicted)} | {len(s['pending'])} |"
        )
    return "\n".join(lines) + "\n"


def records_label(records_dir: Path) -> str:
    return records_dir.relative_to(REPO).as_posix() + "/" if records_dir.is_relative_to(REPO) else records_dir.name


def evidence_section(
    records_dir: Path = EVIDENCE_RECORDS,
    docs_dir: Path = DOCS,
    sittings_file: Path = SITTINGS,
    encoding: str = ENCODING,
) -> str:
    """The section of the records of one encoding (the current one, or the legacy records kept apart)."""
    manifests, records = load_records(records_dir, encoding)
    results = check_all(records_dir, encoding=encoding)
    legacy = encoding != ENCODING
    chart_dir = docs_dir / "results" / f"methods-{EVIDENCE_LEGACY if legacy else EVIDENCE}"
    charts = write_charts(records, manifests, chart_dir)
    sittings = json.loads(sittings_file.read_text()) if sittings_file.exists() else []
    sittings = [s for s in sittings if encoding_of(s) == encoding]
    total = sum(len(sc.arms) * len(sc.seeds) for sc in SCENARIOS.values())
    flag = f" --encoding {encoding}" if legacy else ""
    where = f"records: `{records_label(records_dir)}`"
    if legacy:
        lines = [
            f"## Preset `{EVIDENCE}`, old encoding — kept apart, not pooled\n",
            f"Encoding `{encoding}`: {ENCODING_TEXT[encoding]}. These {len(records)} runs were trained and "
            f"scored before the reward moved to the current encoding (`{ENCODING}`: {ENCODING_TEXT[ENCODING]}); "
            "the runner no longer produces them, never reuses them and never pools them with runs of the "
            f"current encoding ({where}, apart from the current ones). They are evidence about the methods "
            "under the old encoding only"
            + (", and too few for any claim" if all("pending" in r for r in results) else "")
            + f". `python benchmarks/methods.py --claims{flag}` prints the table below from them.\n",
        ]
    else:
        lines = [
            f"## Preset `{EVIDENCE}` — method evidence with stated power\n",
            f"{len(records)} of {total} runs recorded with the current encoding (`{encoding}`: "
            f"{ENCODING_TEXT[encoding]}; {where}). Every arm of a scenario shares the base model "
            "(SmolLM2-135M-Instruct, fp32), the tuning scope (top layers + final norm + an untied copy of the "
            "LM head; embeddings and bottom layers frozen and cached), the zero reward-head init (`bt-normal`: "
            "the usual normal init), the data, budget and seeds. `python benchmarks/methods.py --claims` "
            "prints the table below from the records.\n",
        ]
    lines += ["### Hypotheses\n", claims_table(results), ""]
    if sittings:
        lines += ["### Sittings\n", sittings_table(sittings), ""]
    for name, sc in SCENARIOS.items():
        if name not in manifests:
            continue
        s = sc.scope
        lines += [
            f"### `{name}`\n",
            sc.description + "\n",
            f"Top {s.top_layers} layers + LM-head copy, max length {s.max_length}, {s.batch_size} pairs per "
            f"step, {s.epochs:g} epochs, AdamW lr {s.learning_rate:g}, seeds {', '.join(map(str, sc.seeds))}; "
            f"{manifests[name]['train_pairs']} training pairs"
            + (f", {manifests[name]['validation_pairs']} validation" if manifests[name]["validation_pairs"] else "")
            + ". Cells: final checkpoint, mean ± sd over seeds.\n",
            scenario_table(name, records, manifests[name]),
        ]
        if name == "pcrm":
            lines += [
                "Final (10 epochs) vs best-validation checkpoint:\n",
                checkpoint_table(name, records, manifests[name], "batch18"),
                "Per epoch on batch18 (mean over seeds; `train past δ*/2` is the share of training pairs whose "
                "margin exceeded half the tight length bound during the epoch, from the training log):\n",
                epoch_table(epoch_rows(name, records, manifests[name], "batch18")),
            ]
    for key, path in charts.items():
        lines.append(f"![{key}]({path.relative_to(docs_dir).as_posix()})\n")
    return "\n".join(lines)


def render_evidence(
    document: Path = RESULTS_MD, records_dir: Path = EVIDENCE_RECORDS, legacy_dir: Path = LEGACY_RECORDS
) -> None:
    """The evidence section of the current encoding and, while there are legacy records, theirs (right after it
    the first time)."""
    text = document.read_text() if document.exists() else "# Results\n"
    text = replace_section(
        text,
        EVIDENCE,
        evidence_section(records_dir, document.parent),
        source=f"the records under {records_label(records_dir)}",
    )
    if legacy_dir.is_dir():
        body = evidence_section(legacy_dir, document.parent, encoding=LEGACY_ENCODING)
        source = f"the records of the old encoding under {records_label(legacy_dir)}"
        if f"<!-- BEGIN methods:{EVIDENCE_LEGACY} " not in text:  # the first time: right after the current section
            end = end_marker(EVIDENCE)
            empty = f"{begin_marker(EVIDENCE_LEGACY, source)}\n{end_marker(EVIDENCE_LEGACY)}"
            text = text.replace(end, f"{end}\n\n{empty}", 1)
        text = replace_section(text, EVIDENCE_LEGACY, body, source=source)
    write_text_atomic(document, text)


def append_sitting(summary: dict[str, Any], sittings_file: Path = SITTINGS) -> None:
    sittings = json.loads(sittings_file.read_text()) if sittings_file.exists() else []
    sittings.append({k: v for k, v in summary.items() if k != "hardware"} | {"hardware": summary["hardware"]["label"]})
    write_json_atomic(sittings_file, sittings, indent=1)
