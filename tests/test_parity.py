"""One reward everywhere: a rewardkit RM scores the same in rewardkit (score, serve), TRL, transformers and
pipelines. Two tiny RMs really trained here, one with a chat template and one without (rewardkit's plain template,
which the export carries); every tool's own code path computes the reward (docs/architecture.md)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from transformers import AutoTokenizer

from rewardkit.cli.main import main
from rewardkit.evaluation.evaluate import load_scorer
from rewardkit.models.loading import read_metadata
from rewardkit.serving.app import create_app
from rewardkit.serving.client import RewardClient
from rewardkit.serving.reward_function import RemoteRewardFunction
from rewardkit.serving.scorer import ModelBatchScorer
from rewardkit.testing.tiny import train_tiny_reward_model
from rewardkit.testing.tools import (
    PARITY_CONVERSATIONS,
    openrlhf_queries,
    pipeline_rewards,
    render_conversations,
    seqcls_rewards,
    trl_grpo_rewards,
)

TOLERANCE = 1e-4
PROMPTS = [p for p, _ in PARITY_CONVERSATIONS]
RESPONSES = [r for _, r in PARITY_CONVERSATIONS]


@pytest.fixture(scope="module", params=["chat-template", "plain"])
def trained_rm(request, tiny_model_dir, tiny_plain_model_dir, tmp_path_factory):
    base = tiny_model_dir if request.param == "chat-template" else tiny_plain_model_dir
    return train_tiny_reward_model(base, tmp_path_factory.mktemp(f"parity-{request.param}"), steps=8)


@pytest.fixture(scope="module")
def reference(trained_rm, tmp_path_factory):
    """`rewardkit score` on the conversations: what every other tool must give."""
    folder = tmp_path_factory.mktemp("score")
    source, out = folder / "in.jsonl", folder / "out.jsonl"
    source.write_text("\n".join(json.dumps({"prompt": p, "response": r}) for p, r in PARITY_CONVERSATIONS))
    assert main(["score", "--model", str(trained_rm), "--input", str(source), "--output", str(out)]) == 0
    rewards = [json.loads(line)["reward"] for line in out.read_text().splitlines()]
    assert max(rewards) - min(rewards) > 0.1  # a trained head tells the responses apart
    return rewards


def app_client(scorer) -> TestClient:
    """The server in process (the tests/serving pattern), no token."""
    return TestClient(create_app(ModelBatchScorer(scorer)))


def rendered(trained_rm) -> list[str]:
    return render_conversations(AutoTokenizer.from_pretrained(trained_rm), PROMPTS, RESPONSES)


def test_trl_grpo_reward_funcs_path(trained_rm, reference):
    completions = [[{"role": "assistant", "content": r}] for r in RESPONSES]
    assert trl_grpo_rewards(trained_rm, PROMPTS, completions) == pytest.approx(reference, abs=TOLERANCE)


def test_sequence_classification_on_the_exported_chat_template(trained_rm, reference):
    assert seqcls_rewards(trained_rm, rendered(trained_rm)) == pytest.approx(reference, abs=TOLERANCE)


def test_text_classification_pipeline(trained_rm, reference):
    assert pipeline_rewards(trained_rm, rendered(trained_rm)) == pytest.approx(reference, abs=TOLERANCE)


def test_server_score_get_reward_and_remote_reward_function(trained_rm, reference):
    scorer = load_scorer(str(trained_rm))
    queries = openrlhf_queries(scorer.encoder().renderer, scorer.tokenizer.eos_token, PARITY_CONVERSATIONS)
    with app_client(scorer) as client:
        items = [{"prompt": p, "response": r} for p, r in PARITY_CONVERSATIONS]
        assert client.post("/score", json={"items": items}).json()["rewards"] == pytest.approx(reference, abs=TOLERANCE)
        whole = [{"messages": p + [{"role": "assistant", "content": r}]} for p, r in PARITY_CONVERSATIONS]
        assert client.post("/score", json={"items": whole}).json()["rewards"] == pytest.approx(reference, abs=TOLERANCE)
        for query in (queries, rendered(trained_rm)):  # OpenRLHF's query, or a whole conversation's render
            reply = client.post("/get_reward", json={"query": query}).json()
            assert reply["rewards"] == pytest.approx(reference, abs=TOLERANCE) and not any(reply["truncated"])
        remote = RemoteRewardFunction(RewardClient(http=client))
        completions = [[{"role": "assistant", "content": r}] for r in RESPONSES]
        assert remote(prompts=PROMPTS, completions=completions) == pytest.approx(reference, abs=TOLERANCE)


def test_string_prompts_follow_trls_rule(trained_rm, tmp_path):
    """TRL's standard format (string prompt + string completion) is one text scored at its last token, no
    template: RemoteRewardFunction and {"text"} items give what reward_funcs=<export> gives."""
    single = [(p[-1]["content"], r) for p, r in PARITY_CONVERSATIONS if len(p) == 1]
    prompts, completions = [p for p, _ in single], [r for _, r in single]
    trl = trl_grpo_rewards(trained_rm, prompts, completions)
    with app_client(load_scorer(str(trained_rm))) as client:
        remote = RemoteRewardFunction(RewardClient(http=client))(prompts=prompts, completions=completions)
    assert remote == pytest.approx(trl, abs=TOLERANCE)
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(json.dumps({"text": p + c}) for p, c in single))
    assert main(["score", "--model", str(trained_rm), "--input", str(source), "--output", str(out)]) == 0
    assert [json.loads(line)["reward"] for line in out.read_text().splitlines()] == pytest.approx(trl, abs=TOLERANCE)


def test_export_records_the_training_reward_statistics(trained_rm):
    config = json.loads((trained_rm / "config.json").read_text())
    stats = read_metadata(trained_rm)["reward_stats"]
    assert (config["mean"], config["std"]) == pytest.approx((stats["mean"], stats["std"]))
    assert stats["std"] > 0 and stats["count"] == 2 * 48 and stats["source"] == "train"


def test_training_sequences_are_the_ones_trls_reward_trainer_builds(trained_rm, tmp_path):
    """The reward is read where rewardkit trained it: the encoder's chosen / rejected sequences equal what TRL's
    RewardTrainer tokenizes for the same conversational pairs (its own _prepare_dataset)."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    from rewardkit.data.encoding import PairEncoder
    from rewardkit.data.record import PreferencePair

    tokenizer = AutoTokenizer.from_pretrained(trained_rm)
    pairs = [PreferencePair(p, r, "Maybe 7, who knows") for p, r in PARITY_CONVERSATIONS]
    rows = [
        {
            "prompt": p.prompt,
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]
    args = RewardConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True, bf16=False)
    trl = RewardTrainer._prepare_dataset(None, Dataset.from_list(rows), tokenizer, args, "train")
    encoded = PairEncoder(tokenizer).encode_all(pairs)
    assert [e.prompt_ids + e.chosen_ids for e in encoded] == trl["chosen_ids"]
    assert [e.prompt_ids + e.rejected_ids for e in encoded] == trl["rejected_ids"]
