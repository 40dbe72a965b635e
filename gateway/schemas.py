"""JSON Schema (OpenAPI 3.1 dialect) of protobuf messages, as the gateway prints them.

The schemas describe protobuf's JSON mapping with the gateway's settings:
lowerCamelCase names, 64-bit integers as strings (accepted as numbers too),
enums by name, well-known types in their JSON form. ``field_behavior``
becomes ``required`` (REQUIRED) and ``readOnly`` (OUTPUT_ONLY). A field is
listed in ``required`` only when the gateway always prints it (a scalar,
repeated or map field without presence), so a response can never break
the schema by leaving out an unset message.
"""

from __future__ import annotations

from typing import Any

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from gateway.comments import Comments

__all__ = ["SchemaBuilder", "ref"]

FD = FieldDescriptor
Schema = dict[str, Any]

_SCALARS: dict[int, Schema] = {
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    FD.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    # protobuf's JSON prints 64-bit integers as strings and reads either form.
    FD.TYPE_INT64: {"type": ["string", "integer"], "format": "int64"},
    FD.TYPE_SINT64: {"type": ["string", "integer"], "format": "int64"},
    FD.TYPE_SFIXED64: {"type": ["string", "integer"], "format": "int64"},
    FD.TYPE_UINT64: {"type": ["string", "integer"], "format": "uint64"},
    FD.TYPE_FIXED64: {"type": ["string", "integer"], "format": "uint64"},
}

_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "description": 'Seconds with an "s" suffix ("3600s"), or ISO 8601 ("PT1H").',
        "examples": ["3600s"],
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated field paths, e.g. `displayName,timeZone`.",
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"], "format": "byte"},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
    "google.protobuf.Int32Value": {"type": ["integer", "null"], "format": "int32"},
    "google.protobuf.UInt32Value": {"type": ["integer", "null"], "minimum": 0},
    "google.protobuf.Int64Value": {"type": ["string", "integer", "null"], "format": "int64"},
    "google.protobuf.UInt64Value": {"type": ["string", "integer", "null"], "format": "uint64"},
}


def ref(full_name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{full_name}"}


def behaviors(fd: FieldDescriptor) -> set[int]:
    options = fd.GetOptions()
    return set(options.Extensions[field_behavior_pb2.field_behavior])


def is_output_only(fd: FieldDescriptor) -> bool:
    return field_behavior_pb2.OUTPUT_ONLY in behaviors(fd)


def is_required(fd: FieldDescriptor) -> bool:
    return field_behavior_pb2.REQUIRED in behaviors(fd)


class SchemaBuilder:
    """Collects component schemas of the messages and enums it is asked about."""

    def __init__(self, comments: Comments) -> None:
        self.comments = comments
        self.components: dict[str, Schema] = {}

    def message(self, descriptor: Descriptor) -> Schema:
        """A schema (a $ref, or the inline form of a well-known type) for a message."""
        known = _WELL_KNOWN.get(descriptor.full_name)
        if known is not None:
            return dict(known)
        if descriptor.full_name not in self.components:
            self.components[descriptor.full_name] = {}  # placeholder: recursion ends here
            self.components[descriptor.full_name] = self.object_schema(descriptor)
        return ref(descriptor.full_name)

    def object_schema(self, descriptor: Descriptor, skip: frozenset[str] = frozenset()) -> Schema:
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for fd in descriptor.fields:
            if fd.name in skip:
                continue
            properties[fd.json_name] = self.field(fd)
            if is_required(fd) and _always_printed(fd):
                required.append(fd.json_name)
        out: Schema = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        text = self.comments.get(descriptor.full_name)
        if text:
            out["description"] = text
        oneofs = [o for o in descriptor.oneofs if len(o.fields) > 1 or not _synthetic(o)]
        if oneofs:
            names = "; ".join(
                f"{o.name}: one of " + ", ".join(f"`{f.json_name}`" for f in o.fields)
                for o in oneofs
            )
            out["description"] = (
                f"{out.get('description', '')}\n\nAt most one of each group: {names}."
            )
        return out

    def field(self, fd: FieldDescriptor) -> Schema:
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            schema: Schema = {
                "type": "object",
                "additionalProperties": self._single(mt.fields_by_name["value"]),
            }
        elif fd.is_repeated:
            schema = {"type": "array", "items": self._single(fd)}
        else:
            schema = self._single(fd)
        text = self.comments.get(fd.full_name)
        if "$ref" in schema:
            # 3.1 allows siblings of $ref; keep descriptions on the property.
            schema = dict(schema)
        if text:
            schema["description"] = text
        if is_output_only(fd):
            schema["readOnly"] = True
        return schema

    def _single(self, fd: FieldDescriptor) -> Schema:
        if fd.message_type is not None:
            return self.message(fd.message_type)
        if fd.enum_type is not None:
            return self.enum(fd.enum_type)
        return dict(_SCALARS.get(fd.type, {"type": "string"}))

    def enum(self, descriptor: EnumDescriptor) -> Schema:
        if descriptor.full_name not in self.components:
            values = [v.name for v in descriptor.values]
            lines = [f"- `{v.name}`: {self.comments.get(_enum_value_name(descriptor, v.name), '')}"
                     for v in descriptor.values]  # fmt: skip
            text = self.comments.get(descriptor.full_name, "")
            self.components[descriptor.full_name] = {
                "type": "string",
                "enum": values,
                "description": (text + "\n\n" + "\n".join(lines)).strip(),
            }
        return ref(descriptor.full_name)


def _enum_value_name(descriptor: EnumDescriptor, value: str) -> str:
    # The comment scanner keys values under their enum (not protobuf's scoping).
    return f"{descriptor.full_name}.{value}"


def _synthetic(oneof: Any) -> bool:
    return bool(getattr(oneof, "is_synthetic", False))


def _always_printed(fd: FieldDescriptor) -> bool:
    """Whether the gateway prints this field even when unset (EmitUnpopulated)."""
    if fd.is_repeated:
        return True
    return not fd.has_presence
