"""Load test of `rewardkit serve`: the server in a subprocess on loopback, concurrent clients, every reward
checked against offline scoring of the same item.

  python benchmarks/serve_load.py --seconds 120                 # the default model (SmolLM2-135M), 8 clients
  python benchmarks/serve_load.py --seconds 10 --model tiny     # a tiny random model: a quick smoke run
  python benchmarks/serve_load.py --compare --quick             # RL-shaped load: rewardkit serve vs a plain
                                                                # transformers server (benchmarks/serve_compare.py)

The model gets a reward head at a seeded random init and is exported once to a temporary directory, so the
server and the offline scorer read the same weights (this measures serving, not reward quality); pass an
exported checkpoint directory to --model to serve that instead. Items are (prompt, chosen / rejected
response) from the HH-RLHF helpful-base test split that fit --max-length tokens (default 128: short
exchanges, so that a 2-core CPU keeps latencies in seconds). Each client sends requests of 1..--max-items
items, alternating POST /score ({prompt, response} items) and POST /get_reward (the same conversations
rendered with the chat template, as OpenRLHF sends them), over keep-alive connections with a bearer token. A
request is lost when it fails or is answered with an error or the wrong number of rewards;
wrong when a reward differs from offline scoring by more than --tolerance (absolute + relative).

Prints a table, writes benchmarks/results/serve_load.json, and ends with
  serve rps=<x> p50_ms=<x> p99_ms=<x> lost=<n> wrong=<n>
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rewardkit.files import write_json_atomic
from rewardkit.testing.commands import cli_args

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATA = (
    Path(os.environ.get("REWARDKIT_DATA", REPO.parent / "shared" / "data"))
    / "hh-rlhf"
    / "helpful-base"
    / "test.jsonl.gz"
)


@dataclass
class Item:
    prompt: list[dict[str, str]]
    response: str
    query: str  # the conversation rendered as one string (OpenRLHF)
    expected: float  # offline reward


@dataclass
class ClientTally:
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    items: int = 0
    lost: int = 0
    wrong: int = 0
    by_endpoint: dict[str, int] = field(default_factory=lambda: {"/score": 0, "/get_reward": 0})
    errors: list[str] = field(default_factory=list)


# ---- setup -----------------------------------------------------------------------------------------
def prepare_checkpoint(model: str, workdir: Path) -> str:
    """An exported reward model: `model` itself if it is one, else `model` with a seeded head, exported."""
    import torch

    from rewardkit.models.export import export_model
    from rewardkit.models.loading import build_reward_model, is_exported_reward_model, load_tokenizer
    from rewardkit.models.registry import resolve_model
    from rewardkit.models.reward_model import ModelConfig

    if model == "tiny":
        from rewardkit.testing.tiny import save_tiny_model

        model = str(save_tiny_model(workdir / "tiny-base", layers=2, hidden=64))
    elif is_exported_reward_model(resolve_model(model)):
        return model
    torch.manual_seed(0)
    rm = build_reward_model(ModelConfig(name=model, tuning="full"), keep_lm_head=False)
    return str(
        export_model(
            rm,
            load_tokenizer(model),
            workdir / "export",
            metadata={"objective": "bt", "base_model": model, "note": "seeded random head"},
        )
    )


def load_items(checkpoint: str, data: Path, pool: int, max_length: int, seed: int) -> list[Item]:
    """Up to `pool` items that fit `max_length`, with their offline rewards and rendered queries."""
    from rewardkit.data.sources import load_entry
    from rewardkit.evaluation.evaluate import load_scorer
    from rewardkit.testing.tools import openrlhf_queries

    scorer = load_scorer(checkpoint, max_length=max_length)
    renderer = scorer.encoder().renderer
    pairs = load_entry({"path": str(data), "limit": 4 * pool})
    candidates = [(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)]
    random.Random(seed).shuffle(candidates)
    fitting = [(p, r) for p, r in candidates if len(renderer.tokenize(renderer.conversation_text(p, r))) <= max_length][
        :pool
    ]
    if len(fitting) < 8:
        raise SystemExit(f"only {len(fitting)} items of {data} fit {max_length} tokens")
    rewards = scorer.score([p for p, _ in fitting], [r for _, r in fitting], batch_size=16)["rewards"].tolist()
    queries = openrlhf_queries(renderer, scorer.tokenizer.eos_token, fitting)
    return [Item(p, r, q, x) for (p, r), q, x in zip(fitting, queries, rewards)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    checkpoint: str, port: int, token: str, options: dict[str, Any], *, quiet: bool = False
) -> subprocess.Popen:
    """`rewardkit serve --model checkpoint --port port` in a subprocess, with `options` as its flags (underscores
    for dashes; None leaves a flag out) and `token` as its bearer token; `quiet` also drops its stderr."""
    command = [sys.executable, "-m", "rewardkit.cli.main", *cli_args("serve", model=checkpoint, port=port, **options)]
    env = dict(os.environ, REWARDKIT_SERVE_TOKEN=token)
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None)


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    """The server flags of this benchmark's command line (0 threads: the server's default)."""
    return {
        "max_length": args.max_length,
        "max_batch": args.max_batch,
        "wait_ms": args.wait_ms,
        "log_level": "warning",
        "threads": args.threads or None,
    }


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become healthy")


# ---- load ------------------------------------------------------------------------------------------
def close_enough(got: float, expected: float, tolerance: float) -> bool:
    return abs(got - expected) <= tolerance * (1 + abs(expected))


def client_loop(
    url: str, token: str, items: list[Item], deadline: float, args: argparse.Namespace, seed: int, tally: ClientTally
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        turn = seed % 2
        while time.monotonic() < deadline:
            chosen = rng.sample(items, rng.randint(1, args.max_items))
            path = "/score" if turn == 0 else "/get_reward"
            turn ^= 1
            body = (
                {"items": [{"prompt": i.prompt, "response": i.response} for i in chosen]}
                if path == "/score"
                else {"query": [i.query for i in chosen]}
            )
            started = time.perf_counter()
            try:
                response = http.post(path, json=body)
                rewards = response.json().get("rewards") if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError) as e:
                response, rewards = None, None
                tally.errors.append(f"{path}: {type(e).__name__}: {e}")
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.requests += 1
            tally.by_endpoint[path] += 1
            if rewards is None or len(rewards) != len(chosen):
                tally.lost += 1
                if response is not None:
                    tally.errors.append(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
                continue
            tally.items += len(chosen)
            if not all(close_enough(g, i.expected, args.tolerance) for g, i in zip(rewards, chosen)):
                tally.wrong += 1
                tally.errors.append(f"{path}: rewards {rewards} != offline {[i.expected for i in chosen]}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run_load(url: str, token: str, items: list[Item], args: argparse.Namespace) -> tuple[list[ClientTally], float]:
    tallies = [ClientTally() for _ in range(args.clients)]
    started = time.monotonic()
    deadline = started + args.seconds
    threads = [
        threading.Thread(target=client_loop, args=(url, token, items, deadline, args, args.seed + i, t))
        for i, t in enumerate(tallies)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tallies, time.monotonic() - started


# ---- report ----------------------------------------------------------------------------------------
def summarize(
    tallies: list[ClientTally], elapsed: float, stats: dict, args: argparse.Namespace, model: str, pool: int
) -> dict:
    latencies = [x for t in tallies for x in t.latencies_ms]
    requests = sum(t.requests for t in tallies)
    return {
        "model": model,
        "clients": args.clients,
        "seconds": round(elapsed, 2),
        "pool_items": pool,
        "max_items_per_request": args.max_items,
        "max_length": args.max_length,
        "max_batch": args.max_batch,
        "wait_ms": args.wait_ms,
        "server_threads": args.threads,
        "tolerance": args.tolerance,
        "requests": requests,
        "items": sum(t.items for t in tallies),
        "rps": requests / elapsed,
        "items_per_s": sum(t.items for t in tallies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "by_endpoint": {k: sum(t.by_endpoint[k] for t in tallies) for k in ("/score", "/get_reward")},
        "lost": sum(t.lost for t in tallies),
        "wrong": sum(t.wrong for t in tallies),
        "server_batches": stats.get("batches"),
        "server_items": stats.get("items"),
        "mean_batch_size": (stats.get("items", 0) / stats["batches"]) if stats.get("batches") else None,
        "errors": [e for t in tallies for e in t.errors][:20],
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }


def print_table(s: dict) -> None:
    rows = [
        ("model", s["model"]),
        ("clients", s["clients"]),
        ("seconds", s["seconds"]),
        (
            "requests (/score, /get_reward)",
            f"{s['requests']} ({s['by_endpoint']['/score']}, {s['by_endpoint']['/get_reward']})",
        ),
        ("items scored", s["items"]),
        ("requests/s", f"{s['rps']:.2f}"),
        ("items/s", f"{s['items_per_s']:.1f}"),
        (
            "latency p50 / p90 / p99 / max ms",
            f"{s['p50_ms']:.0f} / {s['p90_ms']:.0f} / {s['p99_ms']:.0f} / {s['max_ms']:.0f}",
        ),
        ("mean server batch size", f"{s['mean_batch_size']:.2f}" if s["mean_batch_size"] else "n/a"),
        ("lost", s["lost"]),
        ("wrong", s["wrong"]),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'metric'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    for error in s["errors"][:5]:
        print("error:", error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="RL-shaped load on rewardkit serve and on a plain transformers server (benchmarks/serve_compare.py)",
    )
    parser.add_argument("--quick", action="store_true", help="--compare: 2 rounds x 45 s, a 30 s verl phase")
    parser.add_argument("--seconds", type=float, default=None, help="load: 120; --compare: per server and round")
    parser.add_argument("--clients", type=int, default=None, help="default 8; --compare: 4")
    parser.add_argument("--model", default="smollm2-135m", help="alias / base model / export dir, or 'tiny'")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pool", type=int, default=64, help="distinct items clients draw from")
    parser.add_argument("--max-items", type=int, default=4, help="items per request: 1..N")
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="items longer than this are not drawn (default 128; --compare: 512)",
    )
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=None, help="the server's torch threads (default: torch's)")
    parser.add_argument("--tolerance", type=float, default=None, help="default 1e-4 (abs + rel); --compare: 1e-3 abs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="default benchmarks/results/serve_load.json, --compare: serve_compare[_quick].json",
    )
    parser.add_argument("--groups", type=int, default=None, help="--compare: prompt groups drawn (12; 24 full)")
    parser.add_argument("--group-size", type=int, default=8, help="--compare: completions per prompt")
    parser.add_argument("--rounds", type=int, default=None, help="--compare: alternating phases per server (2; 3)")
    parser.add_argument("--verl-seconds", type=float, default=None, help="--compare: verl-style phase (30; 90)")
    args = parser.parse_args(argv)
    if args.compare:
        from serve_compare import main as compare

        quick = args.quick
        for name, value in (
            ("seconds", 45 if quick else 120),
            ("clients", 4),
            ("max_length", 512),
            ("tolerance", 1e-3),
            ("groups", 12 if quick else 24),
            ("rounds", 2 if quick else 3),
            ("verl_seconds", 30 if quick else 90),
        ):
            if getattr(args, name) is None:
                setattr(args, name, value)
        return compare(args)
    for name, value in (
        ("seconds", 120),
        ("clients", 8),
        ("max_length", 128),
        ("tolerance", 1e-4),
        ("output", RESULTS / "serve_load.json"),
    ):
        if getattr(args, name) is None:
            setattr(args, name, value)

    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        checkpoint = prepare_checkpoint(args.model, Path(tmp))
        items = load_items(checkpoint, args.data, args.pool, args.max_length, args.seed)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(checkpoint, port, token, serve_options(args))
        try:
            wait_healthy(url, proc)
            print(
                f"server ready on {url}; {args.clients} clients for {args.seconds:.0f} s over {len(items)} items",
                flush=True,
            )
            tallies, elapsed = run_load(url, token, items, args)
            stats = httpx.get(f"{url}/info", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["stats"]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    summary = summarize(tallies, elapsed, stats, args, args.model, len(items))
    print_table(summary)
    write_json_atomic(args.output, summary)
    print(f"wrote {args.output}")
    print(
        f"serve rps={summary['rps']:.2f} p50_ms={summary['p50_ms']:.0f} p99_ms={summary['p99_ms']:.0f} "
        f"lost={summary['lost']} wrong={summary['wrong']}"
    )
    return 0 if summary["lost"] == 0 and summary["wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
