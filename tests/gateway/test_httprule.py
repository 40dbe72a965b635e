"""HttpRule semantics over real HTTP, against the echoing FeatureService.

The service returns the request it received, so each test sees exactly what
the gateway made of the HTTP request.
"""

from __future__ import annotations

import httpx
import pytest


def echo(reply: httpx.Response) -> dict[str, object]:
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_wildcard_variables_and_percent_decoding(feat: httpx.Client) -> None:
    got = echo(feat.get("/v1/shelves/s1/books/a%2Fb%20c"))
    # A multi-segment variable decodes everything but "%2F" (http.proto).
    assert got["name"] == "shelves/s1/books/a%2Fb c"
    assert feat.get("/v1/shelves/s1/books/b1/extra").status_code == 404


def test_double_star_binds_the_rest_of_the_path(feat: httpx.Client) -> None:
    got = echo(feat.get("/v1/files/a/b/c.txt"))
    assert got["path"] == "a/b/c.txt"
    # Multi-segment: "%2F" stays encoded so the structure is kept (http.proto).
    assert echo(feat.get("/v1/files/a%2Fb/c"))["path"] == "a%2Fb/c"


def test_non_string_path_variable(feat: httpx.Client) -> None:
    assert echo(feat.get("/v1/numbers/42"))["count"] == 42
    bad = feat.get("/v1/numbers/forty")
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][1]["fieldViolations"][0]["field"] == "count"


def test_custom_verb_and_additional_binding_with_body_star(feat: httpx.Client) -> None:
    reply = feat.post("/v1/shelves/s1/books/b1:echo", json={"count": 3, "name": "ignored"})
    got = echo(reply)
    # Path variables overwrite body values; with body "*" the query is not read.
    assert got["name"] == "shelves/s1/books/b1" and got["count"] == 3
    reply = feat.post("/v1/shelves/s1/books/b1:echo", params={"flag": "true"}, json={})
    assert echo(reply)["flag"] is False


def test_verb_path_is_not_taken_for_a_resource_id(feat: httpx.Client) -> None:
    # GET on ".../b1:echo" must not be Echo with name "b1:echo": POST is the method.
    reply = feat.get("/v1/shelves/s1/books/b1:echo")
    assert reply.status_code == 405 and reply.headers["allow"] == "POST"


def test_body_field_nested_path_variable_and_query(feat: httpx.Client) -> None:
    reply = feat.post(
        "/v1/shelves/s1/books", params={"count": "7", "book.title": "query loses"},
        json={"title": "Dune", "pages": 412, "kind": "KIND_FICTION"},
    )  # fmt: skip
    got = echo(reply)
    assert got["parent"] == "shelves/s1" and got["count"] == 7
    # The body field is bound, so book.* query keys are skipped (grpc-gateway's filter).
    assert got["book"] == {**got["book"], "title": "Dune", "pages": 412, "kind": "KIND_FICTION"}  # type: ignore[dict-item]


def test_response_body_selects_one_field(feat: httpx.Client) -> None:
    reply = feat.get("/v1/shelves/s1/books/b1:book", params={"book.title": "T", "count": 5})
    got = echo(reply)
    assert got["title"] == "T" and "count" not in got and "name" in got


def test_query_parameters_of_every_kind(feat: httpx.Client) -> None:
    params = [
        ("big", "9007199254740993"), ("flag", "true"), ("ratio", "0.25"),
        ("kind", "KIND_POETRY"), ("tags", "a"), ("tags", "b"), ("kinds", "KIND_FICTION"),
        ("kinds", "2"), ("nums", "1"), ("nums", "-2"), ("at", "2026-03-01T10:00:00.5+01:00"),
        ("wait", "PT1H30M"), ("updateMask", "book.title,count"), ("filter.q", "x"),
        ("filter.start", "2026-01-01T00:00:00Z"), ("filter.note.reading", "90s"),
        ("labels[team]", "blue"), ("blob", "aGk"), ("limit", "5"), ("left", "L"),
        ("unknownParam", "ignored"),
    ]  # fmt: skip
    got = echo(feat.get("/v1/shelves/s/books/b", params=params))
    assert got["big"] == "9007199254740993" and got["flag"] is True and got["ratio"] == 0.25
    assert got["kind"] == "KIND_POETRY" and got["tags"] == ["a", "b"]
    assert got["kinds"] == ["KIND_FICTION", "KIND_POETRY"] and got["nums"] == [1, -2]
    assert got["at"] == "2026-03-01T09:00:00.500Z" and got["wait"] == "5400s"
    assert got["updateMask"] == "book.title,count"
    assert got["filter"] == {"q": "x", "start": "2026-01-01T00:00:00Z", "note": {
        "text": "", "reading": "90s"}}  # fmt: skip
    assert got["labels"] == {"team": "blue"} and got["blob"] == "aGk="
    assert got["limit"] == 5 and got["left"] == "L"


def test_query_accepts_proto_names_too(feat: httpx.Client) -> None:
    got = echo(feat.get("/v1/shelves/s/books/b", params={"update_mask": "display_name"}))
    assert got["updateMask"] == "displayName"


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"count": "x"}, "count"),
        ({"count": "3000000000"}, "count"),
        ({"kind": "KIND_NOPE"}, "kind"),
        ({"at": "yesterday"}, "at"),
        ({"wait": "P1M"}, "wait"),  # months have no fixed length
        ({"flag": "maybe"}, "flag"),
        ([("count", "1"), ("count", "2")], "count"),
        ([("left", "a"), ("right", "b")], "right"),
        ({"book": "x"}, None),  # bound by nothing here, but a message: needs "."
    ],
)
def test_bad_query_values_are_400_naming_the_key(
    feat: httpx.Client, params: object, key: str | None
) -> None:
    reply = feat.get("/v1/shelves/s/books/b", params=params)  # type: ignore[arg-type]
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    fields = [v["field"] for v in error["details"][1]["fieldViolations"]]
    assert fields == [key or "book"]


def test_json_both_spellings_in_camel_case_out(feat: httpx.Client) -> None:
    reply = feat.post("/v1/shelves/s1/books/b1:echo", json={
        "update_mask": "a", "filter": {"note": {"reading": "PT2M"}}, "ratio": 1})  # fmt: skip
    got = echo(reply)
    assert got["updateMask"] == "a" and got["filter"]["note"]["reading"] == "120s"  # type: ignore[index]
    # Every field is printed (EmitUnpopulated), in lowerCamelCase.
    assert got["flag"] is False and got["tags"] == [] and "update_mask" not in got


def test_unknown_json_fields_are_400_naming_every_one(feat: httpx.Client) -> None:
    reply = feat.post("/v1/shelves/s1/books", json={
        "title": "x", "colour": "red", "note": {"txt": "y"}})  # fmt: skip
    assert reply.status_code == 400
    error = reply.json()["error"]
    fields = sorted(v["field"] for v in error["details"][1]["fieldViolations"])
    assert fields == ["book.colour", "book.note.txt"]
    assert "book.colour" in error["message"]


@pytest.mark.parametrize("body", [b"{", b"[1]", b'{"pages": "many"}'])
def test_malformed_json_is_400(feat: httpx.Client, body: bytes) -> None:
    reply = feat.post("/v1/shelves/s1/books", content=body,
                      headers={"content-type": "application/json"})  # fmt: skip
    assert reply.status_code == 400
    assert reply.json()["error"]["details"][0]["reason"] == "INVALID_JSON"


def test_patch_derives_the_mask_from_the_json_keys(feat: httpx.Client) -> None:
    reply = feat.patch("/v1/shelves/s1/books/b1", json={
        "title": "New", "note": {"text": "n"}, "published": "2026-01-01T00:00:00Z"})  # fmt: skip
    got = echo(reply)
    assert got["updateMask"] == "title,note,published"
    assert got["book"]["name"] == "shelves/s1/books/b1"  # type: ignore[index]
    # An explicit mask (query) wins over the derived one.
    got = echo(feat.patch("/v1/shelves/s1/books/b1", params={"updateMask": "pages"},
                          json={"title": "x"}))  # fmt: skip
    assert got["updateMask"] == "pages"


def test_if_match_fills_the_etag_and_etag_comes_back(feat: httpx.Client) -> None:
    reply = feat.patch("/v1/shelves/s1/books/b1", json={"title": "t"},
                       headers={"if-match": '"v7"'})  # fmt: skip
    # The request's own etag first (Delete*), else the body resource's (Update*).
    assert echo(reply)["etag"] == '"v7"'  # type: ignore[index]
    # The response's own etag (Echo returns the request) is the ETag header.
    reply = feat.get("/v1/shelves/s1/books/b1", headers={"if-match": '"v8"'})
    assert echo(reply)["etag"] == '"v8"' and reply.headers["etag"] == '"v8"'


def test_non_json_content_type_is_415(feat: httpx.Client) -> None:
    reply = feat.post("/v1/shelves/s1/books", content=b"<book/>",
                      headers={"content-type": "application/xml"})  # fmt: skip
    assert reply.status_code == 415


def test_gzip_when_accepted(feat: httpx.Client) -> None:
    params = [("tags", "x" * 50)] * 10
    plain = feat.get(
        "/v1/shelves/s/books/b", params=params, headers={"accept-encoding": "identity"}
    )
    zipped = feat.get("/v1/shelves/s/books/b", params=params, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json()  # httpx decodes it
    assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"])
