"""The TRL reward-function adapter, called the way GRPOTrainer._calculate_rewards calls it, and inside a
real (tiny) GRPO run."""

from __future__ import annotations

import json

import pytest

from rewardkit.data.suite import gold_score, suite_prompts
from rewardkit.rewards.combinators import Aspect, CombineSettings, RewardFunction
from rewardkit.rewards.gold import GoldReward
from rewardkit.rewards.metrics import build_metric
from rewardkit.rewards.trl_adapter import TRLRewardFunction, completion_text, prompt_messages


def aspects_reward(*components) -> RewardFunction:
    return RewardFunction("toy", CombineSettings("aspects"), aspects=[Aspect(c) for c in components])


def trl_kwargs(metas, logged):
    """What GRPOTrainer passes besides prompts/completions: dataset columns + trainer hooks."""
    return {
        "meta": [json.dumps(m) for m in metas],
        "trainer_state": object(),
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: logged.append((name, value)),
    }


def test_conversational_call_with_gold_meta():
    items = suite_prompts(1, seed=4, families=["arithmetic", "factual"])
    right = [f"The answer is {it.meta['answer']}." for it in items]
    prompts = [it.prompt for it in items]
    completions = [[{"role": "assistant", "content": text}] for text in right]
    logged: list = []
    fn = TRLRewardFunction(aspects_reward(GoldReward(), build_metric("length")))
    assert fn.__name__ == "toy"
    out = fn(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2], [3]],
        **trl_kwargs([it.meta for it in items], logged),
    )
    words = [3, 7]  # "The answer is 752." / "The answer is J. R. R. Tolkien." (digits are not words)
    expected = [gold_score(it.meta, t) + w for it, t, w in zip(items, right, words)]
    assert [gold_score(it.meta, t) for it, t in zip(items, right)] == [1.0, 1.0]
    assert out == pytest.approx(expected)
    assert all(isinstance(v, float) for v in out)
    assert {name for name, _ in logged} == {"rewards/toy/gold_raw", "rewards/toy/length_raw"}


def test_reward_function_itself_accepts_the_trl_call():
    reward = aspects_reward(GoldReward())
    items = suite_prompts(1, seed=4, families=["arithmetic"])
    logged: list = []
    out = reward(
        prompts=[items[0].prompt],
        completions=[[{"role": "assistant", "content": "The answer is 1."}]],
        completion_ids=[[1]],
        **trl_kwargs([items[0].meta], logged),
    )
    assert out == [gold_score(items[0].meta, "The answer is 1.")] and logged
    with pytest.raises(TypeError, match="completions="):
        reward([items[0].prompt])


def test_standard_format_call_without_meta():
    fn = TRLRewardFunction(aspects_reward(build_metric("length")))
    out = fn(
        prompts=["Say hi", "Say bye"],
        completions=["hi there", "bye"],
        completion_ids=[[1], [2]],
        trainer_state=None,
        log_extra=None,
        log_metric=None,
    )
    assert out == [2.0, 1.0]


def test_bad_inputs_name_the_item():
    fn = TRLRewardFunction(aspects_reward(build_metric("length")))
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        fn(prompts=["a", "b"], completions=["x"])
    with pytest.raises(TypeError, match="completion 0"):
        completion_text(3, 0)
    with pytest.raises(ValueError, match="completion 1: no assistant"):
        completion_text([{"role": "user", "content": "x"}], 1)
    with pytest.raises(ValueError, match="meta column is not valid JSON"):
        fn(prompts=["a"], completions=["x"], meta=["{not json"])
    assert prompt_messages("hi", 0) == [{"role": "user", "content": "hi"}]
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "ok"}]}], 0) == "ok"


def test_inside_a_tiny_grpo_run(tiny_model_dir, tmp_path):
    """Two GRPO steps on a tiny random model: TRL calls the adapter with its real arguments."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    calls: list = []

    class Recording(TRLRewardFunction):
        def __call__(self, prompts, completions, completion_ids=None, **columns):
            calls.append((prompts, completions, columns))
            return super().__call__(prompts, completions, completion_ids, **columns)

    items = suite_prompts(1, seed=5, families=["arithmetic", "factual"])
    data = Dataset.from_list([{"prompt": it.prompt, "meta": json.dumps(it.meta)} for it in items])
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=args,
        train_dataset=data,
        reward_funcs=[Recording(aspects_reward(GoldReward(), build_metric("length")))],
        processing_class=tokenizer,
    )
    trainer.train()
    assert len(calls) == 2
    prompts, completions, columns = calls[0]
    assert isinstance(prompts[0], list) and completions[0][0]["role"] == "assistant"
    assert {"meta", "trainer_state", "log_metric"} <= set(columns)
    assert any("rewards/toy/mean" in h or "reward" in h for h in trainer.state.log_history)
