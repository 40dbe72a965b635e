"""Error mapping: every gRPC code through the one table, the JSON shape, the exceptions."""

from __future__ import annotations

import grpc
import httpx
import pytest

from gateway.errors import HTTP_STATUS
from tests.gateway.support import Stack

EXPECTED = {
    "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500,
}  # fmt: skip


def test_the_table_is_google_rpc_code_proto() -> None:
    assert {c.name: s for c, s in HTTP_STATUS.items() if c.name != "OK"} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_code_over_http(feat: httpx.Client, name: str) -> None:
    code = grpc.StatusCode[name]
    reply = feat.get(f"/v1/fail/{code.value[0]}")
    assert reply.status_code == EXPECTED[name], reply.text
    error = reply.json()["error"]
    assert error["code"] == EXPECTED[name] and error["status"] == name
    assert error["message"] == f"failed with {name}"
    info = error["details"][0]
    assert info == {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": f"TEST_{name}", "domain": "almanac.dev"}  # fmt: skip
    types = [d["@type"].rsplit(".", 1)[1] for d in error["details"]]
    if name == "INVALID_ARGUMENT":
        assert types == ["ErrorInfo", "BadRequest"]
        assert error["details"][1]["fieldViolations"] == [{"field": "count", "description": "bad"}]
    if name in ("RESOURCE_EXHAUSTED", "UNAVAILABLE"):
        assert types == ["ErrorInfo", "RetryInfo"] and error["details"][1]["retryDelay"] == "7s"
        assert reply.headers["retry-after"] == "7"
    if name == "UNAUTHENTICATED":
        assert reply.headers["www-authenticate"].startswith("Bearer")


def test_grpc_timeout_header_is_the_deadline(feat: httpx.Client) -> None:
    reply = feat.get("/v1/fail/0", params={"delaySeconds": 2}, headers={"grpc-timeout": "200m"})
    assert reply.status_code == 504
    assert reply.json()["error"]["status"] == "DEADLINE_EXCEEDED"
    assert feat.get("/v1/fail/0", params={"delaySeconds": 0.1}).status_code == 200


def test_bad_grpc_timeout_is_400(feat: httpx.Client) -> None:
    reply = feat.get("/v1/fail/0", headers={"grpc-timeout": "soon"})
    assert reply.status_code == 400
    assert reply.json()["error"]["details"][1]["fieldViolations"][0]["field"] == "Grpc-Timeout"


def test_unknown_path_is_404_in_the_same_shape(admin: httpx.Client) -> None:
    reply = admin.get("/v1/nothing/here")
    assert reply.status_code == 404
    assert reply.json()["error"]["status"] == "NOT_FOUND"
    assert reply.json()["error"]["details"][0]["reason"] == "ROUTE_NOT_FOUND"


def test_wrong_method_is_405_with_allow(account: str, admin: httpx.Client) -> None:
    reply = admin.put(f"/v1/{account}/calendars/primary", json={})
    assert reply.status_code == 405
    assert reply.headers["allow"] == "DELETE, GET, PATCH"
    assert reply.json()["error"]["details"][0]["reason"] == "METHOD_NOT_ALLOWED"


def test_service_errors_keep_their_details(stack: Stack, account: str) -> None:
    with stack.client(None) as anonymous:
        reply = anonymous.get(f"/v1/{account}/calendars/primary")
    assert reply.status_code == 401 and reply.headers["www-authenticate"].startswith("Bearer")
    reader = stack.token(account, "calendars:read")
    with stack.client(reader) as http:
        reply = http.delete(f"/v1/{account}/calendars/primary")
        assert reply.status_code == 403
        assert reply.json()["error"]["details"][0]["domain"] == "almanac.dev"
        bad = http.get(f"/v1/{account}/calendars", params={"pageSize": -1})
        assert bad.status_code == 400
        violations = bad.json()["error"]["details"][1]["fieldViolations"]
        assert [v["field"] for v in violations] == ["page_size"]


def test_already_exists_is_409(account: str, admin: httpx.Client) -> None:
    create = {"params": {"calendarId": "dup"}, "json": {"displayName": "D"}}
    assert admin.post(f"/v1/{account}/calendars", **create).status_code == 200  # type: ignore[arg-type]
    again = admin.post(f"/v1/{account}/calendars", **create)  # type: ignore[arg-type]
    assert again.status_code == 409 and again.json()["error"]["status"] == "ALREADY_EXISTS"


def test_etag_mismatch_is_412_by_if_match_and_409_by_body(
    account: str, admin: httpx.Client
) -> None:
    name = f"{account}/calendars/primary"
    current = admin.get(f"/v1/{name}")
    etag = current.headers["etag"]
    assert etag == current.json()["etag"] and etag.startswith('"')
    stale = admin.patch(f"/v1/{name}", json={"description": "a"}, headers={"if-match": '"x"'})
    assert stale.status_code == 412 and stale.json()["error"]["status"] == "ABORTED"
    by_body = admin.patch(f"/v1/{name}", json={"description": "a", "etag": '"x"'})
    assert by_body.status_code == 409 and by_body.json()["error"]["status"] == "ABORTED"
    fresh = admin.patch(f"/v1/{name}", json={"description": "b"}, headers={"if-match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    # If-Match on a delete fills the request's own etag.
    created = admin.post(f"/v1/{account}/calendars", json={"displayName": "Gone"}).json()
    gone = admin.delete(f"/v1/{created['name']}", headers={"if-match": '"old"'})
    assert gone.status_code == 412
    assert (
        admin.delete(f"/v1/{created['name']}", headers={"if-match": created["etag"]}).status_code
        == 200
    )


def test_cancelled_by_the_service_is_499(feat: httpx.Client) -> None:
    reply = feat.get(f"/v1/fail/{grpc.StatusCode.CANCELLED.value[0]}")
    assert reply.status_code == 499


def test_body_too_large_is_413(feat: httpx.Client) -> None:
    reply = feat.post("/v1/shelves/s1/books", content=b" " * (21 * 1024 * 1024),
                      headers={"content-type": "application/json"})  # fmt: skip
    assert reply.status_code == 413
