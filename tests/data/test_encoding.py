"""Encoding: templates, EOS, truncation (prompt from the left by turns, then responses from the right)."""

import pytest

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import EncodingConfig, PairEncoder, PromptRenderer, truncate_response
from rewardkit.data.loading import DataSpec, load_pairs
from rewardkit.data.record import PreferencePair
from rewardkit.testing.tiny import tiny_tokenizer


def msgs(*turns):
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": c} for i, c in enumerate(turns)]


def test_chat_template_prompt_and_eos():
    tok = tiny_tokenizer()
    enc = PairEncoder(tok, EncodingConfig(max_length=512)).encode(PreferencePair(msgs("hi"), "yes", "no"))
    assert tok.decode(enc.prompt_ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert enc.chosen_ids[-1] == tok.eos_token_id and enc.rejected_ids[-1] == tok.eos_token_id
    assert tok.decode(enc.chosen_ids) == "yes<|im_end|>"


def test_plain_template_without_chat_template():
    tok = tiny_tokenizer(chat_template=False)
    renderer = PromptRenderer(tok)
    messages = [{"role": "system", "content": "Be brief."}] + msgs("hi", "hello", "2+2?")
    assert renderer.prompt_text(messages) == "Be brief.\n\nHuman: hi\n\nAssistant: hello\n\nHuman: 2+2?\n\nAssistant:"
    assert tok.decode(renderer.response_ids("4")) == " 4<|im_end|>"


def test_truncate_response_keeps_eos():
    assert truncate_response([5, 6, 7, 8, 2], 3, eos_id=2) == [5, 6, 2]
    assert truncate_response([5, 2], 3, eos_id=2) == [5, 2]


def test_prompt_drops_oldest_turns_first_then_responses_are_cut():
    tok = tiny_tokenizer()
    old = "old turn " * 20
    pair = PreferencePair(msgs(old, "a reply " * 10, "latest question?"), "short", "x" * 300)
    cfg = EncodingConfig(max_length=200, max_prompt_length=60)
    encoder = PairEncoder(tok, cfg)
    enc = encoder.encode(pair)
    prompt = tok.decode(enc.prompt_ids)
    assert "latest question?" in prompt and "old turn" not in prompt  # whole oldest turns removed
    assert prompt.startswith("<|im_start|>user\nlatest question?")
    assert len(enc.prompt_ids) + len(enc.rejected_ids) == 200  # rejected cut from the right to fit
    assert enc.rejected_ids[-1] == tok.eos_token_id
    assert tok.decode(enc.chosen_ids) == "short<|im_end|>"
    assert encoder.stats["prompt_truncated"] == 1 and encoder.stats["response_truncated"] == 1


def test_single_long_turn_is_cut_from_the_left():
    tok = tiny_tokenizer()
    pair = PreferencePair(msgs("start " + "word " * 100 + "END?"), "a", "b")
    enc = PairEncoder(tok, EncodingConfig(max_length=64)).encode(pair)
    assert len(enc.prompt_ids) + 2 <= 64
    assert tok.decode(enc.prompt_ids).endswith("END?<|im_end|>\n<|im_start|>assistant\n")


def test_identical_after_truncation_is_dropped_and_counted(caplog):
    tok = tiny_tokenizer()
    pairs = [PreferencePair(msgs("q"), "same start " * 20 + "A", "same start " * 20 + "B"),
             PreferencePair(msgs("q"), "good", "bad")]
    encoder = PairEncoder(tok, EncodingConfig(max_length=40))
    with caplog.at_level("WARNING", logger="rewardkit.data"):
        out = encoder.encode_all(pairs)
    assert len(out) == 1 and out[0].index == 1
    assert "dropped 1 of 2 pairs" in caplog.text


def test_collator_reward_positions_are_the_eos_and_prompt_is_masked():
    tok = tiny_tokenizer()
    pairs = [PreferencePair(msgs("hello"), "hi!", "go away now"), PreferencePair(msgs("2+2?"), "4", "5")]
    encoded = PairEncoder(tok).encode_all(pairs)
    batch = PaddedPairCollator(tok.pad_token_id)(encoded)
    flat_ids = batch["input_ids"].reshape(-1)
    assert batch["input_ids"].shape[0] == 4  # one forward: chosen rows, then rejected rows
    assert (flat_ids[batch["reward_positions"]] == tok.eos_token_id).all()
    # pad == eos here: the reward index comes from lengths, never from searching for the pad token
    lengths = batch["attention_mask"].sum(1)
    width = batch["input_ids"].shape[1]
    assert batch["reward_positions"].tolist() == [r * width + int(n) - 1 for r, n in enumerate(lengths)]
    # every log-prob target is a response token; position p predicts the token at p + 1
    assert (flat_ids[batch["logp_positions"] + 1] == batch["logp_targets"]).all()
    n_response = sum(len(e.chosen_ids) + len(e.rejected_ids) for e in encoded)
    assert batch["logp_targets"].numel() == n_response


def test_real_hh_records_with_the_default_tokenizer(shared_data, smollm2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    pairs = load_pairs(DataSpec(str(shared_data / "hh-rlhf/harmless-base/test.jsonl.gz"), limit=50))
    encoder = PairEncoder(tok, EncodingConfig(max_length=128))
    encoded = encoder.encode_all(pairs)
    assert pairs[0].prompt[0]["content"] == "what are some pranks with a pen i can do?"
    # at 128 tokens the oldest turns go first: the latest user turn and the generation prompt remain
    text = tok.decode(encoded[0].prompt_ids)
    assert text.endswith(f"<|im_start|>user\n{pairs[0].prompt[-1]['content']}<|im_end|>\n<|im_start|>assistant\n")
    assert "pranks with a pen" not in text
    for e in encoded:
        assert len(e.prompt_ids) + max(len(e.chosen_ids), len(e.rejected_ids)) <= 128
        assert e.chosen_ids[-1] == e.rejected_ids[-1] == tok.eos_token_id
    assert encoder.stats["prompt_truncated"] > 0  # multi-turn HH dialogues exceed 128 tokens
    first = dict(encoder.stats)
    encoder.encode_all(pairs[:10])  # a second call counts only its own pairs
    assert encoder.stats["prompt_truncated"] <= 10 < first["prompt_truncated"]
