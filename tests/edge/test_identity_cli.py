"""``concentrator identity init|show|trust-hall``: output, files, and one ``Error:`` line for each bad input."""

import base64
import json
import os

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from concentrator.cli import cli
from edge.cli import identity_commands
from edge.identity import load_identity, public_key_bytes


def run(*args):
    result = CliRunner().invoke(cli, ["identity", *args])
    return result.exit_code, result.output


def error_line(output):
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "conc")


@pytest.fixture
def enrolled(data_dir):
    code, out = run("init", "--data-dir", data_dir, "--device-id", "conc-a1", "--hall", "hall-01")
    assert code == 0, out
    return data_dir


def test_init_creates_the_identity_and_prints_the_public_key(data_dir):
    code, out = run("init", "--data-dir", data_dir, "--device-id", "conc-a1", "--hall", "hall-01")
    assert code == 0, out
    identity = load_identity(data_dir, "concentrator")
    assert "device id:         conc-a1" in out
    assert "device kind:       concentrator" in out
    assert base64.b64encode(identity.public_key_raw).decode() in out
    assert identity.public_key_raw.hex() in out
    assert identity.fingerprint in out
    assert "not trusted yet" in out


def test_show_json_has_what_hall_enrol_needs(enrolled):
    code, out = run("show", "--data-dir", enrolled, "--json")
    assert code == 0
    info = json.loads(out)
    identity = load_identity(enrolled)
    assert info["device_id"] == "conc-a1" and info["device_kind"] == "concentrator" and info["hall"] == "hall-01"
    assert base64.b64decode(info["public_key"]) == identity.public_key_raw
    assert bytes.fromhex(info["public_key_hex"]) == identity.public_key_raw
    assert info["fingerprint"] == identity.fingerprint
    assert info["hall_public_key"] is None and info["epoch"] == 0


def test_show_key_only_prints_the_key_hall_enrol_takes(enrolled):
    code, out = run("show", "--data-dir", enrolled, "--key-only")
    assert code == 0
    assert out == base64.b64encode(load_identity(enrolled).public_key_raw).decode() + "\n"
    code, out = run("show", "--data-dir", enrolled, "--key-only", "--json")
    assert code == 1
    assert error_line(out) == "Error: --json and --key-only cannot be used together"


def test_init_refuses_to_overwrite(enrolled):
    before = load_identity(enrolled).public_key_raw
    code, out = run("init", "--data-dir", enrolled, "--device-id", "conc-b2", "--hall", "hall-01")
    assert code == 1
    assert error_line(out) == "Error: %s already holds an identity (device.key); refusing to overwrite it" % enrolled
    assert load_identity(enrolled).public_key_raw == before


@pytest.mark.parametrize("device_id", ["Conc-A1", "conc_a1", "-x", "a" * 64])
def test_init_refuses_a_bad_device_id(data_dir, device_id):
    code, out = run("init", "--data-dir", data_dir, "--device-id", device_id, "--hall", "hall-01")
    assert code == 1
    assert error_line(out).startswith("Error: device id %r is not valid: use 1 to 63 lower-case letters" % device_id)
    assert not os.path.exists(data_dir)


def test_init_refuses_a_bad_hall_id(data_dir):
    code, out = run("init", "--data-dir", data_dir, "--device-id", "conc-a1", "--hall", "Hall 1")
    assert code == 1 and error_line(out).startswith("Error: hall id 'Hall 1' is not valid")


def test_show_without_an_identity(tmp_path):
    code, out = run("show", "--data-dir", str(tmp_path / "none"))
    assert code == 1
    assert error_line(out) == ("Error: no device identity: data directory %s does not exist; run "
                               "`concentrator identity init`" % (tmp_path / "none"))


def test_show_refuses_a_key_open_to_others(enrolled):
    key = os.path.join(enrolled, "device.key")
    os.chmod(key, 0o644)
    code, out = run("show", "--data-dir", enrolled)
    assert code == 1
    assert error_line(out) == ("Error: device key %s has mode 0644, open to other users; run: chmod 600 %s"
                               % (key, key))


def test_show_refuses_a_kiosk_identity(tmp_path):
    kiosk = CliRunner().invoke(identity_commands("kiosk"), ["init", "--data-dir", str(tmp_path / "k"),
                                                            "--device-id", "kiosk-1", "--hall", "hall-01"])
    assert kiosk.exit_code == 0, kiosk.output
    code, out = run("show", "--data-dir", str(tmp_path / "k"))
    assert code == 1 and "holds the identity of a kiosk, not a concentrator" in error_line(out)


def hall_key():
    return Ed25519PrivateKey.generate().public_key()


def test_trust_hall_from_base64_hex_and_pem_file(enrolled, tmp_path):
    key = hall_key()
    raw = public_key_bytes(key)
    code, out = run("trust-hall", "--data-dir", enrolled, base64.b64encode(raw).decode())
    assert code == 0, out
    fp = load_identity(enrolled).hall_fingerprint
    assert out.startswith("trusted hall key %s for hall hall-01" % fp)
    code, out = run("trust-hall", "--data-dir", enrolled, raw.hex())     # the same key: fine
    assert code == 0, out
    pem = tmp_path / "hall.pem"
    pem.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    code, out = run("trust-hall", "--data-dir", enrolled, str(pem))
    assert code == 0, out
    code, out = run("show", "--data-dir", enrolled, "--json")
    assert json.loads(out)["hall_public_key"] == base64.b64encode(raw).decode()


def test_trust_hall_refuses_a_different_key_unless_replace(enrolled):
    first, second = (base64.b64encode(public_key_bytes(hall_key())).decode() for _ in range(2))
    assert run("trust-hall", "--data-dir", enrolled, first)[0] == 0
    code, out = run("trust-hall", "--data-dir", enrolled, second)
    assert code == 1 and "pass --replace to trust SHA256:" in error_line(out)
    code, out = run("trust-hall", "--data-dir", enrolled, "--replace", second)
    assert code == 0, out


@pytest.mark.parametrize("arg,message", [
    ("not-a-key", "Error: hall key argument is not an Ed25519 public key: expected a PEM public key, 32 raw "
                  "bytes, 44 characters of base64 or 64 hex digits; got 9 bytes ('not-a-key')"),
    ("keys/hall.pub", "Error: keys/hall.pub is neither a file nor a key: no such file, and hall key argument is "
                      "not an Ed25519 public key"),
])
def test_trust_hall_refuses_what_is_not_a_key(enrolled, arg, message):
    code, out = run("trust-hall", "--data-dir", enrolled, arg)
    assert code == 1 and error_line(out).startswith(message)
    assert not os.path.exists(os.path.join(enrolled, "hall.pub"))


def test_trust_hall_refuses_a_file_that_is_not_a_key(enrolled, tmp_path):
    bad = tmp_path / "hall.pub"
    bad.write_text("hello\n")
    code, out = run("trust-hall", "--data-dir", enrolled, str(bad))
    assert code == 1 and error_line(out).startswith("Error: hall key file %s is not an Ed25519 public key" % bad)


def test_trust_hall_needs_an_identity(tmp_path):
    code, out = run("trust-hall", "--data-dir", str(tmp_path / "none"), "A" * 43 + "=")
    assert code == 1 and "run `concentrator identity init`" in error_line(out)


def test_missing_options_are_usage_errors(tmp_path):
    code, out = run("init", "--data-dir", str(tmp_path))
    assert code == 2 and "Missing option '--device-id'" in out
