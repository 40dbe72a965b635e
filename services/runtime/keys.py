"""The connector-secret keys of a process: where they come from, and rotation.

`secret_key` (an environment variable or TOML value) wins over
`secret_key_file`; `almanac up` creates the file on a laptop's first start.
`open_secret_box` refuses to go on when the store holds sealed secrets and no
key is configured, with a message that says what to set.
"""

from __future__ import annotations

from pathlib import Path

from connectors.state.accounts import Registry
from connectors.state.secrets import (
    SecretBox,
    SecretKeyInvalid,
    parse_keys,
    read_key_file,
    write_key_file,
)
from services.runtime.config import Settings

__all__ = ["StartupError", "configured_keys", "ensure_key_file", "open_secret_box", "rotate"]


class StartupError(RuntimeError):
    """The process cannot start as configured; the message says why and what to do."""


def configured_keys(settings: Settings) -> list[bytes]:
    """The keys from `secret_key`, else from `secret_key_file` if it exists."""
    try:
        if settings.secret_key:
            return parse_keys(settings.secret_key)
        path = Path(settings.secret_key_file)
        return read_key_file(path) if path.exists() else []
    except SecretKeyInvalid as exc:
        raise StartupError(f"secret_key / secret_key_file: {exc}") from None
    except OSError as exc:
        raise StartupError(
            f"cannot read secret_key_file {settings.secret_key_file!r}: {exc.strerror}"
        ) from None


def ensure_key_file(settings: Settings) -> bool:
    """Create `secret_key_file` with a new key unless a key is configured; whether it did."""
    if settings.secret_key or Path(settings.secret_key_file).exists():
        return False
    write_key_file(settings.secret_key_file, [SecretBox.new_key()])
    return True


async def open_secret_box(settings: Settings, registry: Registry) -> SecretBox | None:
    """The box of the configured keys, or None when there are none and none are needed."""
    keys = configured_keys(settings)
    if keys:
        return SecretBox(keys)
    if await registry.holds_sealed_secrets():
        raise StartupError(
            "the store holds encrypted connector secrets, but no key is configured: "
            "set ALMANAC_SECRET_KEY (or secret_key in the config file) or point "
            f"secret_key_file at the key file (looked for {settings.secret_key_file!r})"
        )
    return None


async def rotate(settings: Settings, registry: Registry, keep_old: bool) -> tuple[int, str]:
    """Add a new current key to `secret_key_file` and re-encrypt every account's
    secrets with it; without ``keep_old`` the earlier keys are then dropped.

    Returns how many accounts were re-encrypted and where the keys are.
    """
    if settings.secret_key:
        raise StartupError(
            "secret_key is set in the environment or config file: rotate by adding a new "
            "key in front of it (comma-separated), then run `almanac keys rotate` again "
            "with only the new key once every process has restarted"
        )
    old = configured_keys(settings)
    new = SecretBox.new_key()
    write_key_file(settings.secret_key_file, [new, *old])
    registry.secrets = SecretBox([new, *old])
    changed = await registry.reseal_all()
    if not keep_old:
        write_key_file(settings.secret_key_file, [new])
    return changed, settings.secret_key_file
