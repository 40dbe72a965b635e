"""The FeatureService of ``protos/gwtest.proto`` as a real gRPC process.

``python tests/gateway/feature_server.py GEN_DIR`` serves on a free port and
prints ``READY feature <host:port>``. GEN_DIR holds the compiled bindings.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from collections import Counter
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2, empty_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


def _status(code: grpc.StatusCode) -> status_pb2.Status:
    details: list[Any] = [
        error_details_pb2.ErrorInfo(reason=f"TEST_{code.name}", domain="almanac.dev")
    ]
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        violation = error_details_pb2.BadRequest.FieldViolation(field="count", description="bad")
        details.append(error_details_pb2.BadRequest(field_violations=[violation]))
    if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        details.append(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=7)))
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    return status_pb2.Status(code=code.value[0], message=f"failed with {code.name}", details=packed)


def make_servicer(pb2: Any, pb2_grpc: Any) -> Any:
    class Features(pb2_grpc.FeatureServiceServicer):  # type: ignore[misc]
        def __init__(self) -> None:
            self.cancelled: Counter[str] = Counter()
            self.active: Counter[str] = Counter()

        async def Echo(self, request: Any, context: Any) -> Any:
            return request

        EchoBook = PatchBook = BookOnly = Echo

        async def Fail(self, request: Any, context: Any) -> Any:
            if request.delay_seconds:
                await asyncio.sleep(request.delay_seconds)
            code = {c.value[0]: c for c in grpc.StatusCode}.get(request.code, grpc.StatusCode.OK)
            if code is grpc.StatusCode.OK:
                return empty_pb2.Empty()
            await context.abort_with_status(rpc_status.to_status(_status(code)))

        async def Tick(self, request: Any, context: Any) -> Any:
            start = int(request.cursor or "0")
            key = request.key or "-"
            self.active[key] += 1
            try:
                n = start
                while request.count == 0 or n < start + request.count:
                    n += 1
                    if request.fail_after and n - start > request.fail_after:
                        await context.abort(grpc.StatusCode.INTERNAL, "tick failed")
                    yield pb2.TickResponse(cursor=str(n), number=n)
                    await asyncio.sleep(max(request.interval_ms, 1) / 1000)
            except asyncio.CancelledError:
                self.cancelled[key] += 1
                raise
            finally:
                self.active[key] -= 1

        async def Stats(self, request: Any, context: Any) -> Any:
            return pb2.StatsResponse(cancelled=dict(self.cancelled), active=dict(self.active))

        async def Meta(self, request: Any, context: Any) -> Any:
            seen = {}
            for key, value in context.invocation_metadata():
                text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
                seen[key] = text
            await context.send_initial_metadata((("x-answer", "42"),))
            context.set_trailing_metadata((("x-trailer", "done"),))
            return pb2.MetaResponse(metadata=seen)

    return Features()


async def main(gen_dir: str) -> None:
    sys.path.insert(0, gen_dir)
    import gwtest_pb2
    import gwtest_pb2_grpc

    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    gwtest_pb2_grpc.add_FeatureServiceServicer_to_server(
        make_servicer(gwtest_pb2, gwtest_pb2_grpc), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"READY feature 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
