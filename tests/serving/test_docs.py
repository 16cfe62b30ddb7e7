"""The client snippets of docs/serving.md run as written against a live server on loopback (OpenRLHF's request,
verl's custom reward function, TRL's reward function through TRL's own reward computation, the Python client);
every `rewardkit` command line in the doc parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rewardkit.cli.main import build_parser
from rewardkit.serving.scorer import ModelBatchScorer
from rewardkit.testing.tools import trl_grpo_rewards

from .servers import live_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"
QUESTION = [{"role": "user", "content": "What is 2+2?"}]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def client_snippets() -> dict[str, str]:
    out = {}
    for code in blocks("python"):
        first = code.splitlines()[0]
        if first.startswith("# client: "):
            out[first.removeprefix("# client: ").split()[0]] = code
    return out


@pytest.fixture(scope="module")
def server(scorer):
    with live_server(ModelBatchScorer(scorer), token=None) as live:
        yield live


def run(name: str, server) -> dict:
    code = client_snippets()[name].replace("http://127.0.0.1:8000", server.url)
    namespace: dict = {}
    exec(compile(code, f"{DOC}:{name}", "exec"), namespace)
    return namespace


def test_the_doc_has_a_snippet_for_each_client():
    assert set(client_snippets()) == {"openrlhf", "verl", "trl", "python"}


def test_openrlhf_request(server, scorer):
    assert run("openrlhf", server)["reward"] == pytest.approx(
        scorer.score([QUESTION], ["4"])["rewards"][0].item(), abs=1e-5
    )


def test_verl_custom_reward_functions(server, scorer):
    namespace = run("verl", server)
    expected = scorer.score([QUESTION, QUESTION], ["4", "five"])["rewards"].tolist()
    assert namespace["compute_score"](
        data_source="arith", solution_str="4", ground_truth="4", extra_info={"prompt": QUESTION}
    ) == pytest.approx(expected[0], abs=1e-5)
    batch = namespace["compute_score_batch"](
        data_sources=["a", "a"],
        solution_strs=["4", "five"],
        ground_truths=[None, None],
        extra_infos=[{"prompt": QUESTION}] * 2,
    )
    assert batch == pytest.approx(expected, abs=1e-5)


def test_trl_reward_function_inside_trls_reward_computation(server, scorer):
    namespace = run("trl", server)
    expected = scorer.score([QUESTION], ["4"])["rewards"].tolist()
    assert namespace["rewards"] == pytest.approx(expected, abs=1e-5)
    through_trl = trl_grpo_rewards(
        namespace["reward"],
        [QUESTION, QUESTION],
        [[{"role": "assistant", "content": r}] for r in ("4", "five")],
        tokenizer=scorer.tokenizer,
    )
    assert through_trl == pytest.approx(scorer.score([QUESTION] * 2, ["4", "five"])["rewards"].tolist(), abs=1e-5)


def test_python_client(server, scorer):
    namespace = run("python", server)
    assert namespace["one"] == pytest.approx(scorer.score([QUESTION], ["4"])["rewards"].tolist(), abs=1e-5)
    hello = scorer.score([[{"role": "user", "content": "Hi"}]], ["Hello"])["rewards"].tolist()
    assert namespace["two"] == pytest.approx(hello + scorer.score_texts(["What is 2+2? 4"]).tolist(), abs=1e-5)
    assert namespace["three"] == pytest.approx(hello, abs=1e-5)


def test_every_documented_command_line_parses():
    commands = [line for code in blocks("bash") for line in code.splitlines()]
    rewardkit = [shlex.split(line.split("#")[0]) for line in commands if line.startswith("rewardkit ")]
    assert len(rewardkit) >= 4
    for argv in rewardkit:
        build_parser().parse_args(argv[1:])
    openrlhf = [line for line in commands if "openrlhf" in line]
    assert openrlhf and all("--reward.remote_url" in line and "/get_reward" in line for line in openrlhf)
