"""Bounded tokenization: texts are cut to a character budget before tokenizing; inputs that fit get exactly the
token ids they got before, truncated ones the same truncation, and a 50 MB record costs no more than one that
fills max_length."""

from __future__ import annotations

import random

import pytest

from rewardkit.data.char_budget import bound_prompt, char_budget, longest_token_chars
from rewardkit.data.encoding import EncodingConfig, PairEncoder
from rewardkit.data.record import PreferencePair
from rewardkit.models.loading import load_tokenizer

WORDS = ["the", "reward", "model", "  ", "\n", "ünïcode", "数据", "😀", "<|im_end|>", "################", "x" * 40]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def conversation(rng: random.Random, turns: int, words: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": text(rng, words)}] if rng.random() < 0.5 else []
    for t in range(turns):
        messages.append({"role": "user", "content": text(rng, rng.randint(1, words))})
        if t < turns - 1:
            messages.append({"role": "assistant", "content": text(rng, rng.randint(1, words))})
    return messages


def unbounded(encoder: PairEncoder) -> PairEncoder:
    encoder.renderer.max_chars = None  # what encoding did before budgets
    return encoder


@pytest.fixture(scope="module", params=["tiny", "smollm2"])
def tokenizer(request, tiny_model_dir):
    if request.param == "tiny":
        return load_tokenizer(str(tiny_model_dir))
    return load_tokenizer(str(request.getfixturevalue("smollm2_dir")))


def test_the_budget_is_max_length_times_the_longest_token(tokenizer):
    longest = max(len(t) for t in tokenizer.get_vocab())
    assert longest_token_chars(tokenizer) == longest and char_budget(tokenizer, 64) == 64 * longest


@pytest.mark.parametrize("max_length", [48])
def test_pairs_encode_to_the_same_ids_as_without_a_budget(tokenizer, max_length):
    rng = random.Random(max_length)
    config = EncodingConfig(max_length=max_length)
    bounded, plain = PairEncoder(tokenizer, config), unbounded(PairEncoder(tokenizer, config))
    cut = 0
    for i in range(50):
        words = rng.choice([3, 20, 100, 700])  # from fitting easily to several times the budget
        pair = PreferencePair(
            conversation(rng, rng.randint(1, 3), words),
            text(rng, rng.choice([2, 30, 700])),
            text(rng, rng.choice([2, 30, 700])),
        )
        budget = bounded.renderer.max_chars
        cut += any(len(m["content"]) > budget for m in pair.prompt) or len(pair.chosen) > budget
        a, b = bounded.encode(pair, i), plain.encode(pair, i)
        assert (a.prompt_ids, a.chosen_ids, a.rejected_ids) == (b.prompt_ids, b.chosen_ids, b.rejected_ids), i
        assert bounded.encode_single(pair.prompt, pair.chosen) == plain.encode_single(pair.prompt, pair.chosen)
    assert cut > 10  # the budget was exercised, not only fitting inputs


def test_bound_prompt_keeps_the_latest_text_and_every_prompt_that_fits():
    messages = [
        {"role": "system", "content": "s" * 10},
        {"role": "user", "content": "a" * 50},
        {"role": "assistant", "content": "b" * 50},
        {"role": "user", "content": "c" * 30},
    ]
    assert bound_prompt(messages, 140) is messages and bound_prompt(messages, None) is messages
    assert bound_prompt(messages, 60) == [
        {"role": "system", "content": "s" * 10},
        {"role": "assistant", "content": "b" * 30},
        {"role": "user", "content": "c" * 30},
    ]
    assert bound_prompt(messages, 20) == [
        {"role": "system", "content": "s" * 10},
        {"role": "user", "content": "c" * 20},
    ]


def test_a_50_mb_record_is_tokenized_within_the_budget(tiny_model_dir):
    tokenizer = load_tokenizer(str(tiny_model_dir))
    seen: list[int] = []
    original = type(tokenizer).__call__

    class Recording(type(tokenizer)):
        def __call__(self, text, *args, **kwargs):
            seen.append(len(text))
            return original(self, text, *args, **kwargs)

    tokenizer.__class__ = Recording
    try:
        encoder = PairEncoder(tokenizer, EncodingConfig(max_length=64))
        huge = "x" * (50 * 1024 * 1024)
        pair = PreferencePair([{"role": "system", "content": huge}, {"role": "user", "content": huge}], huge, "short")
        encoded = encoder.encode(pair)
    finally:
        tokenizer.__class__ = type(tokenizer).__mro__[1]
    budget = encoder.renderer.max_chars
    assert len(encoded.prompt_ids) + len(encoded.chosen_ids) == 64
    # one render holds the whole conversation (system, user, response), each part cut to the budget, plus the template
    assert max(seen) <= 3 * budget + 200
