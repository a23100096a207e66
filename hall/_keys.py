"""Ed25519 keys on the hall side: the hall's own signing key, and devices' public keys as
operators paste them into ``hall enrol``.

The hall's key signs every control message (ack, resend, command). It lives in a
file (PKCS#8 PEM, mode 0600): ``<db>.key`` next to a SQLite database, or where
``--hall-key`` says, which a PostgreSQL database needs since the key never goes
into the database. It is created on first use and never replaced silently: devices trust its public key
(``concentrator identity trust-hall``), so a new key would orphan them. A key
file others can read is refused rather than used.

Device keys are accepted in the forms ``concentrator identity show`` prints:
PEM, 44 characters of base64 (standard or URL-safe), or 64 hex digits. The
hall does not import ``edge`` (dependencies run protocols <- hall), so the
parser is its own.
"""

import base64
import binascii
import hashlib
import os
import re
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class HallKeyError(Exception):
    """Base of the hall's key errors."""


class BadKey(HallKeyError):
    """A public key that cannot be read. Attributes: source."""

    def __init__(self, message, source):
        super().__init__(message)
        self.source = source


class KeyFileError(HallKeyError):
    """The hall's key file is unusable (unreadable, wrong type, open to others). Attributes: path."""

    def __init__(self, message, path):
        super().__init__(message)
        self.path = path


def raw_public_key(public_key):
    """The 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(raw):
    """``SHA256:`` and the unpadded base64 of SHA-256 of the 32 raw key bytes (as devices show it)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(bytes(raw)).digest()).decode("ascii").rstrip("=")


def parse_public_key(text, source="key"):
    """An Ed25519 public key from PEM, base64 (44 chars, standard or URL-safe) or 64 hex digits.

    Returns:
        Ed25519PublicKey.

    Raises:
        BadKey: naming ``source``, the forms accepted and what was got.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise BadKey("%s is PEM but not a readable public key: %s" % (source, exc), source) from exc
        if not isinstance(key, Ed25519PublicKey):
            raise BadKey("%s holds a %s key; expected Ed25519" % (source, type(key).__name__.lstrip("_")),
                         source)
        return key
    raw = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raw = binascii.unhexlify(text)
    elif re.fullmatch(r"[A-Za-z0-9+/_-]{43}=?", text):
        raw = base64.urlsafe_b64decode(text.rstrip("=").replace("+", "-").replace("/", "_") + "=")
    if raw is None or len(raw) != 32:
        shown = text[:24] + ("..." if len(text) > 24 else "")
        raise BadKey("%s is not an Ed25519 public key: expected PEM, 44 characters of base64 or "
                     "64 hex digits; got %d characters (%r)" % (source, len(text), shown), source)
    return Ed25519PublicKey.from_public_bytes(raw)


def hall_key_path(db, key_path=None):
    """Where the hall's key lives: ``key_path`` when given, else ``<db>.key`` beside a SQLite
    file. A PostgreSQL database has no "beside", and the key must never be stored in the
    database, so a ``postgresql://`` URL needs ``key_path``.

    Raises:
        KeyFileError: ``db`` is a URL and no ``key_path`` was given.
    """
    if key_path is not None:
        return Path(key_path)
    if str(db).startswith(("postgresql://", "postgres://")):
        raise KeyFileError("a PostgreSQL database keeps no key file beside it; give the hall key "
                           "file with --hall-key PATH", None)
    return Path(str(db) + ".key")


def load_hall_key(db, create=True, key_path=None):
    """The hall's Ed25519 signing key, created (mode 0600) when missing and ``create``.

    Args:
        db: the database path or URL; the key is ``<db>.key`` unless ``key_path`` is given.
        key_path: the key file, required when ``db`` is a URL.

    Returns:
        (Ed25519PrivateKey, created: bool).

    Raises:
        KeyFileError: missing (and not ``create``), open to other users, not an Ed25519 key, or
            ``db`` is a URL and no ``key_path`` was given.
    """
    path = hall_key_path(db, key_path)
    if not path.exists():
        if not create:
            raise KeyFileError("no hall key at %s; `hall serve` creates it on first start" % path, path)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # O_EXCL: two starting servers must not each write a key and sign with different ones.
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        return key, True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError("hall key %s has mode %04o, open to other users; run: chmod 600 %s"
                           % (path, mode, path), path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm, OSError) as exc:
        raise KeyFileError("hall key %s is not readable: %s" % (path, exc), path) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("hall key %s holds a %s key; expected Ed25519"
                           % (path, type(key).__name__.lstrip("_")), path)
    return key, False


def public_key_text(public_key):
    """The form devices paste into ``concentrator identity trust-hall``: base64 of the raw key."""
    return base64.b64encode(raw_public_key(public_key)).decode("ascii")
