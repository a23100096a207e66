"""Device identity: the key pair made on first start, device.json, the trusted hall key, epochs.

See ``_identity`` for the files and their rules.
"""

from .._errors import BadKey, IdentityError, IdentityExists, IdentityMissing, InsecurePermissions
from ._identity import (DEVICE_KINDS, Identity, check_id, create_identity, fingerprint, load_identity,
                        parse_public_key, public_key_bytes, trust_hall)

__all__ = [
    "DEVICE_KINDS", "Identity", "check_id", "create_identity", "fingerprint", "load_identity",
    "parse_public_key", "public_key_bytes", "trust_hall",
    "BadKey", "IdentityError", "IdentityExists", "IdentityMissing", "InsecurePermissions",
]
