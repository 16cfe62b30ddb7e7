"""The Python API: train, load and score, evaluate — the same operations as the CLI, in a few lines.

    import rewardkit
    results = rewardkit.train(objective="haf", tuning="top_layers", top_layers=2, max_steps=20,
                              output_dir="runs/haf")
    rm = rewardkit.load_reward_model(results["export"])
    rm.score(["What is 2+2?"], ["4"])                      # -> [reward]
    rewardkit.evaluate(results["export"], ["suite"])       # -> {set name: metrics}

`train` takes a RunConfig, a YAML path or a dict (the YAML's structure), plus keyword overrides named like the
CLI flags (`max_length=384`, `model="smollm2-135m"`, `objective="bt"`) or dotted (`**{"training.seed": 1}`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardkit.config import ConfigError, _leaves, _set_dotted, flag_name, from_dict, to_dict
from rewardkit.training.config import RunConfig

Prompt = str | list[dict[str, str]]


def build_config(config: RunConfig | str | Path | dict[str, Any] | None = None, **overrides: Any) -> RunConfig:
    """A RunConfig from a RunConfig / YAML path / dict, with keyword overrides (flag names or dotted keys)."""
    from rewardkit.config import load_config

    if isinstance(config, RunConfig):
        data = to_dict(config)
    elif isinstance(config, (str, Path)):
        data = to_dict(load_config(RunConfig, path=config))
    else:
        data = dict(config or {})
    by_name = {}
    for path, _, _ in _leaves(RunConfig):
        name = flag_name(path, RunConfig.FLAG_NAMES).replace("-", "_")
        by_name[name] = ".".join(path)
    for key, value in overrides.items():
        dotted = key if "." in key else by_name.get(key)
        if dotted is None:
            raise ConfigError(
                f"unknown setting {key!r}; use a flag name (e.g. max_length, learning_rate) or a "
                f"dotted key (e.g. 'training.seed')"
            )
        _set_dotted(data, dotted, value)
    return from_dict(RunConfig, data)


def train(config: RunConfig | str | Path | dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """Train, evaluate and export a reward model (what `rewardkit train` does); returns the run's results
    (also written to <output_dir>/results.json): metrics before/after, log history, the export path."""
    from rewardkit.training.run import run_training

    return run_training(build_config(config, **overrides))


@dataclasses.dataclass
class LoadedRewardModel:
    """A reward model ready to score: `score(prompts, responses)` returns one float per item."""

    scorer: Any  # rewardkit.evaluation.evaluate.Scorer

    @property
    def reward(self) -> str:
        """Which reward `score` returns: the reward head ("reward") or the implicit reward ("implicit")."""
        return self.scorer.primary

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str], *, batch_size: int = 16) -> list[float]:
        """Rewards of (prompt, response) items; a prompt is a user message string or a list of chat messages."""
        from rewardkit.data.score_items import parse_item

        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        items = [
            parse_item({"prompt": p, "response": r}, i, "items") for i, (p, r) in enumerate(zip(prompts, responses))
        ]
        if not items:
            return []
        out = self.scorer.score([p for p, _ in items], [r for _, r in items], batch_size=batch_size)
        return out["rewards" if self.reward == "reward" else "implicit"].tolist()

    __call__ = score


def load_reward_model(
    path: str | Path, *, max_length: int | None = None, reference: str | None = None, dtype: str = "float32"
) -> LoadedRewardModel:
    """Load an exported reward model (or a DPO/HaF export, scored by its implicit reward when it has no
    reward head; `reference` overrides the reference policy recorded at training time)."""
    from rewardkit.evaluation.evaluate import load_scorer

    return LoadedRewardModel(load_scorer(str(path), max_length=max_length, reference=reference, dtype=dtype))


def evaluate(
    model: str | Path | LoadedRewardModel, data: Sequence[Any], *, batch_size: int = 16, limit: int | None = None
) -> dict[str, dict[str, Any]]:
    """Pairwise metrics of `model` on each data entry ("suite", a file path, or a data mapping as in the
    YAML config): {set name: {accuracy, margins, calibration, length bias, ...}}."""
    from rewardkit.data.sources import entry_name, load_entry
    from rewardkit.evaluation.evaluate import evaluate_scorer

    loaded = model if isinstance(model, LoadedRewardModel) else load_reward_model(model)
    sets = {}
    for entry in data:
        pairs = load_entry(entry)
        sets[entry_name(entry)] = pairs[:limit] if limit is not None else pairs
    return evaluate_scorer(loaded.scorer, sets, batch_size=batch_size)
