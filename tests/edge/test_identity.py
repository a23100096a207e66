"""Device identity files: permissions, atomic writes, refusals, the hall key, epochs."""

import base64
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge import BadKey, IdentityError, IdentityExists, IdentityMissing, InsecurePermissions
from edge.identity import create_identity, fingerprint, load_identity, parse_public_key, public_key_bytes, trust_hall
from edge.identity import _files


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "device")


@pytest.fixture
def hall_key():
    return Ed25519PrivateKey.generate().public_key()


def test_init_makes_a_private_directory_and_private_files(data_dir):
    old = os.umask(0o022)      # a usual umask must not loosen anything
    try:
        identity = create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    finally:
        os.umask(old)
    assert mode(data_dir) == 0o700
    assert sorted(os.listdir(data_dir)) == ["device.json", "device.key"]   # no temporary files left
    assert mode(os.path.join(data_dir, "device.key")) == 0o600
    assert mode(os.path.join(data_dir, "device.json")) == 0o600
    doc = json.load(open(os.path.join(data_dir, "device.json")))
    assert doc == {"version": 1, "device_id": "conc-a1", "device_kind": "concentrator", "hall_id": "hall-01",
                   "public_key": base64.b64encode(identity.public_key_raw).decode()}
    assert identity.fingerprint.startswith("SHA256:") and len(identity.fingerprint) == 7 + 43


def test_load_gives_back_the_same_key(data_dir):
    made = create_identity(data_dir, "kiosk-7", "kiosk", "hall-01")
    loaded = load_identity(data_dir, "kiosk")
    assert loaded.public_key_raw == made.public_key_raw
    assert (loaded.device_id, loaded.device_kind, loaded.hall_id) == ("kiosk-7", "kiosk", "hall-01")
    signature = loaded.signing_key.sign(b"x")
    made.public_key.verify(signature, b"x")
    assert loaded.hall_public_key is None


def test_init_refuses_to_overwrite(data_dir):
    made = create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    with pytest.raises(IdentityExists, match="refusing to overwrite"):
        create_identity(data_dir, "conc-a2", "concentrator", "hall-01")
    assert load_identity(data_dir).public_key_raw == made.public_key_raw


def test_a_lone_key_file_also_counts_as_an_identity(data_dir):
    os.makedirs(data_dir, mode=0o700)
    _files.write_atomic(os.path.join(data_dir, "device.key"), b"not even a key")
    with pytest.raises(IdentityExists):
        create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    with pytest.raises(IdentityError, match="no device.json"):
        load_identity(data_dir)


@pytest.mark.parametrize("device_id", ["", "Conc-a1", "-conc", "conc_a1", "conc/a1", "c" * 64, "conc a1", "conc+"])
def test_bad_device_ids_are_refused_before_anything_is_written(data_dir, device_id):
    with pytest.raises(IdentityError, match="device id"):
        create_identity(data_dir, device_id, "concentrator", "hall-01")
    assert not os.path.exists(data_dir)


def test_bad_hall_ids_and_kinds_are_refused(data_dir):
    with pytest.raises(IdentityError, match="hall id"):
        create_identity(data_dir, "conc-a1", "concentrator", "Hall#1")
    with pytest.raises(IdentityError, match="device kind 'meter'"):
        create_identity(data_dir, "conc-a1", "meter", "hall-01")


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o644, 0o660, 0o700])
def test_a_key_file_open_to_others_is_refused_with_the_chmod_to_run(data_dir, bad_mode):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    key = os.path.join(data_dir, "device.key")
    os.chmod(key, bad_mode)
    if bad_mode & 0o077 == 0:
        load_identity(data_dir)            # 0700 on a file is odd but not open to others
        return
    with pytest.raises(InsecurePermissions) as info:
        load_identity(data_dir)
    err = info.value
    assert (err.path, err.mode, err.expected) == (key, bad_mode, 0o600)
    assert err.fix == "chmod 600 %s" % key
    assert "device key %s has mode %04o" % (key, bad_mode) in str(err) and err.fix in str(err)


def test_a_data_directory_open_to_others_is_refused(data_dir):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    os.chmod(data_dir, 0o755)
    with pytest.raises(InsecurePermissions, match="run: chmod 700 %s" % data_dir):
        load_identity(data_dir)


def test_an_existing_loose_directory_is_refused_by_init(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    with pytest.raises(InsecurePermissions, match="chmod 700"):
        create_identity(str(loose), "conc-a1", "concentrator", "hall-01")
    assert os.listdir(loose) == []


def test_files_others_could_change_are_refused(data_dir, hall_key):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    trust_hall(data_dir, hall_key)
    for name in ("device.json", "hall.pub"):
        path = os.path.join(data_dir, name)
        os.chmod(path, 0o666)
        with pytest.raises(InsecurePermissions, match=name):
            load_identity(data_dir)
        os.chmod(path, 0o644)              # readable is fine for these: they hold no secret
        load_identity(data_dir)
        os.chmod(path, 0o600)


def test_missing_identity_says_how_to_make_one(tmp_path):
    with pytest.raises(IdentityMissing, match="identity init"):
        load_identity(str(tmp_path / "nowhere"), "kiosk")
    with pytest.raises(IdentityMissing, match="identity init"):
        load_identity(str(tmp_path))


def test_a_kiosk_identity_is_not_a_concentrator_identity(data_dir):
    create_identity(data_dir, "kiosk-1", "kiosk", "hall-01")
    with pytest.raises(IdentityError, match="identity of a kiosk, not a concentrator"):
        load_identity(data_dir, "concentrator")


def test_device_json_must_match_the_key(data_dir):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    path = os.path.join(data_dir, "device.json")
    doc = json.load(open(path))
    doc["public_key"] = base64.b64encode(b"\x01" * 32).decode()
    _files.write_atomic(path, json.dumps(doc).encode())
    with pytest.raises(BadKey, match="device.key holds"):
        load_identity(data_dir)


@pytest.mark.parametrize("content,match", [
    (b"{", "not valid JSON"),
    (b'{"version": 2}', "version 1"),
    (b'{"version": 1, "device_id": "a", "device_kind": "concentrator", "hall_id": "h"}', "public_key"),
])
def test_a_damaged_device_json_is_named(data_dir, content, match):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    _files.write_atomic(os.path.join(data_dir, "device.json"), content)
    with pytest.raises(IdentityError, match=match):
        load_identity(data_dir)


def test_a_damaged_key_file_is_named(data_dir):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    _files.write_atomic(os.path.join(data_dir, "device.key"), b"-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(BadKey, match="device key .*device.key is not a readable"):
        load_identity(data_dir)


# --------------------------------------------------------------- atomic writes

def test_an_interrupted_write_leaves_the_old_content_and_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / "f")
    _files.write_atomic(path, b"old")

    def power_cut(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(IdentityError, match="cannot write .*Input/output error"):
        _files.write_atomic(path, b"new")
    assert open(path, "rb").read() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_atomic_writes_fsync_the_file_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.path.isdir("/proc/self/fd/%d" % fd))),
                                                  real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", None)), real_replace(a, b)))
    _files.write_atomic(str(tmp_path / "f"), b"data")
    assert calls == [("fsync", False), ("replace", None), ("fsync", True)]


def test_no_overwrite_writes_refuse_an_existing_name(tmp_path):
    path = str(tmp_path / "f")
    _files.write_atomic(path, b"first", overwrite=False)
    with pytest.raises(IdentityExists):
        _files.write_atomic(path, b"second", overwrite=False)
    assert open(path, "rb").read() == b"first" and os.listdir(tmp_path) == ["f"]


# ------------------------------------------------------------------ hall key

def test_trusting_the_hall_key_stores_it_privately_and_loads_it(data_dir, hall_key):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    identity = trust_hall(data_dir, hall_key)
    assert mode(os.path.join(data_dir, "hall.pub")) == 0o600
    assert public_key_bytes(identity.hall_public_key) == public_key_bytes(hall_key)
    assert identity.hall_fingerprint == fingerprint(public_key_bytes(hall_key))
    assert load_identity(data_dir).require_hall_key() is not None


def test_a_second_hall_key_needs_replace(data_dir, hall_key):
    create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    trust_hall(data_dir, hall_key)
    trust_hall(data_dir, hall_key)                       # the same key again: fine
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(IdentityExists, match="pass --replace"):
        trust_hall(data_dir, other)
    assert trust_hall(data_dir, other, replace=True).hall_fingerprint == fingerprint(public_key_bytes(other))


def test_trust_needs_an_identity_first(tmp_path, hall_key):
    with pytest.raises(IdentityMissing):
        trust_hall(str(tmp_path), hall_key)


def test_require_hall_key_says_what_to_run(data_dir):
    identity = create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    with pytest.raises(IdentityError, match="concentrator identity trust-hall"):
        identity.require_hall_key()


def key_forms(key):
    raw = public_key_bytes(key)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    b64 = base64.b64encode(raw).decode()
    return [raw, pem, pem.decode(), b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode(), raw.hex(),
            raw.hex().upper(), "  %s\n" % b64]


def test_public_keys_are_read_in_every_usual_form(hall_key):
    for form in key_forms(hall_key):
        assert public_key_bytes(parse_public_key(form)) == public_key_bytes(hall_key), form


@pytest.mark.parametrize("text", ["", "abc", "A" * 42, "g" * 64, b"\x00" * 31, b"\x00" * 33,
                                  "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"])
def test_anything_else_is_not_a_key(text):
    with pytest.raises(BadKey, match="hall.pub"):
        parse_public_key(text, "hall.pub")


def test_a_pem_key_of_another_algorithm_is_refused():
    from cryptography.hazmat.primitives.asymmetric import ec
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(BadKey, match="expected Ed25519"):
        parse_public_key(pem)


# -------------------------------------------------------------------- epochs

def test_epochs_are_claimed_durably_and_only_increase(data_dir):
    identity = create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    assert identity.last_epoch() == 0
    assert [identity.claim_epoch() for _ in range(3)] == [1, 2, 3]
    assert load_identity(data_dir).last_epoch() == 3
    assert mode(os.path.join(data_dir, "epoch")) == 0o600
    identity.note_epoch(2)                   # behind: nothing changes
    assert identity.last_epoch() == 3
    identity.note_epoch(9)                   # a store with a higher epoch than the file (a restored backup)
    assert identity.claim_epoch() == 10


def test_a_damaged_epoch_file_is_named(data_dir):
    identity = create_identity(data_dir, "conc-a1", "concentrator", "hall-01")
    _files.write_atomic(os.path.join(data_dir, "epoch"), b"three\n")
    with pytest.raises(IdentityError, match="epoch file .* expected a decimal number"):
        identity.claim_epoch()
