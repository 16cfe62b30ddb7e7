"""`kind: segment_model` reward components: one placement per segment (value, sign kept) that sum to the
sequence reward; per-segment z-normalisation; offset-0 sigmoid shaping gives per-segment bonuses."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import yaml

from rewardkit.data.segments import split_sentences
from rewardkit.evaluation.segments import load_segment_scorer
from rewardkit.models.loading import load_tokenizer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.models.segment_model import build_segment_model, export_segment_model
from rewardkit.rewards.combinators import Aspect, CombineSettings, RewardFunction, sigmoid
from rewardkit.rewards.config import load_reward
from rewardkit.rewards.segment_model import SegmentModelReward

PROMPT = [{"role": "user", "content": "Question: When was Paris founded?"}]
RESPONSES = ["Paris is old. It was founded long ago. Cats are nice.", "Paris is old.", "Bad one. Good two."]


class SentenceScorer:
    """Fake segment scorer: +1 for a sentence with 'Paris' or 'founded', else -2, at each sentence end."""

    calls = 0

    def score(self, prompts, responses, batch_size=16):
        SentenceScorer.calls += 1
        return [
            [(e, 1.0 if ("Paris" in r[s:e] or "founded" in r[s:e]) else -2.0) for s, e in split_sentences(r)]
            for r in responses
        ]


@dataclass
class Holistic:
    name: str = "holistic"

    def score(self, prompts, responses, metas=None):
        return [2.0, 1.0, 0.0][: len(responses)]


def test_placements_sum_to_the_sequence_reward():
    reward = SegmentModelReward(path="unused", name="relevance", scorer=SentenceScorer())
    prompts = [PROMPT] * 3
    rows = reward.placements(prompts, RESPONSES)
    assert rows[0] == [(13, 1.0), (38, 1.0), (53, -2.0)]
    assert reward.score(prompts, RESPONSES) == [sum(v for _, v in r) for r in rows] == [0.0, 1.0, -4.0]
    calls = SentenceScorer.calls
    reward.score(prompts, RESPONSES)
    assert SentenceScorer.calls == calls  # the same items are not scored twice


def test_per_segment_normalisation_and_offset0_bonuses(tmp_path, caplog):
    segment = SegmentModelReward(path="unused", name="relevance", scorer=SentenceScorer())
    settings = CombineSettings(
        "hierarchical", threshold=-10.0, holistic_weight=5.0, sigmoid_shaping=True, sigmoid_offset=0.0
    )
    with caplog.at_level(logging.WARNING, logger="rewardkit.rewards"):
        fn = RewardFunction(
            "qa",
            settings,
            holistic=Holistic(),
            aspects=[Aspect(segment, 1.0, True, "seg")],
            stats_file=tmp_path / "stats.json",
        )
    assert "sigmoid_offset" not in caplog.text  # segment values are not event penalties
    prompts = [PROMPT] * 3
    stats = fn.calibrate(prompts, RESPONSES)["relevance"]
    values = [1.0, 1.0, -2.0, 1.0, -2.0, -2.0]  # "Good two." has neither word: -2
    assert stats.count == 6 and stats.mean == pytest.approx(np.mean(values))
    assert stats.std == pytest.approx(np.std(values))
    b = fn.breakdown(prompts, RESPONSES)
    z = [(v - stats.mean) / stats.std for v in values]
    bonuses = [sigmoid(x) for x in z]
    assert all(0 < x < 1 for x in bonuses)
    assert b.aspect_terms["relevance"] == pytest.approx([sum(bonuses[:3]), bonuses[3], sum(bonuses[4:])])
    assert b.raw["relevance"] == pytest.approx([0.0, 1.0, -4.0])
    token_ends = [list(range(1, len(r) + 1)) for r in RESPONSES]  # one token per character
    rows = b.token_rewards(token_ends)
    assert [row.sum() for row in rows] == pytest.approx(b.rewards().tolist())
    assert rows[0][12] == pytest.approx(bonuses[0]) and rows[0][37] == pytest.approx(bonuses[1])


def test_exported_model_scores_every_segment_and_yaml_kind(tiny_model_dir, tmp_path):
    torch.manual_seed(0)
    model = build_segment_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    export = export_segment_model(
        model,
        load_tokenizer(str(tiny_model_dir)),
        tmp_path / "seg",
        metadata={
            "aspect": "factuality",
            "granularity": "sentence",
            "max_length": 256,
            "prompt_format": {"passages": False, "max_passage_words": None},
        },
    )
    scorer = load_segment_scorer(export)
    qa_prompt = [{"role": "user", "content": "Question: When?\n\nPassages:\n\n[1] T\nText."}]
    assert scorer.examples([qa_prompt], ["A."])[0].prompt == [{"role": "user", "content": "Question: When?"}]
    reward = SegmentModelReward(path=str(export), name="factuality")
    rows = reward.placements([PROMPT] * 3, RESPONSES)
    assert [[o for o, _ in row] for row in rows] == [[e for _, e in split_sentences(r)] for r in RESPONSES]
    assert reward.score([PROMPT] * 3, RESPONSES) == pytest.approx([sum(v for _, v in r) for r in rows])
    (tmp_path / "r.yaml").write_text(
        yaml.safe_dump(
            {"combine": "aspects", "aspects": [{"kind": "segment_model", "name": "factuality", "path": "seg"}]}
        )
    )
    fn = load_reward(tmp_path / "r.yaml")
    assert isinstance(fn.aspects[0].component, SegmentModelReward)
    assert fn.aspects[0].component.path == str(export) and fn.aspects[0].source == f"segment_model:{export}"
    assert fn([PROMPT] * 3, RESPONSES) == pytest.approx(reward.score([PROMPT] * 3, RESPONSES))
