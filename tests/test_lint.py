"""The linter CI runs: `.ci/run` runs `make lint` (ruff check + format check, pyproject.toml's config) before the
tests, and that config rejects a lint error and unformatted code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return found


def test_ci_runs_the_linter_before_the_tests():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "make lint" in lines and "make test" in lines
    assert lines.index("make lint") < lines.index("make test")
    makefile = (REPO / "Makefile").read_text()
    assert "ruff check src tests benchmarks" in makefile and "ruff format --check src tests benchmarks" in makefile


def test_the_project_config_fails_on_a_lint_error_and_on_unformatted_code(tmp_path):
    config = ["--config", str(REPO / "pyproject.toml")]
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x):\n    return x\n")  # unused import
    assert subprocess.run([ruff(), "check", *config, str(bad)], capture_output=True).returncode != 0
    ugly = tmp_path / "ugly.py"
    ugly.write_text("def f( x ):\n    return [x,x]\n")
    assert subprocess.run([ruff(), "check", *config, str(ugly)], capture_output=True).returncode == 0
    assert subprocess.run([ruff(), "format", "--check", *config, str(ugly)], capture_output=True).returncode != 0


def test_the_repository_passes_its_linter():
    result = subprocess.run([ruff(), "check", "src", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
