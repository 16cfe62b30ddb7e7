"""One reward everywhere: the same conversations scored by rewardkit and by the tools users train policies with.

  python benchmarks/parity.py                       # two tiny RMs really trained here (chat template, plain)
  python benchmarks/parity.py --base smollm2-135m   # SmolLM2-135M-Instruct: its ChatML template, and forced plain

For each model: `rewardkit score` (Scorer.score), the server's /score and /get_reward (in-process), TRL's
GRPOTrainer reward computation with `reward_funcs=<export>` on conversational and on string prompts,
AutoModelForSequenceClassification on the exported tokenizer's chat-template render, and a text-classification
pipeline (function_to_apply="none") on the same render. Prints max / mean |difference| from `rewardkit score`
(and the rewards' std, for scale), writes benchmarks/results/parity.json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rewardkit.files import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def diffs(reference: list[float], other: list[float]) -> dict[str, float]:
    d = [abs(a - b) for a, b in zip(reference, other)]
    return {"max_abs_diff": max(d), "mean_abs_diff": statistics.fmean(d)}


def measure(name: str, export: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from transformers import AutoTokenizer

    from rewardkit.evaluation.evaluate import load_scorer
    from rewardkit.serving.app import create_app
    from rewardkit.serving.scorer import ModelBatchScorer
    from rewardkit.testing.tools import PARITY_CONVERSATIONS as CONVERSATIONS
    from rewardkit.testing.tools import (
        openrlhf_queries,
        pipeline_rewards,
        render_conversations,
        seqcls_rewards,
        trl_grpo_rewards,
    )

    prompts = [p for p, _ in CONVERSATIONS]
    responses = [r for _, r in CONVERSATIONS]
    scorer = load_scorer(str(export))
    reference = scorer.score(prompts, responses)["rewards"].tolist()
    tokenizer = AutoTokenizer.from_pretrained(export)
    out: dict[str, Any] = {"rewards_std": statistics.pstdev(reference), "tools": {}}

    def record(tool: str, compute: Callable[[], list[float]], against: list[float] = reference) -> None:
        try:
            out["tools"][tool] = diffs(against, compute())
        except Exception as e:  # a tool that cannot score this model at all is a result too
            out["tools"][tool] = {"error": f"{type(e).__name__}: {e}"[:200]}

    def server(path: str, body: dict[str, Any]) -> list[float]:
        with TestClient(create_app(ModelBatchScorer(scorer))) as client:
            reply = client.post(path, json=body)
            reply.raise_for_status()
            return reply.json()["rewards"]

    def remote_reward_function(prompts: list[Any], completions: list[Any]) -> list[float]:
        from rewardkit.serving.client import RewardClient
        from rewardkit.serving.reward_function import RemoteRewardFunction

        with TestClient(create_app(ModelBatchScorer(scorer))) as client:
            return RemoteRewardFunction(RewardClient(http=client))(prompts=prompts, completions=completions)

    def queries() -> list[str]:
        return openrlhf_queries(scorer.encoder().renderer, tokenizer.eos_token, CONVERSATIONS)

    def rendered() -> list[str]:
        return render_conversations(tokenizer, prompts, responses)

    record(
        "server /score", lambda: server("/score", {"items": [{"prompt": p, "response": r} for p, r in CONVERSATIONS]})
    )
    record("server /get_reward", lambda: server("/get_reward", {"query": queries()}))
    record(
        "TRL GRPO reward_funcs (conversational)",
        lambda: trl_grpo_rewards(export, prompts, [[{"role": "assistant", "content": r}] for r in responses]),
    )
    record("AutoModelForSequenceClassification + chat template", lambda: seqcls_rewards(export, rendered()))
    record("pipeline text-classification", lambda: pipeline_rewards(export, rendered()))
    record(
        "RemoteRewardFunction (conversational)",
        lambda: remote_reward_function(prompts, [[{"role": "assistant", "content": r}] for r in responses]),
    )
    # string prompts (TRL's standard format): TRL scores prompt + completion as one text, without a template
    single = [(p[-1]["content"], r) for p, r in CONVERSATIONS if len(p) == 1]
    trl_strings = trl_grpo_rewards(export, [p for p, _ in single], [r for _, r in single])
    record(
        "string prompts: RemoteRewardFunction vs TRL GRPO reward_funcs",
        lambda: remote_reward_function([p for p, _ in single], [r for _, r in single]),
        against=trl_strings,
    )
    as_user_turn = scorer.score([[{"role": "user", "content": p}] for p, _ in single], [r for _, r in single])
    record(
        "string prompts: rewardkit {prompt: str} (one user turn) vs TRL GRPO",
        lambda: as_user_turn["rewards"].tolist(),
        against=trl_strings,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="tiny", help="'tiny' (random tiny Llamas) or a model alias / directory")
    parser.add_argument("--steps", type=int, default=12, help="training steps of each reward model")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: 3e-3 tiny, 1e-4 otherwise")
    parser.add_argument("--output", default=None, help="default: benchmarks/results/parity[-BASE].json")
    args = parser.parse_args()

    from rewardkit.testing.tiny import save_tiny_model, train_tiny_reward_model

    tiny = args.base == "tiny"
    lr = args.learning_rate or (3e-3 if tiny else 1e-4)
    output = args.output or str(RESULTS / ("parity.json" if tiny else f"parity-{Path(args.base).name}.json"))
    results: dict[str, Any] = {
        "base": args.base,
        "steps": args.steps,
        "learning_rate": lr,
        "machine": platform.machine(),
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, chat in (("chat-template", True), ("plain", False)):
            base = save_tiny_model(Path(tmp) / f"base-{name}", seed=0, chat_template=chat) if tiny else args.base
            export = train_tiny_reward_model(
                base,
                Path(tmp) / f"run-{name}",
                steps=args.steps,
                learning_rate=lr,
                tuning="full" if tiny else "top_layers",
                use_chat_template=chat,
            )
            results["models"][name] = measure(name, export)

    print(f"{'model':<14} {'tool':<66} {'max |diff|':>11} {'mean |diff|':>11}")
    for name, m in results["models"].items():
        print(f"{name:<14} {'(reward std)':<66} {m['rewards_std']:>11.4f}")
        for tool, d in m["tools"].items():
            if "error" in d:
                print(f"{name:<14} {tool:<66} {d['error'][:60]}")
            else:
                print(f"{name:<14} {tool:<66} {d['max_abs_diff']:>11.2e} {d['mean_abs_diff']:>11.2e}")
    write_json_atomic(output, results)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
