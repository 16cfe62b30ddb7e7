"""Segment models (models/segment_model.py): a head with bias, exported as AutoModelForTokenClassification
whose logits equal rewardkit's values at every position; reloaded for scoring or further training."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForTokenClassification

from rewardkit.models.loading import load_tokenizer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.models.segment_model import (
    build_segment_model,
    export_segment_model,
    is_segment_model,
    load_segment_model,
)


@pytest.mark.parametrize("tuning", ["full", "lora", "top_layers"])
def test_export_loads_as_token_classification(tiny_model_dir, tmp_path, tuning):
    torch.manual_seed(0)
    model = build_segment_model(ModelConfig(name=str(tiny_model_dir), tuning=tuning, top_layers=1))
    assert model.score.bias is not None and model.score.bias.requires_grad
    with torch.no_grad():
        model.score.bias.fill_(0.7)
        if tuning == "lora":  # make the adapters matter, so that merging is tested
            for name, p in model.backbone.named_parameters():
                if "lora_B" in name:
                    p.normal_(std=0.1)
    out = export_segment_model(
        model,
        load_tokenizer(str(tiny_model_dir)),
        tmp_path / "export",
        metadata={"aspect": "relevance", "granularity": "subsentence"},
    )
    assert is_segment_model(out) and json.loads((out / "rewardkit.json").read_text())["kind"] == "segment"
    tc = AutoModelForTokenClassification.from_pretrained(out).eval()
    assert tc.config.num_labels == 1 and tc.config.classifier_dropout == 0.0
    assert tc.score.bias.item() == pytest.approx(0.7)
    ids = torch.tensor([[5, 9, 40, 41, 42, 7, 2]])
    model.eval()
    with torch.no_grad():
        expected = model.rewards_at(model.hidden_states(ids, torch.ones_like(ids)), torch.arange(ids.numel()))
        logits = tc(input_ids=ids).logits[0, :, 0]
        reloaded = load_segment_model(out)
        again = reloaded.rewards_at(reloaded.hidden_states(ids, torch.ones_like(ids)), torch.arange(ids.numel()))
    assert torch.allclose(logits, expected, atol=1e-5) and torch.allclose(again, expected, atol=1e-5)
    # continuing from the export keeps its head and applies the tuning scope
    resumed = build_segment_model(ModelConfig(name=str(out), tuning="top_layers", top_layers=1))
    assert resumed.score.bias.item() == pytest.approx(0.7)
    assert not resumed.base_backbone.embed_tokens.weight.requires_grad
