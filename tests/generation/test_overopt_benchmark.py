"""benchmarks/overopt.py: the quick preset meets the issue's bounds; its docs section replaces only its markers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def benchmark():
    spec = importlib.util.spec_from_file_location("overopt_benchmark", REPO / "benchmarks" / "overopt.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def test_quick_preset_meets_the_bounds():
    b = benchmark()
    quick = b.PRESETS["quick"]
    rewards = len(quick.methods) + len(quick.compositions)
    prompts = quick.prompts_per_family * len(quick.families)
    assert rewards >= 4 and quick.n_max >= 16 and prompts >= 50
    assert set(quick.methods) <= set(b.METHODS) and not set(quick.trained) & set(quick.heldout)
    assert b.SUITE_REWARD.exists()
    assert b.rm_fingerprint(quick, "bt") != b.rm_fingerprint(quick, "haf")
    assert b.rm_fingerprint(quick, "bt") == b.rm_fingerprint(b.PRESETS["quick"], "bt")


def test_docs_section_replaces_only_its_markers():
    b = benchmark()
    doc = "# Results\n\nintro\n\n<!-- BEGIN methods:quick -->\nm\n<!-- END methods:quick -->\n"
    first = b.put_section(doc, "quick", "body one")
    assert first.startswith(doc.rstrip()) and b.HEADING in first and "body one" in first
    second = b.put_section(first + "\n### Verdict\nmine\n", "quick", "body two")
    assert "body one" not in second and "body two" in second and second.endswith("### Verdict\nmine\n")
    assert second.count(b.HEADING) == 1 and second.count(b.begin_marker("quick")) == 1
