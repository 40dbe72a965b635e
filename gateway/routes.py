"""Routes from the ``google.api.http`` annotations, and the router that picks one.

Every method of every served service contributes one `Binding` per rule
(the rule itself plus its ``additional_bindings``), checked against the
request message at start-up so that a bad annotation fails loudly there,
not on the first request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import grpc
from google.api import annotations_pb2, http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from gateway.errors import GatewayError, gateway_error
from gateway.templates import Match, PathTemplate, TemplateError, parse_template

__all__ = ["Binding", "MethodInfo", "RouteError", "Router", "bindings_of"]

_log = logging.getLogger("almanac.gateway")

HTTP_BODY = "google.api.HttpBody"
FIELD_MASK = "google.protobuf.FieldMask"
_KINDS = ("get", "put", "post", "delete", "patch")


class RouteError(ValueError):
    """An HttpRule that cannot be served as written."""


@dataclass(frozen=True)
class MethodInfo:
    """One RPC as the gateway calls it."""

    descriptor: MethodDescriptor

    @property
    def service(self) -> str:
        return str(self.descriptor.containing_service.full_name)

    @property
    def name(self) -> str:
        return str(self.descriptor.name)

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def server_streaming(self) -> bool:
        return bool(self.descriptor.server_streaming)

    @cached_property
    def input_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.descriptor.input_type)

    @cached_property
    def output_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.descriptor.output_type)


@dataclass(frozen=True)
class Binding:
    """One HTTP method + path template leading to one RPC."""

    http_method: str  # upper case: GET, POST, ...
    template: PathTemplate
    body: str  # "", "*" or a top-level field name
    response_body: str
    method: MethodInfo

    @cached_property
    def body_field(self) -> FieldDescriptor | None:
        if self.body in ("", "*"):
            return None
        return self.method.descriptor.input_type.fields_by_name[self.body]

    @cached_property
    def bound_paths(self) -> frozenset[str]:
        """Fields set by the path or the body: not read from the query."""
        paths = {v.field_path for v in self.template.variables}
        if self.body_field is not None:
            paths.add(self.body)
        return frozenset(paths)

    @cached_property
    def mask_field(self) -> str | None:
        """The FieldMask a PATCH fills from the JSON keys (grpc-gateway's rule)."""
        if self.http_method != "PATCH" or self.body_field is None:
            return None
        fields = self.method.descriptor.input_type.fields
        masks = [f for f in fields if f.message_type and f.message_type.full_name == FIELD_MASK]
        return str(masks[0].name) if len(masks) == 1 else None


def _field_at(descriptor: Descriptor, path: str) -> FieldDescriptor:
    fd: FieldDescriptor | None = None
    current: Descriptor | None = descriptor
    for part in path.split("."):
        if current is None or part not in current.fields_by_name:
            raise RouteError(f"{descriptor.full_name} has no field {path!r}")
        fd = current.fields_by_name[part]
        if fd.is_repeated:
            raise RouteError(f"{path!r} is repeated; only singular fields can be bound")
        current = fd.message_type
    assert fd is not None
    return fd


def _binding(rule: http_pb2.HttpRule, method: MethodInfo) -> Binding:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        raise RouteError(f"{method.grpc_path}: an HttpRule without a pattern")
    if kind == "custom":
        verb, path = rule.custom.kind.upper(), rule.custom.path
    else:
        verb, path = kind.upper(), getattr(rule, kind)
    try:
        template = parse_template(path)
    except TemplateError as exc:
        raise RouteError(f"{method.grpc_path}: {exc}") from None
    request = method.descriptor.input_type
    for var in template.variables:
        fd = _field_at(request, var.field_path)
        if fd.message_type is not None:
            raise RouteError(f"{method.grpc_path}: {var.field_path!r} is a message")
    if rule.body not in ("", "*"):
        body_fd = request.fields_by_name.get(rule.body)
        if body_fd is None or body_fd.is_repeated:
            raise RouteError(f"{method.grpc_path}: body {rule.body!r} is not a singular field")
    if (
        rule.response_body
        and rule.response_body not in method.descriptor.output_type.fields_by_name
    ):
        raise RouteError(f"{method.grpc_path}: no response field {rule.response_body!r}")
    return Binding(verb, template, rule.body, rule.response_body, method)


def bindings_of(methods: Iterable[MethodDescriptor]) -> list[Binding]:
    """Every binding of these methods; client-streaming methods are left out."""
    out: list[Binding] = []
    for md in methods:
        options = md.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        if md.client_streaming:
            _log.warning("%s is client-streaming: not served over HTTP", md.full_name)
            continue
        info = MethodInfo(md)
        rule = options.Extensions[annotations_pb2.http]
        out.append(_binding(rule, info))
        # additional_bindings nest one level only (http.proto): deeper ones are ignored.
        out.extend(_binding(extra, info) for extra in rule.additional_bindings)
    return out


def _order(binding: Binding) -> tuple[int, int, int]:
    t = binding.template
    # Verbs first, so ".../c:export" is the export, not a calendar named "c:export";
    # then the more literal segments, then fewer "**".
    return (0 if t.verb else 1, -t.literal_count, t.source.count("**"))


class Router:
    """Finds the binding of a request: 404 for an unknown path, 405 for a wrong method."""

    def __init__(self, bindings: Iterable[Binding]) -> None:
        self.bindings = sorted(bindings, key=_order)
        self._by_method: dict[str, list[Binding]] = {}
        for b in self.bindings:
            self._by_method.setdefault(b.http_method, []).append(b)
        self._verbs = [b for b in self.bindings if b.template.verb]

    def _candidates(self, raw_path: str, pool: list[Binding]) -> list[Binding]:
        # When the path ends in a custom verb some binding knows, only bindings
        # with a verb compete (a verb is not part of a resource id).
        last = raw_path.rsplit("/", 1)[-1]
        if ":" in last and any(b.template.match(raw_path) for b in self._verbs):
            return [b for b in pool if b.template.verb]
        return pool

    def find(self, method: str, raw_path: str) -> tuple[Binding, Match]:
        for binding in self._candidates(raw_path, self._by_method.get(method, [])):
            found = binding.template.match(raw_path)
            if found is not None:
                return binding, found
        allowed = self.allowed(raw_path)
        if allowed:
            err = gateway_error(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{method} is not allowed on {raw_path}; allowed: {', '.join(allowed)}",
                "METHOD_NOT_ALLOWED",
                status_override=405,  # grpc-gateway answers 501; HTTP says 405 + Allow
            )
            err.headers.append((b"allow", ", ".join(allowed).encode()))
            raise err
        raise _not_found(raw_path)

    def allowed(self, raw_path: str) -> list[str]:
        """The methods some binding accepts on this path, sorted."""
        pool = self._candidates(raw_path, self.bindings)
        return sorted({b.http_method for b in pool if b.template.match(raw_path)})


def _not_found(raw_path: str) -> GatewayError:
    return gateway_error(grpc.StatusCode.NOT_FOUND, f"no route for {raw_path}", "ROUTE_NOT_FOUND")
