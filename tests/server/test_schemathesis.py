"""The API against its own OpenAPI document: schemathesis reads the running server's /openapi.json and,
for every operation under /api, sends requests the schema allows and requests it does not (both
generation modes); every answer must pass schemathesis' default checks: no server error, a documented
status with a documented content type, a body that conforms to the response schema, invalid input
rejected. The examples per operation are bounded so the whole run stays well under a minute.

(schemathesis' lazy pytest loader, ``schemathesis.pytest.from_fixture``, does not run under pytest 9:
the schema is loaded from the running server in the test, and each operation's strategy is driven by
Hypothesis' ``@given`` here.)"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from support.server import ServedMarket

pytestmark = pytest.mark.anvil

#: Examples per operation and generation mode.
EXAMPLES = 50

#: The API's operations, as the OpenAPI document must list them (the relay's among them).
OPERATIONS = {
    ("GET", "/api/health"), ("GET", "/api/offers"), ("GET", "/api/offers/{offer_id}"),
    ("GET", "/api/trades/{trade_id}"), ("GET", "/api/addresses/{address}"), ("GET", "/api/stats"),
    ("GET", "/api/states"),
}


@pytest.fixture(scope="module")
def api_schema(served_market: ServedMarket) -> Any:
    return schemathesis.openapi.from_url(f"{served_market.url}/openapi.json").include(path_regex="^/api/")


def operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def takes_input(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def test_the_document_lists_the_api(api_schema: Any) -> None:
    assert OPERATIONS <= {(op.method.upper(), op.path) for op in operations(api_schema)}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_answer_conforms_to_the_openapi_document(api_schema: Any, served_market: ServedMarket,
                                                       mode: GenerationMode) -> None:
    for operation in operations(api_schema):
        # A schema-valid relay body is a random offer with a random signature: the relay refuses it
        # (400, documented) by its signature, which no schema can express. Every other check stands; the
        # relay's own tests post real signed offers.
        excluded = [positive_data_acceptance] if operation.path == "/api/relay" else []
        if mode is GenerationMode.NEGATIVE and not takes_input(operation):
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def conforms(case: Any) -> None:
            case.call_and_validate(base_url=served_market.url, excluded_checks=excluded)  # noqa: B023 - run now

        try:
            conforms()
        except Exception as exc:
            exc.add_note(f"operation: {operation.method.upper()} {operation.path} ({mode.value})")
            raise
