"""The OpenAPI 3.1 document, generated from the same bindings the router serves.

Paths are expanded the way protoc-gen-openapiv2's
``expand_slashed_path_patterns`` does: ``/v1/{name=accounts/*/calendars/*}``
becomes ``/v1/accounts/{account}/calendars/{calendar}``, because an OpenAPI
path parameter cannot hold a ``/`` and clients would encode it. Operation ids
are ``Service_Method`` (``_1``, ``_2`` for additional bindings), every
operation has the error response as ``default``, and bearer auth is global.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, ServiceDescriptor

from gateway.comments import Comments
from gateway.routes import HTTP_BODY, Binding
from gateway.schemas import Schema, SchemaBuilder, ref
from gateway.templates import Variable

__all__ = ["build_openapi"]

_ERROR = "ErrorResponse"
_MAX_QUERY_DEPTH = 3
_VAR = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")


def _singular(collection: str) -> str:
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    if collection.endswith("s"):
        return collection[:-1]
    return collection + "Id"


def expand_path(binding: Binding) -> tuple[str, dict[str, str]]:
    """The OpenAPI path and, per path parameter, the field path it fills."""
    params: dict[str, str] = {}

    def one(var: Variable) -> str:
        out: list[str] = []
        previous = ""
        for segment in var.segments:
            if segment in ("*", "**"):
                name = _singular(previous) if previous else var.field_path.replace(".", "_")
                while name in params:
                    name += "_"
                params[name] = var.field_path
                out.append("{" + name + "}")
            else:
                out.append(segment)
            previous = segment
        return "/".join(out)

    variables = {v.field_path: v for v in binding.template.variables}
    path = _VAR.sub(lambda m: one(variables[m.group(1)]), binding.template.source)
    return path, params


def _error_schema() -> Schema:
    return {
        "type": "object",
        "description": "A google.rpc.Status in the AIP-193 form.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status."},
                    "message": {"type": "string"},
                    "status": {"type": "string", "description": "The gRPC code's name."},
                    "details": {"type": "array", "items": ref("google.protobuf.Any")},
                },
            }
        },
    }


def _query_params(
    schemas: SchemaBuilder, message: Descriptor, skip: frozenset[str], prefix: str = "",
    proto_prefix: str = "", depth: int = 0,
) -> Iterable[Schema]:  # fmt: skip
    for fd in message.fields:
        proto_path = proto_prefix + fd.name
        if proto_path in skip:
            continue
        name = prefix + fd.json_name
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            continue  # maps take name[key]=value, which OpenAPI cannot describe
        walk = mt is not None and not fd.is_repeated and "$ref" in schemas.message(mt)
        if walk:
            if depth < _MAX_QUERY_DEPTH:
                assert mt is not None
                yield from _query_params(schemas, mt, skip, name + ".", proto_path + ".", depth + 1)
            continue
        schema = schemas.field(fd)
        schema.pop("readOnly", None)
        param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
        if "description" in schema:
            param["description"] = schema.pop("description")
        if fd.is_repeated:
            param["style"], param["explode"] = "form", True
        yield param


def _body(schemas: SchemaBuilder, binding: Binding) -> Schema | None:
    request = binding.method.descriptor.input_type
    if binding.body == "*":
        path_fields = frozenset(v.field_path.split(".")[0] for v in binding.template.variables)
        schema = schemas.object_schema(request, skip=path_fields)
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    fd = binding.body_field
    if fd is None:
        return None
    if fd.message_type is not None and fd.message_type.full_name == HTTP_BODY:
        raw = {"schema": {"type": "string"}}
        return {"required": True, "content": {"*/*": raw}}
    return {"required": True, "content": {"application/json": {"schema": schemas.field(fd)}}}


def _response(schemas: SchemaBuilder, binding: Binding) -> Schema:
    out_desc = binding.method.descriptor.output_type
    if binding.response_body:
        fd = out_desc.fields_by_name[binding.response_body]
        if fd.message_type is not None and fd.message_type.full_name == HTTP_BODY:
            return {
                "description": "The raw body.",
                "content": {"*/*": {"schema": {"type": "string"}}},
            }
        schema = schemas.field(fd)
    elif out_desc.full_name == HTTP_BODY:
        return {"description": "The raw body.", "content": {"*/*": {"schema": {"type": "string"}}}}
    else:
        schema = schemas.message(out_desc)
    if binding.method.server_streaming:
        line = {
            "type": "object",
            "properties": {"result": schema, "error": _error_schema()["properties"]["error"]},
        }
        return {
            "description": "A stream: one JSON object per line, or Server-Sent Events "
            "(`Accept: text/event-stream`) whose `id` is the cursor.",
            "content": {
                "application/x-ndjson": {"schema": line},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
    headers = {}
    if "$ref" in schema and "etag" in out_desc.fields_by_name:
        headers["ETag"] = {"schema": {"type": "string"}, "description": "The resource's etag."}
    out: Schema = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _operation(schemas: SchemaBuilder, binding: Binding, op_id: str, scope: str | None) -> Schema:
    method = binding.method
    _, params = expand_path(binding)
    skip = frozenset(binding.bound_paths) | frozenset(params.values())
    parameters: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in params
    ]
    if binding.body != "*":
        parameters += list(_query_params(schemas, method.descriptor.input_type, skip))
    description = schemas.comments.get(method.descriptor.full_name, "")
    if scope:
        description += f"\n\nRequires a token with the scope `{scope}`."
    elif scope is None:
        description += "\n\nNeeds no token."
    op: Schema = {
        "operationId": op_id,
        "tags": [method.descriptor.containing_service.name],
        "summary": description.split("\n", 1)[0].split(". ")[0].rstrip("."),
        "description": description.strip(),
        "parameters": parameters,
        "responses": {
            "200": _response(schemas, binding),
            "default": {
                "description": "An error.",
                "content": {"application/json": {"schema": ref(_ERROR)}},
            },
        },
    }
    if scope is None:
        op["security"] = []  # overrides the document's bearer requirement
    body = _body(schemas, binding)
    if body is not None:
        op["requestBody"] = body
    return op


def build_openapi(
    bindings: Iterable[Binding],
    services: Iterable[ServiceDescriptor],
    comments: Comments,
    title: str,
    version: str,
    scope_of: Any,
) -> dict[str, Any]:
    """The document; ``scope_of(method_descriptor)`` names the scope a method needs."""
    schemas = SchemaBuilder(comments)
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for binding in bindings:
        name = f"{binding.method.descriptor.containing_service.name}_{binding.method.name}"
        count = seen.get(name, 0)
        seen[name] = count + 1
        op_id = name if count == 0 else f"{name}_{count}"
        path, _ = expand_path(binding)
        verb = binding.http_method.lower()
        item = paths.setdefault(path, {})
        if verb in item:
            continue  # two bindings with the same OpenAPI path: the router's order wins
        item[verb] = _operation(schemas, binding, op_id, scope_of(binding.method.descriptor))
    components = dict(sorted(schemas.components.items()))
    components[_ERROR] = _error_schema()
    components["google.protobuf.Any"] = {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "tags": [{"name": s.name, "description": comments.get(s.full_name, "")} for s in services],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }
