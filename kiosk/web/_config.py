"""The ``[web]`` table of the kiosk's TOML file: address, staff PINs, counter labels, voice.

Checked against the queue configuration when the app starts: a staff
member's counters and the labelled counters must exist there. An error
names the file and the key, what was expected and what was found, and
nothing starts (promise 6).
"""

import re

from .._toml import read_table
from ._auth import valid_pin_hash
from ._errors import WebConfigError
from ._i18n import LANGUAGES

_STAFF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")     # the queue engine's staff number rule
# Staff roles beyond counter work: the admin page (hall manager, H-03) and the guidance desk (guide, Q-01).
ROLES = ("admin", "desk")
_SECRET = re.compile(r"[0-9a-f]{32,128}\Z")


class WebConfig:
    """The validated ``[web]`` table.

    Attributes:
        source: the file it came from.
        host, port: where uvicorn listens.
        secret: bytes of the session key, or None (random per start).
        session_h: hours a staff session lasts.
        max_failures, lockout_s: wrong PINs that lock a counter or staff number, and for how long.
        counter_labels: {counter id: label on the board and in the voice call ("3")}.
        staff: {staff number: (pin hash, tuple of counter ids)}.
        roles: {staff number: frozenset of roles ("admin": the admin page, "desk": the guidance desk)}.
        pads: {counter id: pyserial URL of its rating pad} (counters without a pad are absent).
        labels: {language: {category prefix: name}}.
        voice: bool, speak calls through ``voice_command``.
        voice_command: the text-to-speech program (espeak-ng).
        voice_wav_dir: a directory to write each call as WAV instead of playing it, or None.
        voice_languages: the languages each call is spoken in, in order.
    """

    def __init__(self, source, fields):
        self.source = source
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def from_dict(cls, table, queue_config, source="<dict>"):
        """Validate a ``[web]`` table against ``queue_config``.

        Returns:
            A ``WebConfig``.

        Raises:
            WebConfigError: naming the first wrong key.
        """
        return cls(source, _Parser(source).web(table, queue_config))


def load_web_config(path, queue_config):
    """Read and validate the ``[web]`` table of a TOML file.

    Args:
        path: the kiosk's TOML file.
        queue_config: the ``QueueConfig`` the counters are checked against.

    Returns:
        A ``WebConfig``.

    Raises:
        WebConfigError: the file cannot be read, is not TOML, has no
            ``[web]`` table, or a key is wrong.
    """
    table, source = read_table(path, "web", WebConfigError)
    return WebConfig.from_dict(table, queue_config, source)


class _Parser:
    def __init__(self, source):
        self.source = source

    def fail(self, key, expected, got):
        raise WebConfigError(self.source, key, expected, got)

    def table(self, value, where, allowed):
        if not isinstance(value, dict):
            self.fail(where, "a table", value)
        for key in value:
            if key not in allowed:
                self.fail("%s.%s" % (where, key), "one of %s" % ", ".join(sorted(allowed)), "an unknown key")
        return value

    def number(self, table, where, key, default, low, high):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.fail("%s.%s" % (where, key), "a number %s-%s" % (low, high), value)
        return value

    def string(self, table, where, key, default, pattern=None, what="a string"):
        value = table.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            self.fail("%s.%s" % (where, key), what, value)
        return value

    def web(self, table, queue_config):
        self.table(table, "web", {"host", "port", "secret", "session_h", "max_failures", "lockout_s",
                                  "counter", "staff", "labels", "voice"})
        counters = queue_config.counters
        fields = {
            "host": self.string(table, "web", "host", "127.0.0.1"),
            "port": int(self.number(table, "web", "port", 8080, 0, 65535)),
            "session_h": self.number(table, "web", "session_h", 12, 0.1, 24),
            "max_failures": int(self.number(table, "web", "max_failures", 5, 1, 20)),
            "lockout_s": self.number(table, "web", "lockout_s", 300, 1, 86400),
        }
        secret = self.string(table, "web", "secret", None, _SECRET, "32-128 lowercase hex digits")
        fields["secret"] = bytes.fromhex(secret) if secret else None
        fields["counter_labels"] = {cid: cid for cid in counters}
        fields["pads"] = {}
        for cid, entry in self.table(table.get("counter", {}), "web.counter", set(counters)).items():
            where = "web.counter.%s" % cid
            self.table(entry, where, {"label", "pad"})
            fields["counter_labels"][cid] = self.string(entry, where, "label", cid, re.compile(r"\S.{0,15}\Z"),
                                                        "1-16 characters")
            pad = self.string(entry, where, "pad", None, re.compile(r"\S{1,200}\Z"),
                              "a pyserial URL of the rating pad (a device, a pty or socket://host:port)")
            if pad is not None:
                fields["pads"][cid] = pad
        staff = table.get("staff", {})
        self.table(staff, "web.staff", set(staff))
        fields["staff"] = {}
        fields["roles"] = {}
        for number, entry in staff.items():
            where = 'web.staff."%s"' % number
            if not _STAFF.match(number):
                self.fail(where, "a staff number of 1-32 letters, digits, . _ -", number)
            self.table(entry, where, {"pin_hash", "counters", "roles"})
            if not valid_pin_hash(entry.get("pin_hash")):
                self.fail(where + ".pin_hash", "pbkdf2_sha256$<rounds>$<salt hex>$<hash hex> (kiosk.web.hash_pin)",
                          entry.get("pin_hash"))
            roles = entry.get("roles", [])
            if not isinstance(roles, list) or any(r not in ROLES for r in roles):
                self.fail(where + ".roles", "a list of %s" % ", ".join(ROLES), roles)
            # Staff with a role (a guide at the desk, the hall manager) may work no counter.
            ids = entry.get("counters", [] if roles else None)
            if not isinstance(ids, list) or not (ids or roles) or any(c not in counters for c in ids):
                self.fail(where + ".counters", "a list of counters of [queue.counter] (%s)"
                          % ", ".join(sorted(counters)), ids)
            fields["roles"][number] = frozenset(roles)
            fields["staff"][number] = (entry["pin_hash"], tuple(ids))
        labels = self.table(table.get("labels", {}), "web.labels", set(LANGUAGES))
        fields["labels"] = {}
        for lang, names in labels.items():
            self.table(names, "web.labels.%s" % lang, set(queue_config.categories))
            for prefix, name in names.items():
                if not isinstance(name, str) or not name.strip():
                    self.fail("web.labels.%s.%s" % (lang, prefix), "a name", name)
            fields["labels"][lang] = dict(names)
        voice = self.table(table.get("voice", {}), "web.voice", {"enabled", "command", "wav_dir", "languages"})
        enabled = voice.get("enabled", False)
        if not isinstance(enabled, bool):
            self.fail("web.voice.enabled", "true or false", enabled)
        fields["voice"] = enabled
        fields["voice_command"] = self.string(voice, "web.voice", "command", "espeak-ng")
        fields["voice_wav_dir"] = self.string(voice, "web.voice", "wav_dir", None) or None
        langs = voice.get("languages", list(LANGUAGES))
        if not isinstance(langs, list) or not langs or any(lang not in LANGUAGES for lang in langs):
            self.fail("web.voice.languages", "a list of %s" % ", ".join(LANGUAGES), langs)
        fields["voice_languages"] = tuple(langs)
        return fields
