"""The OpenAPI description of the JSON API (issue 17): it names exactly the routes the gateway's
resource tree serves (read from http_api, both ways), and schemathesis, from the description a
running gateway serves at /api/openapi.json, sends it generated requests of every operation:
no 500s, and every answer's status, content type and body as described."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
import schemathesis
from acdgate.gateway.app import Gateway
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from acdgate.gateway.web.http_api import Root, api_routes
from acdgate.gateway.web.openapi import DESCRIPTION, described_routes
from acdgate.lab.gateway_process import GatewayProcess
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from twisted.internet import reactor


@pytest_twisted.ensureDeferred
async def test_every_route_served_is_described_and_every_described_route_is_served(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    gateway = Gateway(reactor, load_site(None), store)
    try:
        gateway.listen("127.0.0.1", 0, 0)  # the HTTP site exactly as `acdgate run` builds it
        assert gateway.http_site is not None
        root = gateway.http_site.resource
        assert isinstance(root, Root)
        served = api_routes(root)
    finally:
        await gateway.stop()
    assert ("POST", "/api/agents/{agent}/{action}") in served and ("GET", "/api/health") in served
    assert sorted(served) == described_routes(), "describe new routes in gateway/web/openapi.py"


def test_the_description_is_openapi_3_1_with_every_reference_defined() -> None:
    loaded = schemathesis.openapi.from_dict(DESCRIPTION)  # schemathesis checks the document's shape
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == len(described_routes())
    text = str(DESCRIPTION)
    for name in DESCRIPTION["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in text or name == "Error", f"{name} is never used"


@pytest.fixture(scope="module")
def served_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway on the demo site for every generated case (`acdgate run`)."""
    gw = GatewayProcess(tmp_path_factory.mktemp("openapi") / "state").start()
    yield gw
    gw.stop()


def test_the_running_gateway_answers_as_described(served_gateway: GatewayProcess) -> None:
    # schemathesis's own pytest loader (`schemathesis.pytest.from_fixture`) needs pytest < 9; its
    # strategies drive hypothesis here the same way, one operation at a time
    described = schemathesis.openapi.from_url(served_gateway.http + "/api/openapi.json")
    operations = [result.ok() for result in described.get_all_operations()]
    # schemathesis leaves out the operation it loaded the description from
    assert sorted(o.label for o in operations) == [f"{m} {p}" for m, p in described_routes()
                                                   if p != "/api/openapi.json"]
    for operation in operations:
        if operation.path == "/api/events":
            continue  # an endless Server-Sent Events stream: tests/gateway/test_wallboard_api.py reads it

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def answers_as_described(case: schemathesis.Case) -> None:
            if case.path.startswith("/api/reports/") and case.query:
                # a generated `from` such as "0" asks for every interval since 1970: bounded to
                # the default span (today), the interval and any other parameter still generated
                case.query = {k: v for k, v in case.query.items() if k not in ("from", "to")}
            case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                           content_type_conformance, response_schema_conformance])

        answers_as_described()
