"""Path templates and request building, against google-api-core's ``path_template``.

google-api-core is the independent oracle: Google's own client-side
implementation of the same HttpRule grammar (``expand``, ``validate``,
``transcode``). The gateway's matching must be its inverse.
"""

from __future__ import annotations

from typing import Any

import pytest
from almanac.v1 import (
    account_service_pb2,
    activity_service_pb2,
    availability_service_pb2,
    calendar_service_pb2,
    contact_service_pb2,
    event_service_pb2,
    resource_service_pb2,
)
from google.api_core import path_template
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.metadata import Incoming
from gateway.routes import Binding, Router, bindings_of
from gateway.templates import TemplateError, parse_template
from gateway.transcode import build_request

MODULES = (
    account_service_pb2, activity_service_pb2, availability_service_pb2, calendar_service_pb2,
    contact_service_pb2, event_service_pb2, resource_service_pb2,
)  # fmt: skip
ROUTER = Router(
    bindings_of(
        m for mod in MODULES for s in mod.DESCRIPTOR.services_by_name.values() for m in s.methods
    )
)
LITERAL = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=5)
# Ids: anything but "/" (a segment) and ":" (a verb; resource ids never hold one).
SEGMENT = st.text(
    st.characters(blacklist_characters="/:", blacklist_categories=("Cs",)), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))


@st.composite
def templates(draw: st.DrawFn, named_only: bool = False) -> str:
    """Random templates; ``named_only``: no bare ``*``/``**`` (transcode needs names)."""
    parts: list[str] = []
    kinds = ["lit", "var", "subvar"] if named_only else ["lit", "star", "var", "subvar"]
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(kinds))
        if kind == "lit":
            parts.append(draw(LITERAL))
        elif kind == "star":
            parts.append("*")
        elif kind == "var":
            parts.append(f"{{f{i}}}")
        else:
            sub = "/".join(
                draw(st.lists(st.sampled_from([draw(LITERAL), "*"]), min_size=1, max_size=3))
            )
            parts.append(f"{{f{i}={sub}}}")
    if draw(st.booleans()):
        parts.append("{rest=**}" if named_only else draw(st.sampled_from(["**", "{rest=**}"])))
    verb = ":" + draw(LITERAL) if draw(st.booleans()) else ""
    return "/" + "/".join(parts) + verb


@given(templates(), st.lists(st.sampled_from(["a", "b", "x", "%2F", "a:b", ""]), max_size=6))
@settings(max_examples=400, deadline=None)
def test_matching_agrees_with_validate(template: str, segments: list[str]) -> None:
    compiled = parse_template(template)
    verb = ":" + compiled.verb if compiled.verb else ""
    path = "/" + "/".join(segments) + verb
    assert (compiled.match(path) is not None) == path_template.validate(template, path)


@given(templates(named_only=True), st.data())
@settings(max_examples=300, deadline=None)
def test_match_inverts_expand(template: str, data: st.DataObject) -> None:
    compiled = parse_template(template)
    values: dict[str, str] = {}
    for var in compiled.variables:
        pieces = []
        for seg in var.segments:
            if seg == "*":
                pieces.append(data.draw(SEGMENT))
            elif seg == "**":
                pieces.append("/".join(data.draw(st.lists(SEGMENT, min_size=1, max_size=3))))
            else:
                pieces.append(seg)
        values[var.field_path] = "/".join(pieces)
    uri = path_template.transcode([{"method": "get", "uri": template}], **values)["uri"]
    found = compiled.match(uri)
    assert found is not None, uri
    assert found.variables == values, uri


def _path_values(binding: Binding, data: st.DataObject) -> dict[str, str]:
    values = {}
    for var in binding.template.variables:
        values[var.field_path] = "/".join(
            data.draw(SEGMENT) if s == "*" else s for s in var.segments
        )
    return values


def _nested(values: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in values.items():
        target = out
        *heads, last = path.split(".")
        for head in heads:
            target = target.setdefault(head, {})
        target[last] = value
    return out


@given(st.sampled_from(ROUTER.bindings), st.data())
@settings(max_examples=300, deadline=None)
def test_contract_bindings_invert_transcode(binding: Binding, data: st.DataObject) -> None:
    values = _path_values(binding, data)
    request = _nested(values)
    option = {"method": binding.http_method.lower(), "uri": binding.template.source}
    if binding.body:
        option["body"] = binding.body
        if binding.body != "*" and binding.body not in request:
            request[binding.body] = {}
    transcoded = path_template.transcode([option], **request)
    found, match = ROUTER.find(transcoded["method"].upper(), transcoded["uri"])
    assert found.method.grpc_path == binding.method.grpc_path
    assert match.variables == values
    message = build_request(found, match.variables, b"{}" if found.body else b"", b"",
                            b"application/json", Incoming()).message  # fmt: skip
    for path, value in values.items():
        target: Any = message
        for part in path.split("."):
            target = getattr(target, part)
        assert target == value


@pytest.mark.parametrize(
    "bad",
    [
        "v1/x",
        "/v1/{a=**}/b",
        "/v1/**/x",
        "/v1/{a}/{a}",
        "/v1/{a",
        "/v1/{a={b}}",
        "/v1/x:",
        "/v1//x",
    ],
)
def test_bad_templates_are_refused(bad: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(bad)


def test_single_segment_values_decode_fully() -> None:
    found = parse_template("/v1/things/{id}").match("/v1/things/a%2Fb%20c")
    assert found is not None and found.variables == {"id": "a/b c"}
    assert parse_template("/v1/things/{id}").expand({"id": "a/b c"}) == "/v1/things/a%2Fb%20c"


def test_every_contract_method_has_a_route() -> None:
    methods = {m.full_name for mod in MODULES for s in mod.DESCRIPTOR.services_by_name.values()
               for m in s.methods}  # fmt: skip
    routed = {b.method.descriptor.full_name for b in ROUTER.bindings}
    assert routed == methods
