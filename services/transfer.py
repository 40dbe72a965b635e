"""``almanac import FILE.ics --calendar NAME`` and ``almanac export``.

For people moving a calendar in by hand. The whole file is checked first
(``validate_only``), so a rejected file writes nothing and every problem is
printed with its line; then it is imported in chunks of whole series with a
progress bar, each chunk one all-or-nothing ImportCalendar whose
``request_id`` is derived from the file, so running the command again after
an interruption repeats nothing (events are matched by UID anyway).
"""

from __future__ import annotations

import hashlib
import re
import sys
import uuid
from pathlib import Path

import grpc
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from connectors.ical.chunks import Chunk, split_document
from services.runtime.channels import sync_channel
from services.runtime.client import bearer_token
from services.runtime.config import Settings

__all__ = ["export_calendar", "import_file"]

CHUNK_COMPONENTS = 500
_LINE = re.compile(r"\bline (\d+)")


def _stub(settings: Settings) -> tuple[grpc.Channel, cal_grpc.CalendarServiceStub]:
    # Balanced over the calendar replicas; every import that writes carries a
    # request_id, and a validate_only one writes nothing, so all may be retried.
    channel = sync_channel(
        settings.addresses_of("calendar"),
        options=[("grpc.max_send_message_length", settings.max_receive_message_bytes)],
    )
    return channel, cal_grpc.CalendarServiceStub(channel)


def _metadata() -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {bearer_token()}"),)


def _in_document(text: str, chunk: Chunk) -> str:
    return _LINE.sub(lambda m: f"line {chunk.document_line(int(m.group(1)))}", text)


def _failure(exc: grpc.RpcError, chunk: Chunk) -> list[str]:
    status = rpc_status.from_call(exc)
    lines = [f"rejected ({exc.code().name}): {_in_document(exc.details() or '', chunk)}"]
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            lines += [f"  {v.field}: {_in_document(v.description, chunk)}"
                      for v in bad.field_violations]  # fmt: skip
    return lines


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    end = "\n" if done >= total or not sys.stderr.isatty() else ""
    print(f"\rimporting [{bar}] {done}/{total} components", end=end, file=sys.stderr, flush=True)


def import_file(path: str, calendar: str, settings: Settings) -> int:
    data = Path(path).read_bytes()
    chunks = split_document(data, CHUNK_COMPONENTS)
    total = sum(c.components for c in chunks)
    channel, stub = _stub(settings)
    with channel:
        for chunk in chunks:  # everything checked before anything is written
            try:
                checked = stub.ImportCalendar(_request(calendar, chunk, validate=True),
                                              metadata=_metadata(), timeout=120)  # fmt: skip
            except grpc.RpcError as exc:
                print("\n".join(_failure(exc, chunk)), file=sys.stderr)
                return 1
            for warning in checked.warnings:
                line = chunk.document_line(warning.line)
                print(f"warning: line {line}: {warning.message}" if line
                      else f"warning: {warning.message}", file=sys.stderr)  # fmt: skip
        digest = hashlib.sha256(data).hexdigest()
        done = created = updated = 0
        for index, chunk in enumerate(chunks):
            request = _request(calendar, chunk, validate=False)
            request.request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{calendar}#{digest}#{index}"))
            try:
                reply = stub.ImportCalendar(request, metadata=_metadata(), timeout=300)
            except grpc.RpcError as exc:
                print("", file=sys.stderr)
                print("\n".join(_failure(exc, chunk)), file=sys.stderr)
                print(f"{done} of {total} components were imported; run again to resume",
                      file=sys.stderr)  # fmt: skip
                return 1
            done += chunk.components
            created += reply.created_count
            updated += reply.updated_count
            _progress(done, total)
    print(f"imported {path} into {calendar}: {created} created, {updated} updated")
    return 0


def _request(calendar: str, chunk: Chunk, *, validate: bool) -> cal_pb.ImportCalendarRequest:
    return cal_pb.ImportCalendarRequest(
        parent=calendar,
        ics=httpbody_pb2.HttpBody(content_type="text/calendar", data=chunk.data),
        validate_only=validate,
    )


def export_calendar(calendar: str, output: str, settings: Settings) -> int:
    channel, stub = _stub(settings)
    with channel:
        try:
            reply = stub.ExportCalendar(
                cal_pb.ExportCalendarRequest(name=calendar), metadata=_metadata(), timeout=300
            )
        except grpc.RpcError as exc:
            print(f"export failed ({exc.code().name}): {exc.details()}", file=sys.stderr)
            return 1
    if output == "-":
        sys.stdout.buffer.write(reply.data)
    else:
        Path(output).write_bytes(reply.data)
        print(f"exported {calendar} to {output} ({len(reply.data):,} bytes)", file=sys.stderr)
    return 0
