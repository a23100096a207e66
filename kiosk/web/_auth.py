"""Staff sign-in for the counter pages: PIN hashes, lockout, signed session cookies, CSRF tokens.

Pure logic over ``now_ms``; the app (``_app.py``) reads the clock and the
cookies. Invariants:

* A PIN is never stored: the configuration holds
  ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` and the check
  compares in constant time.
* After ``max_failures`` wrong PINs in a row at one counter, or for one
  staff number, that counter or number is locked for ``lockout_s``: no PIN
  is even checked until then (S-03, accounts per person against overreach).
* A session is ``<payload>.<HMAC-SHA256>``: the payload names the counter,
  the staff number, the expiry and a random nonce. Signing out revokes the
  nonce, so a copied cookie stops working too.
* The CSRF token is an HMAC of the session nonce: a page of another site
  cannot read it, and staff actions need it in a header besides the
  ``SameSite=Strict`` cookie.
"""

import base64
import hashlib
import hmac
import json
import os
import re

# 100 000 rounds take about 50 ms on the kiosk's two cores: slow enough to
# make guessing from a stolen file costly, quick enough for a sign-in tap.
PIN_ROUNDS = 100_000
_HASH = re.compile(r"pbkdf2_sha256\$(\d{4,7})\$([0-9a-f]{16,64})\$([0-9a-f]{64})\Z")
_PIN = re.compile(r"\d{4,12}\Z")


def valid_pin_hash(value):
    """True when ``value`` has the ``pbkdf2_sha256$rounds$salt$hash`` form ``hash_pin`` writes."""
    return isinstance(value, str) and _HASH.match(value) is not None


def hash_pin(pin, salt=None, rounds=PIN_ROUNDS):
    """The configuration string of a PIN.

    Args:
        pin: 4-12 digits.
        salt: bytes, or None for 16 random bytes.
        rounds: PBKDF2 iterations.

    Returns:
        ``pbkdf2_sha256$<rounds>$<salt hex>$<hash hex>``.

    Raises:
        ValueError: the PIN is not 4-12 digits.
    """
    if not isinstance(pin, str) or not _PIN.match(pin):
        raise ValueError("a PIN is 4-12 digits")
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, rounds)
    return "pbkdf2_sha256$%d$%s$%s" % (rounds, salt.hex(), digest.hex())


def check_pin(pin, pin_hash):
    """True when ``pin`` matches ``pin_hash`` (a ``hash_pin`` string); compared in constant time."""
    match = _HASH.match(pin_hash)
    if match is None or not isinstance(pin, str) or len(pin) > 64:
        return False
    rounds, salt, want = int(match.group(1)), bytes.fromhex(match.group(2)), bytes.fromhex(match.group(3))
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, rounds), want)


class Lockout:
    """Counts wrong PINs per key ("counter:w1", "staff:1001") and locks a key after too many.

    Args:
        max_failures: wrong PINs in a row that lock a key.
        lockout_s: how long a locked key stays locked.
    """

    def __init__(self, max_failures, lockout_s):
        self.max_failures = max_failures
        self.lockout_ms = int(lockout_s * 1000)
        self._failures = {}
        self._until = {}

    def locked_s(self, keys, now_ms):
        """Seconds left on the longest lock among ``keys`` (0 when none is locked)."""
        left = max((self._until.get(k, 0) - now_ms for k in keys), default=0)
        return max(0, -(-left // 1000))

    def failed(self, keys, now_ms):
        """Note a wrong PIN for each key; returns the seconds locked now (0 when not yet)."""
        for key in keys:
            n = self._failures.get(key, 0) + 1
            if n >= self.max_failures:
                self._until[key] = now_ms + self.lockout_ms
                n = 0
            self._failures[key] = n
        return self.locked_s(keys, now_ms)

    def succeeded(self, keys):
        """A right PIN clears the counts of ``keys``."""
        for key in keys:
            self._failures.pop(key, None)


class Sessions:
    """Signs and checks staff session cookies, and revokes them at sign-out.

    Args:
        secret: bytes, the HMAC key (random per start when not configured,
            so sessions then end with a restart).
        ttl_s: how long a session lasts.
    """

    def __init__(self, secret, ttl_s):
        self._secret = secret
        self.ttl_ms = int(ttl_s * 1000)
        self._revoked = {}

    def _mac(self, data):
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def issue(self, counter_id, staff, now_ms):
        """A new cookie value for ``staff`` at ``counter_id``."""
        payload = {"c": counter_id, "s": staff, "exp": now_ms + self.ttl_ms, "n": os.urandom(12).hex()}
        data = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
        return data.decode() + "." + self._mac(data)

    def check(self, cookie, now_ms):
        """The session dict (``c`` counter, ``s`` staff, ``n`` nonce) of a valid cookie, or None."""
        if not isinstance(cookie, str) or cookie.count(".") != 1 or len(cookie) > 1024:
            return None
        data, mac = cookie.split(".")
        if not hmac.compare_digest(self._mac(data.encode()), mac):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        except ValueError:
            return None
        if payload.get("exp", 0) <= now_ms or payload.get("n") in self._revoked:
            return None
        return payload

    def revoke(self, session, now_ms):
        """Sign out: the session's nonce is refused until its expiry (expired nonces are forgotten)."""
        self._revoked = {n: exp for n, exp in self._revoked.items() if exp > now_ms}
        self._revoked[session["n"]] = session["exp"]

    def csrf_token(self, session):
        """The token staff actions must send in ``X-CSRF-Token``."""
        return self._mac(b"csrf:" + session["n"].encode())
