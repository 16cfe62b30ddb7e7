"""Serving a reward YAML (ALaRM combinations) instead of a model checkpoint."""

import json

import pytest

from rewardkit.config import ConfigError
from rewardkit.rewards.config import load_reward
from rewardkit.serving.config import ServerConfig
from rewardkit.serving.server import load_reward_scorer

from .servers import app_client

ITEMS = [
    {"prompt": "Say hi.", "response": "Hi there, nice to meet you."},
    {"prompt": "Say hi.", "response": "hi hi hi hi hi hi hi hi hi"},
    {"prompt": [{"role": "user", "content": "Name a colour."}], "response": "Blue."},
]


def write_reward(tmp_path, *, normalize: bool, stats: dict | None = None):
    path = tmp_path / "reward.yaml"
    path.write_text(
        "name: served\ncombine: weighted\nholistic_weight: 2.0\n"
        f"holistic: {{kind: metric, metric: length, normalize: {str(normalize).lower()}}}\n"
        "aspects:\n  - {kind: metric, metric: repetition, weight: 3.0, options: {n: 1}}\n"
    )
    if stats is not None:
        (tmp_path / "reward.stats.json").write_text(json.dumps(stats))
    return path


def test_served_rewards_equal_the_reward_function(tmp_path):
    path = write_reward(tmp_path, normalize=False)
    scorer = load_reward_scorer(str(path))
    assert scorer.info()["combine"] == "weighted" and scorer.info()["components"] == ["length", "repetition"]
    reward = load_reward(path)
    prompts = [
        i["prompt"] if isinstance(i["prompt"], list) else [{"role": "user", "content": i["prompt"]}] for i in ITEMS
    ]
    expected = reward(prompts, [i["response"] for i in ITEMS])
    assert expected[0] != expected[1]  # the repetition aspect separates the two replies
    with app_client(scorer, ServerConfig(), token=None) as client:
        got = client.post("/score", json={"items": ITEMS})
        assert got.status_code == 200, got.text
        assert got.json()["rewards"] == pytest.approx(expected, abs=1e-9)
        assert client.get("/info").json()["reward"]["reward"] == "served"
        rendered = client.post("/get_reward", json={"query": ["<|im_start|>user\nhi<|im_end|>"]})
        assert rendered.status_code == 422  # a combination scores (prompt, response) items only


def test_uncalibrated_normalised_components_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="no calibration stats"):
        load_reward_scorer(str(write_reward(tmp_path, normalize=True)))
