"""Segment examples → token positions (data/segment_encoding.py): the head is read at each segment's last
token, in packed and padded batches alike, and equals a forward of the sequence alone."""

from __future__ import annotations

import torch

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import EncodingConfig
from rewardkit.data.packing import PackedPairCollator
from rewardkit.data.segment_encoding import IGNORE, SegmentCollator, SegmentEncoder, end_token, token_ends
from rewardkit.data.segments import SegmentExample, split_sentences
from rewardkit.models.loading import load_tokenizer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.models.segment_model import build_segment_model


def example(response: str, labels=None, question: str = "Q?") -> SegmentExample:
    segments = split_sentences(response)
    return SegmentExample(
        prompt=[{"role": "user", "content": question}],
        response=response,
        segments=segments,
        labels=labels if labels is not None else [1.0] * len(segments),
    )


def test_end_token_is_the_token_holding_the_last_character():
    ends = token_ends([(0, 2), (2, 3), (3, 7), (7, 8)])  # "Ab" "." " Cde" "."
    assert end_token(ends, 3) == 1 and end_token(ends, 8) == 3 and end_token(ends, 5) == 2
    assert end_token(ends, 99) == 3


def test_positions_point_at_segment_ends(tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))  # byte-level: one token per character here
    enc = SegmentEncoder(tok, EncodingConfig(max_length=128))
    a = enc.encode(example("Ab cd. Ef gh.", [1.0, None]), index=0)
    b = enc.encode(example("Xy. Zw uv st."), index=1)
    assert a.segment_ends == [5, 12] and a.segment_labels == [1.0, IGNORE] and a.segment_ids == [0, 1]
    closing = enc.pairs.renderer.closing_ids  # ChatML: <|im_end|> and a newline end the conversation's render
    assert a.chosen_ids == a.rejected_ids and closing and a.chosen_ids[-len(closing) :] == closing
    assert a.prompt_ids + a.chosen_ids == tok.apply_chat_template(
        [*example("Ab cd. Ef gh.").prompt, {"role": "assistant", "content": "Ab cd. Ef gh."}],
        tokenize=True,
        return_dict=False,
    )
    for inner in (PackedPairCollator(tok.pad_token_id), PaddedPairCollator(tok.pad_token_id)):
        batch = SegmentCollator(inner)([a, b])
        flat = batch["input_ids"].reshape(-1)
        assert tok.decode(flat[batch["reward_positions"]]) == "...."
        assert batch["segment_example"].tolist() == [0, 0, 1, 1]
        assert batch["segment_labels"].tolist() == [1.0, IGNORE, 1.0, 1.0]
        assert "logp_positions" not in batch


def test_truncation_drops_cut_segments(tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    prompt_len = len(SegmentEncoder(tok).pairs.renderer.prompt_ids([{"role": "user", "content": "Q?"}]))
    enc = SegmentEncoder(tok, EncodingConfig(max_length=prompt_len + 9, max_prompt_length=prompt_len))
    out = enc.encode_all([example("Ab cd. Ef gh.")])
    assert out[0].segment_ends == [5] and enc.stats["segments_truncated"] == 1


def test_packed_segment_values_equal_a_lone_forward(tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    torch.manual_seed(0)
    model = build_segment_model(ModelConfig(name=str(tiny_model_dir), tuning="full")).eval()
    enc = SegmentEncoder(tok, EncodingConfig(max_length=128))
    items = [enc.encode(example("Ab cd. Ef gh."), 0), enc.encode(example("Longer one here. Yes.", question="W"), 1)]
    batch = SegmentCollator(PackedPairCollator(tok.pad_token_id, row_tokens=None))(items)
    with torch.no_grad():
        packed = model(**batch)["rewards"]
        alone = []
        for it in items:
            ids = torch.tensor([it.prompt_ids + it.chosen_ids])
            hidden = model.hidden_states(ids, torch.ones_like(ids))
            pos = torch.tensor([len(it.prompt_ids) + t for t in it.segment_ends])
            alone.append(model.rewards_at(hidden, pos))
    assert torch.allclose(packed, torch.cat(alone), atol=1e-5)
