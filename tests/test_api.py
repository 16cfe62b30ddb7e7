"""The Python API (rewardkit/__init__.py, rewardkit/api.py): overrides, and the README example run end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import rewardkit
from rewardkit.config import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light_and_names_resolve():
    code = (
        "import sys, rewardkit; assert 'torch' not in sys.modules, 'import rewardkit pulled in torch'; "
        "print(rewardkit.train, rewardkit.load_reward_model)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "function train" in out and "function load_reward_model" in out
    with pytest.raises(AttributeError):
        rewardkit.no_such_name  # noqa: B018


def test_build_config_overrides_by_flag_name_and_dotted_key(tmp_path):
    cfg = rewardkit.build_config(
        model="tiny", objective="haf", max_length=64, learning_rate=3e-4, **{"training.seed": 7}
    )
    assert (cfg.model.name, cfg.objective.objective, cfg.data.max_length) == ("tiny", "haf", 64)
    assert (cfg.training.learning_rate, cfg.training.seed) == (3e-4, 7)
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("objective: {objective: dpo, beta: 0.5}\ntraining: {max_steps: 3}\n")
    cfg = rewardkit.build_config(yaml_file, beta=0.25)
    assert (cfg.objective.objective, cfg.objective.beta, cfg.training.max_steps) == ("dpo", 0.25, 3)
    assert rewardkit.build_config(cfg, max_steps=4).training.max_steps == 4
    with pytest.raises(ConfigError, match="no_such_setting"):
        rewardkit.build_config(no_such_setting=1)


def readme_python_example() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Python API section has no python block"
    return match.group(1)


def test_readme_example_runs(tiny_model_dir, tmp_path, monkeypatch, shared_data):
    """The README's Python example as written, with the tiny model in place of the default one."""
    code = readme_python_example()
    assert '"smollm2-135m"' in code and '"runs/python-api"' in code and "../shared/data/" in code
    code = (
        code.replace('"smollm2-135m"', repr(str(tiny_model_dir)))
        .replace('"runs/python-api"', repr(str(tmp_path / "api")))
        .replace("../shared/data/", str(shared_data) + "/")
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the documented example itself
    scores = namespace["rm"].score(["What is 2+2?"], ["4"])
    assert len(scores) == 1 and isinstance(scores[0], float)
    assert 0.0 <= namespace["results"]["after"]["heldout"]["accuracy"] <= 1.0
    ((name, metrics),) = namespace["metrics"].items()
    assert name == "Natural/dataset" and metrics["pairs"] == 50
    assert (tmp_path / "api" / "export" / "config.json").exists()
