"""ResourceService end to end: fields, its calendar, filters, paging, etags, scopes."""

from __future__ import annotations

import grpc
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import resource_service_pb2 as rs_pb
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store
from tests.services.contacts.support import (
    Directory,
    directory_fixture,
    directory_processes_fixture,
)

__all__ = ["directory_fixture", "directory_processes_fixture"]

Code = grpc.StatusCode
ROOM = rs_pb.Resource.CATEGORY_ROOM
OTHER = rs_pb.Resource.CATEGORY_OTHER


def _room(name: str = "Everest", **fields: object) -> rs_pb.Resource:
    values: dict[str, object] = {
        "display_name": name,
        "email": f"{name.lower().replace(' ', '-')}@rooms.example",
        "category": ROOM,
        "capacity": 8,
        "building": "HQ",
        "floor": "3",
        "location": "HQ, third floor, east",
        "features": ["projector", "whiteboard"],
    }
    values.update(fields)
    return rs_pb.Resource(**values)  # type: ignore[arg-type]


def _create(directory: Directory, account: TestAccount, resource: rs_pb.Resource) -> rs_pb.Resource:
    return directory.resources().CreateResource(
        rs_pb.CreateResourceRequest(parent=account.name, resource=resource)
    )


@on_each_store
def test_fields_round_trip_and_the_resource_owns_a_calendar(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    raw = struct_pb2.Struct()
    raw.update({"resourceId": "r1"})
    policy = rs_pb.BookingPolicy(
        max_duration=duration_pb2.Duration(seconds=7200),
        max_advance=duration_pb2.Duration(seconds=90 * 86400),
        allowed_bookers=["boss@example.com", "@example.org"],
    )
    room = _room(description="Big room", raw=raw, booking_policy=policy)
    writer = directory.resources(account.token("resources:write"))
    created = writer.CreateResource(
        rs_pb.CreateResourceRequest(parent=account.name, resource=room, resource_id="everest")
    )
    assert created.name == f"{account.name}/resources/everest"
    assert created.calendar.startswith(f"{account.name}/calendars/")
    got = directory.resources(account.token("resources:read")).GetResource(
        rs_pb.GetResourceRequest(name=created.name, include_raw=True)
    )
    expected = rs_pb.Resource()
    expected.CopyFrom(room)
    for field in ("name", "etag", "calendar", "create_time", "update_time"):
        if field.endswith("time"):
            getattr(expected, field).CopyFrom(getattr(got, field))
        else:
            setattr(expected, field, getattr(got, field))
    assert got == expected
    calendar = account.calendars().GetCalendar(cal_pb.GetCalendarRequest(name=created.calendar))
    assert calendar.display_name == "Everest" and not calendar.primary
    # An existing calendar can be named instead.
    own = account.create_calendar("Van bookings", calendar_id="van")
    van = _create(
        directory, account, rs_pb.Resource(display_name="Van", email="van@x.example",
                                           calendar=own.name),
    )  # fmt: skip
    assert van.calendar == own.name and van.category == OTHER


@on_each_store
def test_filters_and_paging(almanac: Almanac, directory: Directory, account: TestAccount) -> None:
    rooms = {
        "alpha": _room("Alpha", capacity=4, features=["Phone"]),
        "bravo": _room("Bravo", capacity=12, building="Annex", features=["projector", "phone"]),
        "charlie": _room("Charlie", capacity=20, description="Boardroom with a view"),
        "delta": _room("Délta", capacity=6, features=[]),
        "car": rs_pb.Resource(display_name="Car", email="car@x.example", capacity=5),
    }
    names = {key: _create(directory, account, r).name for key, r in rooms.items()}

    def listed(**query: object) -> list[str]:
        reply = directory.resources().ListResources(
            rs_pb.ListResourcesRequest(parent=account.name, **query)  # type: ignore[arg-type]
        )
        assert reply.total_size == len(reply.resources)
        keys = {v: k for k, v in names.items()}
        return [keys[r.name] for r in reply.resources]

    assert listed() == ["alpha", "bravo", "car", "charlie", "delta"]
    assert listed(category=ROOM) == ["alpha", "bravo", "charlie", "delta"]
    assert listed(category=OTHER) == ["car"]
    assert listed(min_capacity=6) == ["bravo", "charlie", "delta"]
    assert listed(building="annex") == ["bravo"]
    assert listed(features=["PHONE"]) == ["alpha", "bravo"]
    assert listed(features=["phone", "projector"]) == ["bravo"]
    assert listed(query="BOARDROOM") == ["charlie"]
    assert listed(query="delta") == ["delta"]  # accents folded
    assert listed(query="third floor", min_capacity=10, building="hq") == ["charlie"]
    paged = list_all(
        directory.resources().ListResources,
        rs_pb.ListResourcesRequest(parent=account.name, page_size=2, category=ROOM),
        "resources",
    )
    assert [r.name for r in paged] == [names[k] for k in ("alpha", "bravo", "charlie", "delta")]


@on_each_store
def test_update_etag_email_and_delete(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    resources = directory.resources()
    first = _create(directory, account, _room("One"))
    second = _create(directory, account, _room("Two"))
    taken = expect_error(
        Code.ALREADY_EXISTS,
        lambda: _create(directory, account, _room("Other", email=first.email.upper())),
    )
    assert taken.reason == "RESOURCE_EMAIL_TAKEN"
    expect_error(
        Code.ALREADY_EXISTS,
        lambda: resources.UpdateResource(
            rs_pb.UpdateResourceRequest(
                resource=rs_pb.Resource(name=second.name, email=first.email),
                update_mask=field_mask_pb2.FieldMask(paths=["email"]),
            )
        ),
    )
    updated = resources.UpdateResource(
        rs_pb.UpdateResourceRequest(
            resource=rs_pb.Resource(name=first.name, capacity=30, etag=first.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["capacity", "calendar"]),
        )
    )
    assert updated.capacity == 30 and updated.calendar == first.calendar
    assert updated.display_name == "One" and updated.etag != first.etag
    expect_error(
        Code.ABORTED,
        lambda: resources.UpdateResource(
            rs_pb.UpdateResourceRequest(resource=rs_pb.Resource(name=first.name, capacity=1,
                                                                etag=first.etag))
        ),
    )  # fmt: skip
    cleared = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: resources.UpdateResource(
            rs_pb.UpdateResourceRequest(
                resource=rs_pb.Resource(name=first.name),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name", "email"]),
            )
        ),
    )
    assert cleared.fields == {"resource.display_name", "resource.email"}
    writer = directory.resources(account.token("resources:write"))
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: writer.DeleteResource(rs_pb.DeleteResourceRequest(name=first.name)),
    )
    admin = directory.resources(account.token("resources:admin"))
    admin.DeleteResource(rs_pb.DeleteResourceRequest(name=first.name, etag=updated.etag))
    expect_error(
        Code.NOT_FOUND, lambda: resources.GetResource(rs_pb.GetResourceRequest(name=first.name))
    )
    # Its calendar stays until deleted, as the contract says.
    account.calendars().GetCalendar(cal_pb.GetCalendarRequest(name=first.calendar))
    # The email is free again.
    assert _create(directory, account, _room("Again", email=first.email)).email == first.email


@on_each_store
def test_bad_input_names_every_bad_field(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    bad = rs_pb.Resource(
        display_name="",
        email="nope",
        category=7,  # type: ignore[arg-type]
        capacity=-1,
        floor="f" * 65,
        features=["a", "A", ""],
        calendar="accounts/someone-else/calendars/x",
        booking_policy=rs_pb.BookingPolicy(
            max_duration=duration_pb2.Duration(seconds=-60),
            max_advance=duration_pb2.Duration(seconds=61),
            allowed_bookers=["x", "@"],
        ),
    )
    failure = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: directory.resources().CreateResource(
            rs_pb.CreateResourceRequest(parent=account.name, resource=bad, resource_id="BAD ID")
        ),
    )
    assert failure.fields == {
        "resource.display_name", "resource.email", "resource.category", "resource.capacity",
        "resource.floor", "resource.features[1]", "resource.features[2]", "resource.calendar",
        "resource.booking_policy.max_duration", "resource.booking_policy.max_advance",
        "resource.booking_policy.allowed_bookers[0]", "resource.booking_policy.allowed_bookers[1]",
        "resource_id",
    }  # fmt: skip
    listing = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: directory.resources().ListResources(
            rs_pb.ListResourcesRequest(
                parent=account.name, min_capacity=-1, category=9,  # type: ignore[arg-type]
                features=[""],
            )
        ),
    )  # fmt: skip
    assert listing.fields == {"min_capacity", "category", "features[0]"}
    missing = expect_error(
        Code.NOT_FOUND,
        lambda: _create(
            directory, account, _room("Lost", calendar=f"{account.name}/calendars/nowhere")
        ),
    )
    assert "nowhere" in missing.message


@on_each_store
def test_scopes_foreign_accounts_and_activity(
    almanac: Almanac, directory: Directory, account: TestAccount
) -> None:
    room = _create(directory, account, _room("Secret"))
    other = TestAccount(almanac, almanac.create_local_account())
    stranger = directory.resources(other.token("resources:admin"))
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: stranger.GetResource(rs_pb.GetResourceRequest(name=room.name)),
    )
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: stranger.ListResources(rs_pb.ListResourcesRequest(parent=account.name)),
    )
    reader = directory.resources(account.token("resources:read"))
    expect_error(
        Code.PERMISSION_DENIED,
        lambda: reader.CreateResource(
            rs_pb.CreateResourceRequest(parent=account.name, resource=_room("X"))
        ),
    )
    directory.resources().UpdateResource(
        rs_pb.UpdateResourceRequest(resource=rs_pb.Resource(name=room.name, floor="4"))
    )
    directory.resources().DeleteResource(rs_pb.DeleteResourceRequest(name=room.name))
    seen = [
        a
        for a in directory.activities(account.name)
        if a.resource_type == common_pb2.RESOURCE_TYPE_RESOURCE
    ]
    assert [a.type for a in seen] == [
        act_pb.ACTIVITY_TYPE_ADDED, act_pb.ACTIVITY_TYPE_UPDATED, act_pb.ACTIVITY_TYPE_DELETED,
    ]  # fmt: skip
    assert list(seen[1].changed_fields.paths) == ["floor"]
    assert seen[1].resource_snapshot.floor == "4"
    assert all(a.calendar == room.calendar for a in seen)
    calendars = [
        a
        for a in directory.activities(account.name)
        if a.resource_type == common_pb2.RESOURCE_TYPE_CALENDAR and a.resource == room.calendar
    ]
    assert [a.type for a in calendars] == [act_pb.ACTIVITY_TYPE_ADDED]
