"""The isolation matrix: every served RPC x (another account's token, a read-only
token, no token), with requests aimed at account A built from the descriptors.

`valid_request` fills every field that references a resource
(``google.api.resource_reference``, and the ``name`` of a resource message)
with account A's resource of that type, so each RPC is asked about A's data.
`expected` says what each cell must answer; `check` returns the cells that
did not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from almanac.v1 import options_pb2
from google.api import resource_pb2
from google.protobuf.descriptor import Descriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.fuzz.cluster import BAD_CODES, FuzzCluster, Tenant

__all__ = ["CALLERS", "Cell", "check", "fill", "matrix", "valid_request"]

# The parent resource type of each child type (child_type references).
_PARENT_OF = {
    "almanac.dev/Calendar": "almanac.dev/Account",
    "almanac.dev/Contact": "almanac.dev/Account",
    "almanac.dev/Resource": "almanac.dev/Account",
    "almanac.dev/Activity": "almanac.dev/Account",
    "almanac.dev/Event": "almanac.dev/Calendar",
    "almanac.dev/Schedule": "almanac.dev/Calendar",
}
CALLERS = ("other_account", "read_only", "no_token")
Code = grpc.StatusCode


def _reference(field: object, tenant: Tenant) -> str | None:
    options = field.GetOptions()  # type: ignore[attr-defined]
    if not options.HasExtension(resource_pb2.resource_reference):
        return None
    ref = options.Extensions[resource_pb2.resource_reference]
    if ref.type:
        return tenant.names.get(ref.type)
    parent = _PARENT_OF.get(ref.child_type)
    return tenant.names.get(parent) if parent else None


def fill(message: Message, tenant: Tenant, depth: int = 0) -> bool:
    """Point every reference in ``message`` at ``tenant``; whether any was set."""
    desc: Descriptor = message.DESCRIPTOR
    resource = desc.GetOptions().Extensions[resource_pb2.resource]
    filled = False
    if resource.type and "name" in desc.fields_by_name and resource.type in tenant.names:
        message.name = tenant.names[resource.type]  # type: ignore[attr-defined]
        filled = True
    for field in desc.fields:
        if field.type == field.TYPE_STRING:
            name = _reference(field, tenant)
            if name is None:
                continue
            if field.is_repeated:
                getattr(message, field.name).append(name)
            else:
                setattr(message, field.name, name)
            filled = True
        elif (
            field.message_type is not None
            and depth < 3
            and not field.message_type.GetOptions().map_entry
        ):
            child = (
                getattr(message, field.name).add()
                if field.is_repeated
                else getattr(message, field.name)
            )
            if fill(child, tenant, depth + 1):
                filled = True
            elif field.is_repeated:
                del getattr(message, field.name)[-1]
    return filled


def valid_request(method: MethodDescriptor, tenant: Tenant) -> Message:
    request = GetMessageClass(method.input_type)()
    fill(request, tenant)
    return request


def _scope(method: MethodDescriptor) -> str:
    return str(method.GetOptions().Extensions[options_pb2.method_auth].scope)


def _public(method: MethodDescriptor) -> bool:
    return bool(method.GetOptions().Extensions[options_pb2.method_auth].public)


@dataclass(frozen=True)
class Cell:
    method: str
    caller: str
    code: str
    problem: str


def _problem(method: MethodDescriptor, caller: str, aimed: bool, code: Code, leaked: bool) -> str:
    if code in BAD_CODES:
        return "internal error"
    if leaked:
        return "the reply names account A"
    if caller == "no_token":
        if _public(method):  # its credential is in the request (a feed's secret)
            return "" if code is not Code.OK else "a public method answered a made-up request"
        return "" if code is Code.UNAUTHENTICATED else "expected UNAUTHENTICATED"
    if caller == "other_account":
        # A request with other problems may be refused for those first.
        if aimed and code not in (Code.PERMISSION_DENIED, Code.INVALID_ARGUMENT):
            return "expected PERMISSION_DENIED for account A's resources"
        return ""
    writes = not _scope(method).endswith(":read") and _scope(method) != ""
    if writes and code is not Code.PERMISSION_DENIED:
        return f"expected PERMISSION_DENIED (needs {_scope(method)!r})"
    if not writes and code in (Code.PERMISSION_DENIED, Code.UNAUTHENTICATED):
        return "a read-only token must be allowed to read"
    return ""


def matrix(cluster: FuzzCluster, methods: list[MethodDescriptor]) -> Iterator[Cell]:
    """Every cell of the matrix with what it answered and, if wrong, why."""
    tokens = {
        "other_account": cluster.b.full_token,
        "read_only": cluster.a.read_token,
        "no_token": None,
    }
    secret_of_a = cluster.a.account.split("/", 1)[1].encode()
    for method in methods:
        request = GetMessageClass(method.input_type)()
        aimed = fill(request, cluster.a)
        for caller in CALLERS:
            outcome = cluster.call(method, request.SerializeToString(), tokens[caller])
            leaked = caller != "read_only" and secret_of_a in outcome.reply
            yield Cell(
                f"{method.containing_service.name}.{method.name}",
                caller,
                outcome.code.name,
                _problem(method, caller, aimed, outcome.code, leaked),
            )


def check(cluster: FuzzCluster, methods: list[MethodDescriptor]) -> tuple[int, list[Cell]]:
    """The number of cells and the wrong ones."""
    cells = list(matrix(cluster, methods))
    return len(cells), [c for c in cells if c.problem]
