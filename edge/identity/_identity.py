"""The device identity: its key pair, who it is, which hall it trusts, its epochs.

Files in the data directory (the directory 0700, every file 0600):

``device.key``
    The Ed25519 private key, PEM (PKCS#8, unencrypted). Made once by
    ``create_identity``; never overwritten. Loading refuses it while group or
    others have any permission on it.
``device.json``
    ``{"version": 1, "device_id", "device_kind", "hall_id", "public_key"}``;
    the public key (base64 of the 32 raw bytes) must match ``device.key``.
``hall.pub``
    The hall's Ed25519 public key (PEM), once trusted: acks, resend requests
    and commands from the hall are verified with it.
``epoch``
    The last outbox epoch used, in decimal. A new outbox store takes the next
    one (see ``Identity.claim_epoch``), so an epoch is never used twice by a
    device whose data directory survives.

Every file is written atomically (see ``_files``), so a crash leaves the old or
the new content.
"""

import base64
import binascii
import hashlib
import json
import os
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocols.topics import DEVICE_KINDS, is_identifier

from .._errors import BadKey, IdentityError, IdentityExists, IdentityMissing
from ._files import check_mode, make_private_dir, read_private, write_atomic

KEY_FILE = "device.key"
DEVICE_FILE = "device.json"
HALL_KEY_FILE = "hall.pub"
EPOCH_FILE = "epoch"

# Device and hall ids follow the topic identifier rule (protocols.topics):
# lower-case letters, digits and hyphens, starting with a letter or digit, at
# most 63 characters, so an id is always one topic level and a file name.
_DEVICE_JSON_VERSION = 1
# Files that must not be changed by others (they decide whom we trust and who we are).
_NO_OTHER_WRITE = 0o022


def check_id(text, what="device id"):
    """Return ``text`` if it is a valid device or hall id, else raise IdentityError."""
    if not is_identifier(text):
        raise IdentityError("%s %r is not valid: use 1 to 63 lower-case letters, digits and hyphens, "
                            "starting with a letter or digit (e.g. conc-a1)" % (what, text))
    return text


def public_key_bytes(public_key):
    """The 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(raw_public_key):
    """``SHA256:`` and the unpadded base64 of the SHA-256 of the 32 raw key bytes (as OpenSSH shows keys)."""
    digest = hashlib.sha256(bytes(raw_public_key)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def parse_public_key(data, source="key"):
    """An Ed25519 public key from PEM, 32 raw bytes, base64 (standard or URL-safe) or hex.

    Args:
        data: bytes or str.
        source: how to name the input in an error message (a file name, "argument").

    Raises:
        BadKey: naming the source and the forms accepted.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise BadKey("%s is PEM but not a readable public key: %s" % (source, exc)) from exc
        if not isinstance(key, Ed25519PublicKey):
            raise BadKey("%s holds a %s key; expected Ed25519" % (source, type(key).__name__.lstrip("_")))
        return key
    raw = None
    if len(data) == 32 and not _looks_textual(data):
        raw = data
    elif re.fullmatch(rb"[0-9a-fA-F]{64}", text):
        raw = binascii.unhexlify(text)
    elif re.fullmatch(rb"[A-Za-z0-9+/_-]{43}=?", text):
        padded = text.rstrip(b"=") + b"="
        raw = base64.urlsafe_b64decode(padded.replace(b"+", b"-").replace(b"/", b"_"))
    if raw is None or len(raw) != 32:
        shown = text[:24].decode("ascii", "replace") + ("..." if len(text) > 24 else "")
        raise BadKey("%s is not an Ed25519 public key: expected a PEM public key, 32 raw bytes, "
                     "44 characters of base64 or 64 hex digits; got %d bytes (%r)" % (source, len(text), shown))
    return Ed25519PublicKey.from_public_bytes(raw)


def _looks_textual(data):
    return all(32 <= b < 127 for b in data)


class Identity:
    """A device's loaded identity (see the module docstring for the files).

    Attributes:
        data_dir, device_id, device_kind, hall_id,
        signing_key (Ed25519PrivateKey), public_key (Ed25519PublicKey),
        public_key_raw (32 bytes), fingerprint,
        hall_public_key (Ed25519PublicKey or None), hall_fingerprint (or None).
    """

    def __init__(self, data_dir, device_id, device_kind, hall_id, signing_key, hall_public_key=None):
        self.data_dir = data_dir
        self.device_id = device_id
        self.device_kind = device_kind
        self.hall_id = hall_id
        self.signing_key = signing_key
        self.public_key = signing_key.public_key()
        self.public_key_raw = public_key_bytes(self.public_key)
        self.fingerprint = fingerprint(self.public_key_raw)
        self.hall_public_key = hall_public_key
        self.hall_fingerprint = fingerprint(public_key_bytes(hall_public_key)) if hall_public_key else None

    def __repr__(self):
        return "Identity(%r, %r, hall=%r, %s)" % (self.device_id, self.device_kind, self.hall_id, self.fingerprint)

    def path(self, name):
        return os.path.join(self.data_dir, name)

    def require_hall_key(self):
        """The hall's public key, or IdentityError saying how to trust one."""
        if self.hall_public_key is None:
            raise IdentityError("no hall key is trusted in %s yet: run `%s identity trust-hall --data-dir %s KEY`"
                                % (self.data_dir, self.device_kind, self.data_dir), self.path(HALL_KEY_FILE))
        return self.hall_public_key

    def last_epoch(self):
        """The last outbox epoch this device used (0 if none yet)."""
        path = self.path(EPOCH_FILE)
        if not os.path.exists(path):
            return 0
        text = read_private(path, "epoch file", _NO_OTHER_WRITE).strip()
        if not re.fullmatch(rb"[0-9]{1,19}", text):
            raise IdentityError("epoch file %s holds %r, expected a decimal number" % (path, text[:40]), path)
        return int(text)

    def claim_epoch(self):
        """Take the next epoch for a new outbox store, durably, and return it.

        The number is on disk (fsynced) before it is returned, so a store
        created with it can never be created again with the same number, even
        if the process dies right after. A claimed epoch whose store never got
        created is skipped: epochs only increase, they need not be dense.
        """
        epoch = self.last_epoch() + 1
        write_atomic(self.path(EPOCH_FILE), b"%d\n" % epoch)
        return epoch

    def note_epoch(self, epoch):
        """Record that ``epoch`` is in use, if the epoch file is behind it (a restored backup)."""
        if epoch > self.last_epoch():
            write_atomic(self.path(EPOCH_FILE), b"%d\n" % epoch)


def create_identity(data_dir, device_id, device_kind, hall_id):
    """Make a new key pair and device.json in ``data_dir``; refuse to overwrite.

    Raises:
        IdentityError: a bad id or kind, or the files cannot be written.
        IdentityExists: ``data_dir`` already holds a key or device.json.
    """
    check_id(device_id, "device id")
    check_id(hall_id, "hall id")
    if device_kind not in DEVICE_KINDS:
        raise IdentityError("device kind %r is not one of %s" % (device_kind, ", ".join(DEVICE_KINDS)))
    make_private_dir(data_dir)
    for name in (KEY_FILE, DEVICE_FILE):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            raise IdentityExists("%s already holds an identity (%s); refusing to overwrite it"
                                 % (data_dir, name), path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_atomic(os.path.join(data_dir, KEY_FILE), pem, overwrite=False)
    doc = {"version": _DEVICE_JSON_VERSION, "device_id": device_id, "device_kind": device_kind,
           "hall_id": hall_id,
           "public_key": base64.b64encode(public_key_bytes(key.public_key())).decode("ascii")}
    write_atomic(os.path.join(data_dir, DEVICE_FILE), (json.dumps(doc, indent=2) + "\n").encode(),
                 overwrite=False)
    return Identity(data_dir, device_id, device_kind, hall_id, key)


def load_identity(data_dir, device_kind=None):
    """Load the identity in ``data_dir``, checking permissions and consistency.

    Args:
        device_kind: if given, the identity must be of this kind (a kiosk's
            identity is not a concentrator's).

    Raises:
        IdentityMissing: no identity there.
        InsecurePermissions: the directory or key file is open to others, or
            device.json / hall.pub / epoch is writable by others.
        BadKey, IdentityError: a file is unreadable or inconsistent.
    """
    key_path = os.path.join(data_dir, KEY_FILE)
    device_path = os.path.join(data_dir, DEVICE_FILE)
    if not os.path.isdir(data_dir):
        raise IdentityMissing("no device identity: data directory %s does not exist; run `%s identity init`"
                              % (data_dir, device_kind or "concentrator"), data_dir)
    if not os.path.exists(key_path):
        if os.path.exists(device_path):
            raise IdentityError("%s has device.json but no device.key (an interrupted init?); remove %s and "
                                "run init again" % (data_dir, device_path), key_path)
        raise IdentityMissing("no device identity in %s; run `%s identity init`"
                              % (data_dir, device_kind or "concentrator"), key_path)
    if not os.path.exists(device_path):
        raise IdentityError("%s has device.key but no device.json (an interrupted init?); remove %s and "
                            "run init again" % (data_dir, key_path), device_path)
    check_mode(data_dir, "data directory", 0o077, 0o700)
    pem = read_private(key_path, "device key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise BadKey("device key %s is not a readable unencrypted PEM private key: %s" % (key_path, exc),
                     key_path) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey("device key %s is not an Ed25519 key" % key_path, key_path)
    raw = read_private(device_path, "device file", _NO_OTHER_WRITE)
    doc = _parse_device_json(raw, device_path)
    got_kind = doc["device_kind"]
    if device_kind is not None and got_kind != device_kind:
        raise IdentityError("%s holds the identity of a %s, not a %s" % (data_dir, got_kind, device_kind),
                            device_path)
    own = base64.b64encode(public_key_bytes(key.public_key())).decode("ascii")
    if doc["public_key"] != own:
        raise BadKey("device.json names public key %s but device.key holds %s" % (doc["public_key"], own),
                     device_path)
    hall_key = None
    hall_path = os.path.join(data_dir, HALL_KEY_FILE)
    if os.path.exists(hall_path):
        hall_key = parse_public_key(read_private(hall_path, "hall key", _NO_OTHER_WRITE), hall_path)
    return Identity(data_dir, doc["device_id"], got_kind, doc["hall_id"], key, hall_key)


def _parse_device_json(raw, path):
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IdentityError("%s is not valid JSON: %s" % (path, exc), path) from exc
    if not isinstance(doc, dict) or doc.get("version") != _DEVICE_JSON_VERSION:
        raise IdentityError("%s: expected a version %d object" % (path, _DEVICE_JSON_VERSION), path)
    for field in ("device_id", "device_kind", "hall_id", "public_key"):
        if not isinstance(doc.get(field), str):
            raise IdentityError("%s: field %s is missing or not text" % (path, field), path)
    check_id(doc["device_id"], "device id in %s" % path)
    check_id(doc["hall_id"], "hall id in %s" % path)
    if doc["device_kind"] not in DEVICE_KINDS:
        raise IdentityError("%s: device kind %r is not one of %s" % (path, doc["device_kind"],
                                                                      ", ".join(DEVICE_KINDS)), path)
    return doc


def trust_hall(data_dir, key, replace=False):
    """Store the hall's public key as ``hall.pub``.

    Args:
        key: an Ed25519PublicKey, or bytes/str in a form ``parse_public_key`` takes.
        replace: allow replacing a different key already trusted.

    Returns:
        The reloaded Identity.

    Raises:
        IdentityMissing: no identity in ``data_dir`` (trust comes after init).
        IdentityExists: a different hall key is trusted and ``replace`` is false.
        BadKey: ``key`` is not an Ed25519 public key.
    """
    identity = load_identity(data_dir)
    if not isinstance(key, Ed25519PublicKey):
        key = parse_public_key(key)
    new_fp = fingerprint(public_key_bytes(key))
    path = os.path.join(data_dir, HALL_KEY_FILE)
    if identity.hall_public_key is not None and not replace:
        if identity.hall_fingerprint == new_fp:
            return identity
        raise IdentityExists("%s already trusts hall key %s; pass --replace to trust %s instead"
                             % (path, identity.hall_fingerprint, new_fp), path)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_atomic(path, pem)
    return load_identity(data_dir)


