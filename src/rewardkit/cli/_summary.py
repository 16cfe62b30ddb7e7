"""Console summaries shared by commands."""

from __future__ import annotations

from typing import Any


def print_run_summary(results: dict[str, Any]) -> None:
    before, after = results.get("before") or {}, results.get("after") or {}
    for name in after:
        b = before.get(name, {})
        line = f"{name}: accuracy {b.get('accuracy', float('nan')):.4f} -> {after[name]['accuracy']:.4f}"
        if "implicit_accuracy" in after[name]:
            line += f" (implicit {after[name]['implicit_accuracy']:.4f})"
        print(line)
    if results.get("export"):
        print(f"exported to {results['export']}")
