"""The OpenAPI 3.1 document the gateway serves, and the docs assets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from google.protobuf import descriptor_pool

from gateway.options import DEFAULT_SERVICES
from tests.gateway.support import Stack


@pytest.fixture(scope="module")
def doc(stack: Stack) -> dict[str, Any]:
    reply = httpx.get(f"{stack.url}/openapi.json")  # no token needed
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    return body


def test_header_security_and_tags(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert doc["security"] == [{"bearerAuth": []}]
    tags = {t["name"]: t["description"] for t in doc["tags"]}
    assert tags["CalendarService"].startswith("Manages calendars, their schedules")


def test_every_binding_is_an_operation(doc: dict[str, Any], stack: Stack) -> None:
    ops = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    pool = descriptor_pool.Default()
    targeted = set(stack.addresses)  # the services this gateway was given
    served = {
        f"{service.name}_{method.name}"
        for name in targeted
        for service in [pool.FindServiceByName(name)]
        for method in service.methods
    }
    assert ops == served and "CalendarService_ExportCalendar" in ops
    for name in set(DEFAULT_SERVICES) - targeted:  # not reachable, so not documented
        assert not any(op.startswith(name.rsplit(".", 1)[1] + "_") for op in ops)


def test_paths_parameters_and_descriptions(doc: dict[str, Any]) -> None:
    get = doc["paths"]["/v1/accounts/{account}/calendars/{calendar}"]["get"]
    assert get["description"].startswith("Returns a calendar.")
    assert "`calendars:read`" in get["description"]
    names = [(p["name"], p["in"]) for p in get["parameters"]]
    assert names[:2] == [("account", "path"), ("calendar", "path")]
    assert ("includeSchedules", "query") in names
    assert get["responses"]["200"]["headers"]["ETag"]["schema"] == {"type": "string"}
    assert get["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"}  # fmt: skip
    events = doc["paths"]["/v1/accounts/{account}/calendars/{calendar}/events"]["get"]
    params = {p["name"]: p for p in events["parameters"]}
    assert params["startTime"]["schema"]["format"] == "date-time"
    assert params["month.year"]["schema"]["type"] == "integer"  # nested message fields


def test_field_behavior_and_enums(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    calendar = schemas["almanac.v1.Calendar"]
    assert "displayName" in calendar["required"]
    assert calendar["properties"]["createTime"]["readOnly"] is True
    assert calendar["properties"]["etag"]["description"].startswith("Checksum")
    kind = schemas["almanac.v1.ActivityType"]
    assert kind["enum"][:2] == ["ACTIVITY_TYPE_UNSPECIFIED", "ACTIVITY_TYPE_ADDED"]
    error = schemas["ErrorResponse"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message", "status"}


def test_body_kinds(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    create = paths["/v1/accounts/{account}/calendars"]["post"]["requestBody"]
    assert create["content"]["application/json"]["schema"]["$ref"].endswith("almanac.v1.Calendar")
    star = paths["/v1/availability:query"]["post"]
    assert star["parameters"] == []  # body "*": no query parameters
    imp = paths["/v1/accounts/{account}/calendars/{calendar}:import"]["post"]
    assert "*/*" in imp["requestBody"]["content"]
    stream = paths["/v1/accounts/{account}/activities:stream"]["get"]["responses"]["200"]
    assert set(stream["content"]) == {"application/x-ndjson", "text/event-stream"}


def test_docs_assets_are_served_locally(stack: Stack) -> None:
    page = httpx.get(f"{stack.url}/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.split("<body>")[1].replace("openapi.json", "")
    bundle = httpx.get(f"{stack.url}/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["content-encoding"] == "gzip"
    assert len(bundle.content) > 500_000
