"""Audit anchors: signed checkpoints of the hash chain, kept outside the hub database.

A database superuser can rewrite the audit log and recompute every hash, so the chain alone
proves nothing against them. An anchor records where the chain stood (last id, last hash, entry
count) and is signed with HMAC-SHA256 under a key the database never sees; the anchors live in an
append-only JSON Lines file. `hubctl audit verify --anchors` then checks that the chain as it is
now still passes through every anchored point.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

from hubctl.errors import ValidationError
from hubctl.settings import Settings, get_settings

ANCHOR_FILE = "audit-anchors.jsonl"
_MIN_KEY_BYTES = 16
_KEY_ID_LABEL = b"airflow-hub audit anchor key id"


@dataclass(frozen=True)
class AnchorKey:
    """The signing key; its id (a keyed hash, never the key) tells which key signed an anchor."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < _MIN_KEY_BYTES:
            raise ValidationError(
                f"audit key: use at least {_MIN_KEY_BYTES} bytes (got {len(self.secret)})"
            )

    @property
    def key_id(self) -> str:
        return self._mac(_KEY_ID_LABEL).finalize().hex()[:16]

    def _mac(self, message: bytes) -> hmac.HMAC:
        mac = hmac.HMAC(self.secret, hashes.SHA256())
        mac.update(message)
        return mac

    def sign(self, message: bytes) -> str:
        return self._mac(message).finalize().hex()

    def signed_by_me(self, message: bytes, signature: str) -> bool:
        """Constant-time comparison (cryptography's verify), as a MAC check must be."""
        try:
            self._mac(message).verify(bytes.fromhex(signature))
        except (InvalidSignature, ValueError):
            return False
        return True


def configured_key(settings: Settings | None = None) -> AnchorKey:
    """HUB_AUDIT_KEY, else HUB_AUDIT_KEY_FILE, else the key `hubctl up` made under HUB_HOME.

    The last one lets a second shell of the local stack anchor and verify with the stack's key.
    """
    settings = settings or get_settings()
    if settings.audit_key:
        return AnchorKey(settings.audit_key.encode())
    if settings.audit_key_file is not None:
        return _key_from_file(settings.audit_key_file.expanduser(), "HUB_AUDIT_KEY_FILE")
    local = local_key_file(settings.resolved_home)
    if local.exists():
        return _key_from_file(local, str(local))
    raise ValidationError(
        f"no audit key: set HUB_AUDIT_KEY or HUB_AUDIT_KEY_FILE (no key file at {local}"
        " either, which `hubctl up` makes under HUB_HOME); keep the key out of the hub database"
    )


def _key_from_file(path: Path, name: str) -> AnchorKey:
    try:
        return AnchorKey(path.read_bytes().strip())
    except OSError as error:
        raise ValidationError(f"{name}: cannot read it ({error.strerror})") from None


def local_key_file(home: Path) -> Path:
    return home / "audit.key"


def ensure_local_key(home: Path) -> Path:
    """The local stack's key file, made once (owner-only). Production keeps its key elsewhere."""
    path = local_key_file(home)
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as key_file:
            key_file.write(secrets.token_urlsafe(32))
    return path


def store_file(path: Path | None = None, settings: Settings | None = None) -> Path:
    """The anchor file: ``path`` (or the configured store); a directory holds audit-anchors.jsonl."""
    path = (path or (settings or get_settings()).resolved_anchor_path).expanduser()
    return path / ANCHOR_FILE if path.is_dir() or not path.suffix else path


@dataclass(frozen=True)
class Anchor:
    """Where the chain stood: entry ``last_id`` has hash ``last_hash`` and ``count`` entries end there."""

    last_id: int
    last_hash: str
    count: int
    time: str
    key_id: str
    signature: str = ""

    def message(self) -> bytes:
        """What the signature covers: every field but the signature, in one canonical form."""
        fields = {name: value for name, value in asdict(self).items() if name != "signature"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    @property
    def label(self) -> str:
        return f"last_id {self.last_id}, {self.time}"


def new_anchor(key: AnchorKey, *, last_id: int, last_hash: str, count: int) -> Anchor:
    unsigned = Anchor(last_id, last_hash, count, dt.datetime.now(dt.UTC).isoformat(), key.key_id)
    return Anchor(**{**asdict(unsigned), "signature": key.sign(unsigned.message())})


def append_anchor(path: Path, anchor: Anchor) -> None:
    """Append one line with O_APPEND and fsync: never rewrites what is there, survives a crash."""
    line = json.dumps(asdict(anchor), separators=(",", ":")) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:  # e.g. a path under a file, or a directory we may not write
        raise _unusable(path, error) from None
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _unusable(path: Path, error: OSError) -> ValidationError:
    return ValidationError(f"--anchors: {path}: {error.strerror or error}")


@dataclass(frozen=True)
class StoredAnchor:
    """One line of the store: its anchor, or why it is not one."""

    line: int
    anchor: Anchor | None
    problem: str | None = None

    @property
    def name(self) -> str:
        return f"anchor on line {self.line}" + (f" ({self.anchor.label})" if self.anchor else "")


def _parsed(line: int, text: str) -> StoredAnchor:
    try:
        data: Any = json.loads(text)
        return StoredAnchor(line, Anchor(**data))
    except (ValueError, TypeError):
        return StoredAnchor(line, None, "not an anchor (unreadable line)")


def read_anchors(path: Path) -> Iterator[StoredAnchor]:
    """Every non-blank line of the store, in the order written; a missing store is an error."""
    try:
        with path.open(encoding="utf-8") as lines:
            for number, text in enumerate(lines, start=1):
                if text.strip():
                    yield _parsed(number, text)
    except FileNotFoundError:
        raise ValidationError(f"--anchors: no anchor store at {path}") from None
    except OSError as error:
        raise _unusable(path, error) from None


def order_problem(previous: StoredAnchor | None, current: StoredAnchor) -> str | None:
    """Why ``current`` does not move forward from the line before it, or None.

    Anchors only move forward: past the previous point in both id and count, or the very same
    point signed later (an unchanged chain anchored again). A copy of an old line appended at
    the end would otherwise make --incremental start from before a rewrite.
    """
    if previous is None or previous.anchor is None or current.anchor is None:
        return None
    before, now = previous.anchor, current.anchor
    if now.last_id > before.last_id and now.count > before.count:
        return None
    same_point = (now.last_id, now.last_hash, now.count) == (
        before.last_id,
        before.last_hash,
        before.count,
    )
    if same_point and signed_at(now) > signed_at(before):
        return None
    return f"not past line {previous.line} (last_id {before.last_id}): replayed or reordered"


def signed_at(anchor: Anchor) -> dt.datetime:
    """When the anchor was made; an unreadable time is the earliest moment (oldest, first)."""
    try:
        return dt.datetime.fromisoformat(anchor.time)
    except ValueError:  # signed, so written by us; an unreadable time orders first
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def signature_problem(stored: StoredAnchor, key: AnchorKey) -> str | None:
    """Why the line cannot be trusted (unreadable, another key, bad signature), or None."""
    if stored.anchor is None:
        return stored.problem
    if stored.anchor.key_id != key.key_id:
        return f"signed with another key (key id {stored.anchor.key_id}, ours {key.key_id})"
    if not key.signed_by_me(stored.anchor.message(), stored.anchor.signature):
        return "the signature does not match its content (forged or edited)"
    return None
