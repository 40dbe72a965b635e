"""Connector secrets are encrypted at rest and appear nowhere else.

Known secrets are written through the API; the database files, every
response, every activity snapshot, the logs and the exported traces (the
console exporter, on stdout) must not contain them. A store holding sealed
secrets refuses to start without its key; `almanac keys rotate` re-seals.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from google.protobuf import field_mask_pb2

from connectors.state.secrets import SecretBox, SecretKeyInvalid, read_key_file, write_key_file
from tests.helpers import REPO_ROOT, AuthedStub, list_all, unique_id
from tests.services.activity.support import Cluster

SECRET_SETTINGS = ("account", "activity")


def _accounts(secrets: dict[str, str]) -> list[tuple[str, acc_pb.Account]]:
    return [
        (
            unique_id("dav"),
            acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                settings=acc_pb.ConnectorSettings(
                    caldav=acc_pb.CalDavSettings(
                        url="https://dav.example.com/", username="ada", password=secrets["dav"]
                    )
                ),
            ),
        ),
        (
            unique_id("goo"),
            acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_GOOGLE,
                settings=acc_pb.ConnectorSettings(
                    google=acc_pb.GoogleSettings(
                        client_id="cid",
                        client_secret=secrets["client"],
                        refresh_token=secrets["refresh"],
                    )
                ),
            ),
        ),
    ]


def _settings_blobs(db: Path) -> dict[str, bytes]:
    with sqlite3.connect(db) as conn:
        return {row[0]: bytes(row[1]) for row in conn.execute("SELECT id, settings FROM accounts")}


def _start(tmp_path: Path, key_file: Path) -> Cluster:
    return Cluster(
        f"sqlite:///{tmp_path / 'almanac.db'}",
        tmp_path / "logs",
        SECRET_SETTINGS,
        secret_key="",  # unset: the key comes from the file
        # The accounts are only stored: their upstreams are not there to check.
        connector_backends=(
            "caldav=tests.connectors.reference.offline:OfflineBackend,"
            "google=tests.connectors.reference.offline:OfflineBackend"
        ),
        secret_key_file=str(key_file),
        otel_exporter="console",
        access_log="true",
        log_level="DEBUG",
    )


def _write_everything(cluster: Cluster, secrets: dict[str, str]) -> list[bytes]:
    """Create and update the accounts; every response, serialized."""
    accounts = cluster.almanac.accounts()
    replies: list[bytes] = []
    names = []
    for account_id, account in _accounts(secrets):
        created = accounts.CreateAccount(
            acc_pb.CreateAccountRequest(account=account, account_id=account_id)
        )
        names.append(created.name)
        replies.append(created.SerializeToString())
    changed = acc_pb.Account(
        name=names[0],
        settings=acc_pb.ConnectorSettings(caldav=acc_pb.CalDavSettings(password=secrets["new"])),
    )
    update = acc_pb.UpdateAccountRequest(
        account=changed, update_mask=field_mask_pb2.FieldMask(paths=["settings"])
    )
    replies.append(accounts.UpdateAccount(update).SerializeToString())
    listed = list_all(accounts.ListAccounts, acc_pb.ListAccountsRequest(), "accounts")
    replies += [a.SerializeToString() for a in listed]
    activity = AuthedStub(
        act_grpc.ActivityServiceStub(cluster.channel(cluster.address("activity"))),
        cluster.secret,
    )
    for name in names:
        replies.append(accounts.GetAccount(acc_pb.GetAccountRequest(name=name)).SerializeToString())
        feed = activity.ListActivities(act_pb.ListActivitiesRequest(parent=name, page_size=1000))
        assert feed.activities, "the account changes must be in the activity feed"
        replies.append(feed.SerializeToString())
    return replies


def test_secrets_are_nowhere_but_sealed_in_the_store(tmp_path: Path) -> None:
    secrets = {k: f"{k}-{uuid.uuid4().hex}" for k in ("dav", "client", "refresh", "new")}
    key_file = tmp_path / "secret-key"
    write_key_file(key_file, [SecretBox.new_key()])
    cluster = _start(tmp_path, key_file)
    try:
        replies = _write_everything(cluster, secrets)
    finally:
        cluster.close()
    db = tmp_path / "almanac.db"
    haystacks = {
        "responses": b"\n".join(replies),
        "logs and traces": b"".join(p.read_bytes() for p in (tmp_path / "logs").iterdir()),
        "database files": b"".join(p.read_bytes() for p in tmp_path.glob("almanac.db*")),
    }
    assert b"almanac.v1.AccountService/CreateAccount" in haystacks["logs and traces"]
    assert b'"name":' in haystacks["logs and traces"], "the console exporter wrote no spans"
    for where, data in haystacks.items():
        for secret in secrets.values():
            assert secret.encode() not in data, f"{secret} found in the {where}"
    # The secrets are there, sealed, and open with the key (and only for their row).
    box = SecretBox(read_key_file(key_file))
    blobs = _settings_blobs(db)
    opened = {aid: box.open(blob, aid) for aid, blob in blobs.items()}
    for secret in ("new", "client", "refresh"):
        assert any(secrets[secret].encode() in plain for plain in opened.values())
    sealed = [aid for aid in blobs if blobs[aid].startswith(b"ALMS1")]
    assert len(sealed) == 2
    try:
        box.open(blobs[sealed[0]], sealed[1])
    except SecretKeyInvalid:
        pass
    else:
        raise AssertionError("a sealed blob opened for another account")

    # Without its key the store refuses to start, saying what to set.
    env = {k: v for k, v in cluster.env.items() if not k.startswith("ALMANAC_SECRET_KEY")}
    env["ALMANAC_SECRET_KEY_FILE"] = str(tmp_path / "missing-key")
    refused = subprocess.run(
        [sys.executable, "-m", "services", "serve", "account", "--port", "0"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "encrypted connector secrets" in refused.stderr
    assert "ALMANAC_SECRET_KEY" in refused.stderr
    assert "Traceback" not in refused.stderr

    # Rotation: a new key seals every secret; the old one opens nothing any more.
    env["ALMANAC_SECRET_KEY_FILE"] = str(key_file)
    rotated = subprocess.run(
        [sys.executable, "-m", "services", "keys", "rotate"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    assert "2 account(s)" in rotated.stdout
    new_keys = read_key_file(key_file)
    assert len(new_keys) == 1 and SecretBox(new_keys).open(
        _settings_blobs(db)[sealed[0]], sealed[0]
    )
    for aid in sealed:
        try:
            box.open(_settings_blobs(db)[aid], aid)
        except SecretKeyInvalid:
            continue
        raise AssertionError("the old key still opens a rotated secret")
    assert os.stat(key_file).st_mode & 0o077 == 0, "the key file must be private"
