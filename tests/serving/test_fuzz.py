"""Schemathesis fuzzing of the served OpenAPI schema: schema-valid and schema-violating requests against a
real uvicorn server never get a 5xx, invalid ones are refused, every reply conforms to the schema (status,
content type, body); the number of examples is bounded so the run takes seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.specs.openapi.checks import positive_data_acceptance

from rewardkit.serving.config import LimitsConfig, ServerConfig
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import AUTH, live_server

MAX_EXAMPLES = 30  # per operation and mode: keeps the run to seconds on a tiny model


@pytest.fixture(scope="module")
def api_url(scorer) -> Iterator[str]:
    config = ServerConfig(log_level="warning", limits=LimitsConfig(max_items=16, max_body_bytes=64 * 1024))
    with live_server(ModelBatchScorer(scorer, over_length="truncate"), config) as live:
        yield live.url


# Schema-violating requests may also be refused for their size before they are validated: 413 (over max_items,
# counted first so that a huge body costs little) is a refusal too.
REFUSALS = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]


@pytest.fixture(scope="module")
def api_schema(api_url):
    config = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}})
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json", config=config)


OPERATIONS = [
    ("POST", "/score"),
    ("POST", "/get_reward"),
    ("POST", "/classify"),
    ("POST", "/v1/embeddings"),
    ("GET", "/health"),
    ("GET", "/info"),
]
VALID, INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [(m, p, VALID) for m, p in OPERATIONS] + [(m, p, INVALID) for m, p in OPERATIONS if m == "POST"]


def test_every_operation_is_fuzzed(api_schema):
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_fuzzed_requests_never_fail_the_server(api_schema, method, path, mode):
    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        # every check but positive_data_acceptance: some schema-valid items are refused on purpose (422: a
        # conversation not ending with the assistant turn; 413: over max_items), rules a schema cannot express
        case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])

    check()


@pytest.mark.slow
def test_fuzz_serve_quick_is_clean(tmp_path):
    """benchmarks/fuzz_serve.py --quick against a live `rewardkit serve` subprocess: every case gets its answer."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_serve.py"
    run = subprocess.run(
        [sys.executable, str(script), "--quick", "--output", str(tmp_path / "fuzz.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = run.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"fuzz cases=(\d+) clean=(\d+) lost=(\d+) wrong=(\d+) max_rss_mb=(\d+)", line)
    assert found, run.stdout[-2000:] + run.stderr[-2000:]
    cases, clean, lost, wrong, _ = map(int, found.groups())
    assert run.returncode == 0 and clean == cases > 200 and lost == wrong == 0, run.stdout[-3000:]
