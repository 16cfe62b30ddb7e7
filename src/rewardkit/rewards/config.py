"""The reward YAML schema and what it builds (a `RewardFunction`).

    name: suite-alarm
    combine: hierarchical          # hierarchical | holistic | aspects | weighted
    threshold: 0.6                 # hierarchical: aspects count only when the (normalised) holistic >= threshold
    holistic_weight: 5.0
    sigmoid_shaping: true          # aspect placements x -> sigmoid(x) - sigmoid_offset (after normalisation,
    sigmoid_offset: 0.5            #   before the weight); 0.5 keeps event penalties (repetition, spelling) negative
    stats_file: null               # default: <this file>.stats.json beside it
    degenerate_penalty: -10.0      # h of degenerate responses (rewards/degenerate.py); null: off (default)
    degenerate: {max_repeat_share: 0.5, unfinished_words: null}   # what counts as degenerate
    holistic: {kind: model, path: runs/quickstart/export, normalize: true}
    aspects:
      - {kind: segment_model, path: runs/aspects/relevance/export, normalize: true}   # one value per segment
      - {kind: metric, metric: readability, weight: 1.0, normalize: true}
      - {kind: metric, metric: repetition, options: {n: 3}}
      - {kind: gold}                                   # the suite's gold scorer (needs suite meta)
      - {kind: callable, target: my_pkg.rewards:polite, options: {strict: true}}

Relative paths (stats_file, a model path that exists relative to the file) are resolved against the YAML
file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rewardkit.config import ConfigError, from_dict
from rewardkit.rewards.base import RewardComponent, load_stats
from rewardkit.rewards.combinators import COMBINE_MODES, Aspect, CombineSettings, RewardFunction
from rewardkit.rewards.degenerate import DegenerateConfig

KINDS = ("model", "segment_model", "metric", "gold", "callable")


@dataclass
class ComponentConfig:
    """One reward component. `kind` decides which of the other fields apply."""

    kind: str
    name: str | None = None  # default: "holistic" (model), "segment" (segment_model), the metric name, "gold", the
    #                          callable's name
    weight: float = 1.0  # aspects only
    normalize: bool = False  # z-normalise with calibration stats measured on policy outputs
    path: str | None = None  # model / segment_model: checkpoint dir, alias or hub id
    batch_size: int = 16  # model / segment_model
    max_length: int | None = None  # model / segment_model (default: the checkpoint's)
    metric: str | None = None  # metric: length | readability | repetition | language | spelling
    target: str | None = None  # callable: "pkg.module:function"
    options: dict[str, Any] = field(default_factory=dict)  # metric / callable keyword arguments

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        required = {"model": "path", "segment_model": "path", "metric": "metric", "callable": "target"}.get(self.kind)
        if required and not getattr(self, required):
            raise ValueError(f"a {self.kind} component needs '{required}'")
        if not isinstance(self.options, dict):
            raise ValueError(f"options must be a mapping, got {type(self.options).__name__}")

    def default_name(self) -> str:
        if self.name:
            return self.name
        if self.kind == "model":
            return "holistic"
        if self.kind == "segment_model":
            return "segment"
        if self.kind == "metric":
            return str(self.metric)
        if self.kind == "callable":
            return str(self.target).replace(":", ".").rsplit(".", 1)[-1]
        return "gold"

    def source(self) -> str:
        """Fingerprint of what this component measures (normalisation stats are tied to it)."""
        what = {
            "model": self.path,
            "segment_model": self.path,
            "metric": self.metric,
            "callable": self.target,
            "gold": "suite",
        }[self.kind]
        options = f" {sorted(self.options.items())}" if self.options else ""
        return f"{self.kind}:{what}{options}"


@dataclass
class RewardConfig:
    """A reward: an optional holistic component, aspect components and how they combine."""

    name: str = "reward"
    combine: str = "hierarchical"
    threshold: float = 0.6
    holistic_weight: float = 5.0
    sigmoid_shaping: bool = False
    sigmoid_offset: float = 0.0
    holistic: ComponentConfig | None = None
    aspects: list[ComponentConfig] = field(default_factory=list)
    stats_file: str | None = None
    degenerate_penalty: float | None = None
    degenerate: DegenerateConfig = field(default_factory=DegenerateConfig)

    def __post_init__(self) -> None:
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {', '.join(COMBINE_MODES)}, got {self.combine!r}")
        if self.combine != "aspects" and self.holistic is None:
            raise ValueError(f"combine {self.combine!r} needs a holistic component")
        if self.combine != "holistic" and not self.aspects:
            raise ValueError(f"combine {self.combine!r} needs at least one aspect")

    def settings(self) -> CombineSettings:
        return CombineSettings(
            self.combine,
            self.threshold,
            self.holistic_weight,
            self.sigmoid_shaping,
            self.sigmoid_offset,
            degenerate_penalty=self.degenerate_penalty,
            degenerate=self.degenerate,
        )


def reward_config_from_dict(
    data: dict[str, Any], where: str = "reward", base_dir: str | Path | None = None
) -> RewardConfig:
    """Build a RewardConfig from parsed YAML; errors name the key (e.g. reward.aspects[1])."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    data = dict(data)
    holistic = data.pop("holistic", None)
    aspects = data.pop("aspects", None) or []
    if not isinstance(aspects, list):
        raise ConfigError(f"{where}.aspects: expected a list of components")
    base = Path(base_dir) if base_dir is not None else None
    parsed_h = _component(holistic, f"{where}.holistic", base) if holistic is not None else None
    parsed_a = [_component(a, f"{where}.aspects[{i}]", base) for i, a in enumerate(aspects)]
    if "degenerate" in data:
        found = data.pop("degenerate")
        if found is not None and not isinstance(found, dict):
            raise ConfigError(f"{where}.degenerate: expected a mapping, got {type(found).__name__}")
        data["degenerate"] = from_dict(DegenerateConfig, found, f"{where}.degenerate")
    if base is not None and data.get("stats_file") and not Path(data["stats_file"]).is_absolute():
        data["stats_file"] = str(base / data["stats_file"])
    try:
        return RewardConfig(**{**_scalars(data, where), "holistic": parsed_h, "aspects": parsed_a})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e


def _scalars(data: dict[str, Any], where: str) -> dict[str, Any]:
    known = {
        "name",
        "combine",
        "threshold",
        "holistic_weight",
        "sigmoid_shaping",
        "sigmoid_offset",
        "stats_file",
        "degenerate_penalty",
        "degenerate",
    }
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known | {'holistic', 'aspects'})}"
        )
    return data


def _component(data: Any, where: str, base: Path | None) -> ComponentConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    cfg = from_dict(ComponentConfig, data, where)
    relative = base is not None and cfg.path and not Path(cfg.path).is_absolute()
    if cfg.kind in ("model", "segment_model") and relative:
        candidate = base / cfg.path
        if candidate.exists():
            cfg.path = str(candidate)
    return cfg


def load_reward_config(path: str | Path) -> RewardConfig:
    """A reward YAML file; its stats file defaults to <file>.stats.json beside it."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"reward config {file} not found")
    data = yaml.safe_load(file.read_text()) or {}
    if isinstance(data, dict) and "reward" in data and isinstance(data["reward"], dict) and len(data) == 1:
        data = data["reward"]  # a file whose only section is `reward:`
    config = reward_config_from_dict(data, str(file), base_dir=file.parent)
    if config.stats_file is None:
        config.stats_file = str(file.with_suffix(".stats.json"))
    return config


def build_component(config: ComponentConfig) -> RewardComponent:
    name = config.default_name()
    if config.kind == "model":
        from rewardkit.rewards.model import ModelReward

        return ModelReward(path=str(config.path), name=name, batch_size=config.batch_size, max_length=config.max_length)
    if config.kind == "segment_model":
        from rewardkit.rewards.segment_model import SegmentModelReward

        return SegmentModelReward(
            path=str(config.path), name=name, batch_size=config.batch_size, max_length=config.max_length
        )
    if config.kind == "metric":
        from rewardkit.rewards.metrics import build_metric

        return build_metric(str(config.metric), name, config.options)
    if config.kind == "callable":
        from rewardkit.rewards.custom import CallableReward

        return CallableReward(target=str(config.target), name=name, options=config.options)
    from rewardkit.rewards.gold import GoldReward

    return GoldReward(name=name)


def build_reward_function(config: RewardConfig, *, stats_file: str | Path | None = None) -> RewardFunction:
    """The RewardFunction of a config, with stored normalisation stats loaded."""
    try:
        holistic = build_component(config.holistic) if config.holistic is not None else None
        aspects = [Aspect(build_component(a), a.weight, a.normalize, a.source()) for a in config.aspects]
    except ValueError as e:
        raise ConfigError(f"reward {config.name}: {e}") from e
    file = Path(stats_file or config.stats_file) if (stats_file or config.stats_file) else None
    try:
        return RewardFunction(
            name=config.name,
            settings=config.settings(),
            holistic=holistic,
            holistic_normalize=bool(config.holistic and config.holistic.normalize),
            holistic_source=config.holistic.source() if config.holistic else "",
            aspects=aspects,
            stats=load_stats(file) if file else {},
            stats_file=file,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from e


def load_reward(path: str | Path, *, holistic_path: str | None = None, **overrides: Any) -> RewardFunction:
    """Load a reward YAML file into a RewardFunction.

    `overrides` replace top-level keys (combine=, stats_file=, ...; None leaves a key alone); `holistic_path`
    replaces the holistic model's checkpoint (its stats are then re-measured: they belong to a model).
    """
    config = load_reward_config(path)
    for key, value in overrides.items():
        if value is not None:
            if key not in RewardConfig.__dataclass_fields__ or key in ("holistic", "aspects"):
                raise ConfigError(f"unknown reward setting {key!r}")
            setattr(config, key, value)
    if holistic_path is not None:
        if config.holistic is None or config.holistic.kind != "model":
            raise ConfigError(f"{path}: holistic_path needs a holistic component of kind 'model'")
        config.holistic.path = holistic_path
    try:
        config.__post_init__()
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from e
    return build_reward_function(config)
