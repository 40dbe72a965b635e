"""SecretBox: sealing, opening, key ids, rotation, and key parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.state.secrets import (
    SecretBox,
    SecretKeyInvalid,
    SecretKeyMissing,
    encode_key,
    is_sealed,
    parse_keys,
    read_key_file,
    write_key_file,
)


def test_seal_and_open_bound_to_the_context() -> None:
    box = SecretBox([SecretBox.new_key()])
    blob = box.seal(b"hunter2", "acc-1")
    assert is_sealed(blob) and b"hunter2" not in blob
    assert box.open(blob, "acc-1") == b"hunter2"
    with pytest.raises(SecretKeyInvalid):
        box.open(blob, "acc-2")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SecretKeyInvalid):
        box.open(tampered, "acc-1")
    assert box.open(b"\x0a\x00plain", "acc-1") == b"\x0a\x00plain"  # stored before encryption


def test_old_keys_open_and_the_first_seals() -> None:
    old, new = SecretBox.new_key(), SecretBox.new_key()
    sealed_old = SecretBox([old]).seal(b"s", "a")
    both = SecretBox([new, old])
    assert both.open(sealed_old, "a") == b"s"
    assert not both.sealed_with_current(sealed_old)
    assert both.sealed_with_current(both.seal(b"s", "a"))
    with pytest.raises(SecretKeyInvalid, match="not configured"):
        SecretBox([new]).open(sealed_old, "a")
    with pytest.raises(SecretKeyMissing):
        SecretBox([])


def test_key_text_and_files(tmp_path: Path) -> None:
    keys = [SecretBox.new_key(), SecretBox.new_key()]
    assert parse_keys(f"{encode_key(keys[0])}, {encode_key(keys[1])}") == keys
    path = tmp_path / "k" / "secret-key"
    write_key_file(path, keys)
    assert read_key_file(path) == keys
    assert path.stat().st_mode & 0o777 == 0o600
    for bad in ("short", encode_key(b"x" * 16), "!!!!"):
        with pytest.raises(SecretKeyInvalid):
            parse_keys(bad)
