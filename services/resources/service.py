"""ResourceService: validate, call the account's ResourceStore, convert."""

from __future__ import annotations

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import resource_service_pb2 as rs_pb
from almanac.v1 import resource_service_pb2_grpc as rs_grpc
from google.protobuf import empty_pb2
from google.protobuf.field_mask_pb2 import FieldMask

from connectors.base import ResourceFilter, WriteContext
from connectors.store.rows import new_id
from services.resources.checks import REQUIRED, check_features, check_resource
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import CHILD_ID_RE, parse_account, parse_account_child
from services.runtime.validation import check_id, check_length, check_request_id, masked_update

__all__ = ["ResourceService"]

_OUTPUT = ("create_time", "update_time")
_MUTABLE = tuple(
    f.name for f in rs_pb.Resource.DESCRIPTOR.fields if f.name not in (*_OUTPUT, "name", "etag")
)
_NEED = acc_pb.CAPABILITY_RESOURCES


def _shown(resource: rs_pb.Resource, include_raw: bool) -> rs_pb.Resource:
    if not include_raw:
        resource.ClearField("raw")
    return resource


def _calendar_of(resource: rs_pb.Resource, account_id: str) -> None:
    """``accounts/me/...`` is stored under the real account id."""
    if resource.calendar.startswith("accounts/me/"):
        resource.calendar = f"accounts/{account_id}/" + resource.calendar[len("accounts/me/") :]


def _required(mask: FieldMask) -> frozenset[str]:
    """An update that names display_name or email (or `*`) must not empty them."""
    return REQUIRED if "*" in mask.paths else REQUIRED & set(mask.paths)


class ResourceService(rs_grpc.ResourceServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def ListResources(
        self, request: rs_pb.ListResourcesRequest, context: Context
    ) -> rs_pb.ListResourcesResponse:
        _, account_id = self.rt.account(parse_account(request.parent, "parent").account, "parent")
        bad = BadRequestBuilder()
        check_length(bad, "query", request.query, 256)
        check_length(bad, "building", request.building, 256)
        check_features(bad, list(request.features), "features")
        if request.category not in rs_pb.Resource.Category.values():
            bad.add("category", f"unknown value {request.category}")
        if request.min_capacity < 0:
            bad.add("min_capacity", "must not be negative")
        bad.raise_if_any()
        page_request, digest = self.rt.pages.start(request)
        query = ResourceFilter(
            category=request.category,
            min_capacity=request.min_capacity,
            building=request.building,
            features=tuple(request.features),
            text=request.query,
        )
        connector = await self.rt.connector(account_id, _NEED)
        page = await connector.list_resources(account_id, query, page_request)
        return rs_pb.ListResourcesResponse(
            resources=[_shown(r, request.include_raw) for r in page.items],
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=page.total_size or 0,
        )

    async def GetResource(
        self, request: rs_pb.GetResourceRequest, context: Context
    ) -> rs_pb.Resource:
        account, resource_id = parse_account_child(request.name, "resources")
        _, account_id = self.rt.account(account)
        connector = await self.rt.connector(account_id, _NEED)
        resource = await connector.get_resource(account_id, resource_id)
        return _shown(resource, request.include_raw)

    async def CreateResource(
        self, request: rs_pb.CreateResourceRequest, context: Context
    ) -> rs_pb.Resource:
        _, account_id = self.rt.account(parse_account(request.parent, "parent").account, "parent")
        bad = BadRequestBuilder()
        if not request.HasField("resource"):
            bad.add("resource", "is required")
        check_resource(bad, request.resource, "resource", account_id)
        check_id(bad, "resource_id", request.resource_id, CHILD_ID_RE)
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, _NEED)
        resource = rs_pb.Resource()
        resource.CopyFrom(request.resource)
        for field in (*_OUTPUT, "etag"):
            resource.ClearField(field)  # type: ignore[arg-type]
        if resource.category == rs_pb.Resource.CATEGORY_UNSPECIFIED:
            resource.category = rs_pb.Resource.CATEGORY_OTHER
        _calendar_of(resource, account_id)
        resource_id = request.resource_id or new_id()

        async def create(ctx: WriteContext) -> rs_pb.Resource:
            return await connector.create_resource(account_id, resource, resource_id, ctx)

        created = await self.rt.idempotent(request, "CreateResource", rs_pb.Resource, create)
        return _shown(created, include_raw=True)

    async def UpdateResource(
        self, request: rs_pb.UpdateResourceRequest, context: Context
    ) -> rs_pb.Resource:
        account, resource_id = parse_account_child(
            request.resource.name, "resources", "resource.name"
        )
        p, account_id = self.rt.account(account, "resource.name")
        bad = BadRequestBuilder()
        patch = rs_pb.Resource()
        patch.CopyFrom(request.resource)
        _calendar_of(patch, account_id)
        check_resource(bad, patch, "resource", account_id, _required(request.update_mask))
        masked = masked_update(
            bad, patch, request.update_mask, mutable=_MUTABLE, output_only=_OUTPUT,
            keep_if_empty=("calendar", "category"),
        )  # fmt: skip
        bad.raise_if_any()
        connector = await self.rt.connector(account_id, _NEED)
        updated = await connector.update_resource(
            account_id, resource_id, masked, request.resource.etag, WriteContext(p.token_id)
        )
        return _shown(updated, include_raw=False)

    async def DeleteResource(
        self, request: rs_pb.DeleteResourceRequest, context: Context
    ) -> empty_pb2.Empty:
        account, resource_id = parse_account_child(request.name, "resources")
        p, account_id = self.rt.account(account)
        connector = await self.rt.connector(account_id, _NEED)
        await connector.delete_resource(
            account_id, resource_id, request.etag, WriteContext(p.token_id)
        )
        return empty_pb2.Empty()
