"""RL-shaped load on `rewardkit serve` and on a plain transformers server written the way OpenRLHF's serve_rm is.

  python benchmarks/serve_load.py --compare --quick   # 2 rounds x 45 s per server, a 30 s verl-style phase
  python benchmarks/serve_load.py --compare           # 3 rounds x 120 s per server, a 90 s verl-style phase
  python benchmarks/serve_load.py --compare --quick --model tiny --seconds 5   # a smoke run

Load: groups of --group-size (8) completions per prompt, as GRPO / RLOO sample them. The prompts are HH-RLHF
helpful-base test prompts; a group's completions are the pair's chosen and rejected responses plus responses of
other HH pairs, so prompt and completion lengths follow HH; every item has at most --max-length (512) tokens.
--clients (4) clients each send one group per request, OpenRLHF's way (POST /get_reward, {"query": [the 8
conversations, each rendered whole by the chat template]}), to
  (a) rewardkit serve: dynamic batching across requests, items grouped by prompt (a shared prompt computed once);
  (b) naive: OpenRLHF's serve_rm (openrlhf/cli/serve_rm.py and its reward model's forward) in plain transformers:
      the same exported checkpoint as AutoModelForSequenceClassification, the request's queries tokenized as one
      left-padded batch (batch_size None), position ids from the attention mask, the score head read at the last
      token, the forward run inside the async handler, so requests are served one after another; no prompt
      sharing. OpenRLHF's --packing_samples (unpadding) needs flash-attention kernels, which a CPU lacks.
Same checkpoint (default: SmolLM2-135M with a seeded random head), same torch threads, same machine, one run: the
two servers run side by side and take turns (rewardkit, naive, rewardkit, naive, ...), so load from other
processes falls on both. Then a verl-style phase on rewardkit alone: every completion its own POST /classify
(vLLM payload, activation=false), a group's completions in flight together, as verl's reward loop sends them.

A query is the whole conversation as the chat template renders it (add_generation_prompt=False: what verl sends),
so the naive server reads its reward at the render's last token, rewardkit's scoring position (docs/architecture.md),
and both servers compute the same token ids. (OpenRLHF's own query, prompt + generation + EOS, lacks what ChatML
puts after <|im_end|>, so serve_rm would read a ChatML model's reward one token earlier.) Every reward is checked
against offline scoring of the same item with one padded row per item (no packing): wrong when it differs by more
than --tolerance (1e-3); lost when a request fails or gets an error. Items whose render tokenizes differently as
one string than as prompt + response are not drawn (counted; none with rewardkit's encoding, which splits the
tokenized render).

Reported per server: items/s, requests/s, latency p50 / p99 (ms), item tokens/s (prompt + response tokens of the
items scored: the same work for both), computed tokens/s (what the forward passes ran on: padding included,
shared prompts once), items per forward pass, and the achieved GFLOP/s on those (2 x non-embedding parameters per
computed token + 4 x attention width x layers per visible (query, key) pair, as benchmarks/throughput.py counts;
the dense CPU attention kernel also computes the masked pairs, which are not counted) against the measured fp32
matmul peak. Prints a table, writes benchmarks/results/serve_compare[_quick].json, and ends with
  serve_compare items_per_s=<x> naive_items_per_s=<x> ratio=<x> lost=<n> wrong=<n>
(lost / wrong summed over every phase of both servers).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from serve_load import (
    RESULTS,
    ClientTally,
    Item,
    free_port,
    percentile,
    prepare_checkpoint,
    serve_options,
    start_server,
    wait_healthy,
)

from rewardkit.files import write_json_atomic

WORK_KEYS = ("batches", "items", "tokens", "grid_tokens", "attention_pairs")


# ---- the naive server: OpenRLHF's serve_rm in plain transformers ------------------------------------------


class NaiveRewardModel:
    """OpenRLHF's RewardModelProxy and its reward model's forward, on an exported sequence-classification RM."""

    def __init__(self, path: str, max_length: int, batch_size: int | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.model = AutoModelForSequenceClassification.from_pretrained(
            path, dtype=torch.float32, attn_implementation="sdpa"
        ).eval()
        self.model.config.use_cache = False
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_length = max_length
        self.batch_size = batch_size
        self.work: Counter[str] = Counter()

    def get_reward(self, queries: list[str]) -> list[float]:
        import torch

        from rewardkit.data.collate import batch_work

        batch_size = self.batch_size or len(queries)
        scores: list[float] = []
        with torch.no_grad():
            for i in range(0, len(queries), batch_size):
                inputs = self.tokenizer(
                    queries[i : i + batch_size],
                    return_tensors="pt",
                    add_special_tokens=False,
                    max_length=self.max_length,
                    padding=True,
                    truncation=True,
                )
                self.work.update(batch_work(inputs), batches=1, items=len(inputs["input_ids"]))
                scores.extend(self.forward(inputs["input_ids"], inputs["attention_mask"]).tolist())
        return scores

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        position_ids = attention_mask.long().cumsum(-1) - 1
        position_ids.masked_fill_(attention_mask == 0, 1)
        base = getattr(self.model, self.model.base_model_prefix)
        hidden = base(input_ids, attention_mask=attention_mask, position_ids=position_ids).last_hidden_state
        values = self.model.score(hidden).squeeze(-1)
        eos_indices = attention_mask.size(1) - 1 - attention_mask.long().fliplr().argmax(dim=1, keepdim=True)
        return values.gather(dim=1, index=eos_indices).squeeze(1)


def run_naive_server(argv: list[str]) -> int:
    """`serve_compare.py --naive-server --model DIR --port N --max-length L [--threads T]`"""
    import torch
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--naive-server", action="store_true")
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    reward_model = NaiveRewardModel(args.model, args.max_length)
    app = FastAPI()

    @app.post("/get_reward")
    async def get_reward(request: Request) -> JSONResponse:
        data = await request.json()
        rewards = reward_model.get_reward(data.get("query"))
        return JSONResponse({"rewards": rewards, "scores": rewards, "extra_logs": {"dummy_scores": rewards}})

    @app.get("/health")
    async def health() -> dict[str, str]:  # not in serve_rm: the benchmark waits for it
        return {"status": "ok"}

    @app.get("/stats")
    async def stats() -> dict[str, int]:  # not in serve_rm: what the forward passes computed
        return dict(reward_model.work)

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


def start_naive_server(checkpoint: str, port: int, args: argparse.Namespace) -> subprocess.Popen:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--naive-server",
        "--model",
        checkpoint,
        "--port",
        str(port),
        "--max-length",
        str(args.max_length),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


# ---- the load ----------------------------------------------------------------------------------------------


@dataclass
class GroupItem(Item):
    tokens: int  # prompt + response tokens


def load_groups(checkpoint: str, data: Path, args: argparse.Namespace) -> tuple[list[list[GroupItem]], dict]:
    """--groups groups of --group-size items that fit --max-length, with their offline (unpacked) rewards."""
    from rewardkit.data.sources import load_entry
    from rewardkit.evaluation.evaluate import load_scorer

    scorer = load_scorer(checkpoint, max_length=args.max_length)
    renderer = scorer.encoder().renderer
    pairs = load_entry({"path": str(data), "limit": max(400, 8 * args.groups)})
    rng = random.Random(args.seed)
    pool = [r for p in pairs for r in (p.chosen, p.rejected)]
    order = list(range(len(pairs)))
    rng.shuffle(order)
    counts: Counter[str] = Counter()
    chosen: list[list[tuple[list[dict[str, str]], str, list[int], list[int]]]] = []
    for k in order:
        if len(chosen) == args.groups:
            break
        prompt = pairs[k].prompt
        candidates = [pairs[k].chosen, pairs[k].rejected] + [pool[rng.randrange(len(pool))] for _ in range(64)]
        group = []
        for response in candidates:
            prompt_ids, (response_ids,) = renderer.encode(prompt, [response])
            if len(prompt_ids) + len(response_ids) > args.max_length:
                counts["over_length"] += 1
                continue
            if renderer.tokenize(renderer.conversation_text(prompt, response)) != prompt_ids + response_ids:
                counts["tokenized_differently_as_one_string"] += 1
                continue
            group.append((prompt, response, prompt_ids, response_ids))
            if len(group) == args.group_size:
                chosen.append(group)
                break
    if len(chosen) < args.groups:
        raise SystemExit(f"only {len(chosen)} groups of {args.group_size} items of {data} fit {args.max_length} tokens")
    flat = [x for g in chosen for x in g]
    rewards = scorer.score([p for p, _, _, _ in flat], [r for _, r, _, _ in flat], batch_size=8, packing=False)[
        "rewards"
    ].tolist()
    expected = iter(rewards)
    groups = [
        [
            GroupItem(p, r, query=renderer.conversation_text(p, r), expected=next(expected), tokens=len(pi) + len(ri))
            for p, r, pi, ri in g
        ]
        for g in chosen
    ]
    lengths = {
        "prompt_tokens": sorted(len(g[0][2]) for g in chosen),
        "response_tokens_mean": sum(len(x[3]) for x in flat) / len(flat),
    }
    return groups, {"skipped_items": dict(counts), **lengths}


@dataclass
class Tally(ClientTally):
    item_tokens: int = 0
    max_error: float = 0.0

    def record(
        self, started: float, rewards: list[float] | None, items: list[GroupItem], tolerance: float, error: str = ""
    ) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.requests += 1
        if rewards is None or len(rewards) != len(items):
            self.lost += 1
            self.errors.append(error or f"{len(rewards or [])} rewards for {len(items)} items")
            return
        self.items += len(items)
        self.item_tokens += sum(i.tokens for i in items)
        errors = [abs(r - i.expected) for r, i in zip(rewards, items)]
        self.max_error = max(self.max_error, *errors)
        if max(errors) > tolerance:
            self.wrong += 1
            self.errors.append(f"rewards {rewards} != offline {[i.expected for i in items]}")

    def merge(self, other: Tally) -> None:
        self.latencies_ms += other.latencies_ms
        for name in ("requests", "items", "item_tokens", "lost", "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_error = max(self.max_error, other.max_error)
        self.errors += other.errors


def post_rewards(
    http: httpx.Client, path: str, body: dict, read: Callable[[dict], list[float]]
) -> tuple[list[float] | None, str]:
    try:
        response = http.post(path, json=body)
        if response.status_code != 200:
            return None, f"{path}: HTTP {response.status_code}: {response.text[:200]}"
        return read(response.json()), ""
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as e:
        return None, f"{path}: {type(e).__name__}: {e}"


def openrlhf_client(
    http: httpx.Client,
    groups: list[list[GroupItem]],
    deadline: float,
    rng: random.Random,
    tally: Tally,
    tolerance: float,
) -> None:
    """One request per group: {"query": [...]} to /get_reward, read "rewards"."""
    while time.monotonic() < deadline:
        group = rng.choice(groups)
        started = time.perf_counter()
        rewards, error = post_rewards(
            http, "/get_reward", {"query": [i.query for i in group]}, lambda out: out["rewards"]
        )
        tally.record(started, rewards, group, tolerance, error)


def verl_client(
    http: httpx.Client,
    groups: list[list[GroupItem]],
    deadline: float,
    rng: random.Random,
    tally: Tally,
    tolerance: float,
) -> None:
    """verl's reward loop: one /classify request per completion, a group's completions in flight together."""

    def one(item: GroupItem) -> tuple[float, list[float] | None, str]:
        started = time.perf_counter()
        rewards, error = post_rewards(
            http,
            "/classify",
            {"model": "rm", "input": item.query, "activation": False},
            lambda out: [out["data"][-1]["probs"][-1]],
        )
        return started, rewards, error

    with ThreadPoolExecutor(max_workers=len(groups[0])) as pool:
        while time.monotonic() < deadline:
            group = rng.choice(groups)
            for item, (started, rewards, error) in zip(group, pool.map(one, group)):
                tally.record(started, rewards, [item], tolerance, error)


def run_phase(
    client: Callable,
    url: str,
    token: str,
    groups: list[list[GroupItem]],
    seconds: float,
    args: argparse.Namespace,
    seed: int,
) -> tuple[Tally, float]:
    """--clients threads running `client` until the deadline; the phase lasts until the last request is answered."""
    tallies = [Tally() for _ in range(args.clients)]

    def loop(i: int) -> None:
        limits = httpx.Limits(max_connections=args.group_size)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=900, limits=limits
        ) as http:
            client(http, groups, deadline, random.Random(seed + i), tallies[i], args.tolerance)

    started = time.monotonic()
    deadline = started + seconds
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = Tally()
    for t in tallies:
        total.merge(t)
    return total, elapsed


# ---- the run ----------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    stats_path: str
    proc: subprocess.Popen
    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    work: Counter = field(default_factory=Counter)
    phases: list[dict] = field(default_factory=list)

    def stats(self, token: str) -> Counter:
        reply = httpx.get(f"{self.url}{self.stats_path}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        body = reply.json()
        return Counter({k: int(body.get("stats", body).get(k, 0)) for k in WORK_KEYS})

    def measure(
        self,
        client: Callable,
        token: str,
        groups: list[list[GroupItem]],
        seconds: float,
        args: argparse.Namespace,
        seed: int,
    ) -> None:
        before = self.stats(token)
        tally, elapsed = run_phase(client, self.url, token, groups, seconds, args, seed)
        work = self.stats(token) - before
        self.tally.merge(tally)
        self.seconds += elapsed
        self.work += work
        self.phases.append(
            {
                "seconds": round(elapsed, 1),
                "items": tally.items,
                "items_per_s": round(tally.items / elapsed, 3),
                "lost": tally.lost,
                "wrong": tally.wrong,
            }
        )
        print(
            f"  {self.name}: {tally.items} items in {elapsed:.0f} s = {tally.items / elapsed:.2f} items/s "
            f"(lost {tally.lost}, wrong {tally.wrong})",
            flush=True,
        )


def summarize(server: Server, shape: dict[str, int], peak: float) -> dict[str, Any]:
    t, s = server.tally, max(server.seconds, 1e-9)
    flops = (
        2.0 * shape["body_params"] * server.work["grid_tokens"]
        + 4.0 * shape["attn_width"] * shape["layers"] * server.work["attention_pairs"]
    )
    return {
        "seconds": round(s, 1),
        "requests": t.requests,
        "items": t.items,
        "items_per_s": t.items / s,
        "requests_per_s": t.requests / s,
        "p50_ms": percentile(t.latencies_ms, 50),
        "p99_ms": percentile(t.latencies_ms, 99),
        "item_tokens_per_s": t.item_tokens / s,
        "computed_tokens_per_s": server.work["grid_tokens"] / s,
        "work": dict(server.work),
        "items_per_forward": server.work["items"] / max(server.work["batches"], 1),
        "gflops_per_s": flops / s / 1e9,
        "percent_of_peak": 100 * flops / s / peak,
        "lost": t.lost,
        "wrong": t.wrong,
        "max_abs_error": t.max_error,
        "phases": server.phases,
        "errors": t.errors[:10],
    }


def print_table(rows: dict[str, dict[str, Any]], peak: float) -> None:
    print(f"\nfp32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    print(
        "| server | items/s | requests/s | p50 ms | p99 ms | item tok/s | computed tok/s | items/forward | GFLOP/s "
        "| % of peak | lost | wrong |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['items_per_s']:.2f} | {r['requests_per_s']:.3f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
            f"| {r['item_tokens_per_s']:.0f} | {r['computed_tokens_per_s']:.0f} | {r['items_per_forward']:.1f} "
            f"| {r['gflops_per_s']:.1f} "
            f"| {r['percent_of_peak']:.0f} | {r['lost']} | {r['wrong']} |"
        )
    for name, r in rows.items():
        for error in r["errors"][:3]:
            print(f"error ({name}):", error)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def main(args: argparse.Namespace) -> int:
    import torch
    from throughput import matmul_peak_flops, model_shape

    token = secrets.token_urlsafe(24)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="serve-compare-") as tmp:
        checkpoint = prepare_checkpoint(args.model, Path(tmp))
        shape = model_shape(checkpoint)
        started = time.monotonic()
        groups, lengths = load_groups(checkpoint, args.data, args)
        print(
            f"{len(groups)} groups of {args.group_size} (prompt tokens {lengths['prompt_tokens']}, mean response "
            f"{lengths['response_tokens_mean']:.0f} tokens); offline rewards in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        ports = free_port(), free_port()
        rk = Server(
            "rewardkit",
            f"http://127.0.0.1:{ports[0]}",
            "/info",
            start_server(checkpoint, ports[0], token, serve_options(args)),
        )
        naive = Server(
            "naive", f"http://127.0.0.1:{ports[1]}", "/stats", start_naive_server(checkpoint, ports[1], args)
        )
        verl = Server("rewardkit_verl", rk.url, "/info", rk.proc)
        try:
            for server in (rk, naive):
                wait_healthy(server.url, server.proc)
                post_rewards(
                    httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=900),
                    "/get_reward",
                    {"query": [i.query for i in groups[0]]},
                    lambda out: out["rewards"],
                )  # warm-up, not timed
            peak = matmul_peak_flops(torch.float32)
            load_start = os.getloadavg()[0]
            print(
                f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s; {args.rounds} rounds x {args.seconds:.0f} s per server, "
                f"{args.clients} clients",
                flush=True,
            )
            for r in range(args.rounds):
                rk.measure(openrlhf_client, token, groups, args.seconds, args, args.seed + 1000 * r)
                naive.measure(openrlhf_client, token, groups, args.seconds, args, args.seed + 1000 * r)
            if args.verl_seconds > 0:
                verl.measure(verl_client, token, groups, args.verl_seconds, args, args.seed + 7)
        finally:
            stop(rk.proc)
            stop(naive.proc)
    rows = {s.name: summarize(s, shape, peak) for s in (rk, naive) + ((verl,) if args.verl_seconds > 0 else ())}
    ratio = rows["rewardkit"]["items_per_s"] / max(rows["naive"]["items_per_s"], 1e-12)
    lost = sum(r["lost"] for r in rows.values())
    wrong = sum(r["wrong"] for r in rows.values())
    print_table(rows, peak)
    report = {
        "model": args.model,
        "quick": args.quick,
        "group_size": args.group_size,
        "groups": len(groups),
        "clients": args.clients,
        "rounds": args.rounds,
        "seconds_per_phase": args.seconds,
        "verl_seconds": args.verl_seconds,
        "max_length": args.max_length,
        "max_batch": args.max_batch,
        "wait_ms": args.wait_ms,
        "threads": args.threads or torch.get_num_threads(),
        "tolerance": args.tolerance,
        "data": "hh-rlhf/helpful-base/test.jsonl.gz",
        "lengths": lengths,
        "matmul_peak_flops": peak,
        "servers": rows,
        "ratio": ratio,
        "lost": lost,
        "wrong": wrong,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_start": round(load_start, 2),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    output = args.output or RESULTS / f"serve_compare{'_quick' if args.quick else ''}.json"
    write_json_atomic(output, report)
    print(f"wrote {output.relative_to(RESULTS.parents[1]) if output.is_relative_to(RESULTS.parents[1]) else output}")
    print(
        f"serve_compare items_per_s={rows['rewardkit']['items_per_s']:.3f} "
        f"naive_items_per_s={rows['naive']['items_per_s']:.3f} ratio={ratio:.2f} lost={lost} wrong={wrong}"
    )
    return 0 if lost == 0 and wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(run_naive_server(sys.argv[1:]))
