"""Schemathesis fuzzing of the served OpenAPI schema: schema-valid and schema-violating requests against a
real uvicorn server never get a 5xx, invalid ones are refused, every reply conforms to the schema (status,
content type, body); the number of examples is bounded so the run takes seconds."""

from __future__ import annotations

from typing import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
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


@pytest.fixture(scope="module")
def api_schema(api_url):
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


OPERATIONS = [("POST", "/score"), ("POST", "/get_reward"), ("GET", "/health"), ("GET", "/info")]
VALID, INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [(m, p, VALID) for m, p in OPERATIONS] + [(m, p, INVALID) for m, p in OPERATIONS if m == "POST"]


def test_every_operation_is_fuzzed(api_schema):
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_fuzzed_requests_never_fail_the_server(api_schema, method, path, mode):
    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        # every check but positive_data_acceptance: some schema-valid items are refused on purpose (422: a
        # conversation not ending with the assistant turn; 413: over max_items), rules a schema cannot express
        case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])

    check()
