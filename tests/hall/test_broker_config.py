"""`hall broker-config` and write_broker_config: the files, their permissions, re-runs that
keep the CA, and one-line errors that change nothing."""

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from hall import BrokerConfigError, load_devices_file, write_broker_config
from hall._broker import device_grants, hall_server_grants
from hall.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(directory):
    return {p.relative_to(directory): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_cli_writes_a_complete_configuration_with_private_keys_0600(tmp_path):
    out = tmp_path / "broker"
    result = run("broker-config", "--hall", "h1", "--out", str(out),
                 "--device", "conc-01:concentrator", "--device", "kiosk-01:kiosk", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["hall"] == "h1" and summary["ca_created"] is True
    assert sorted(c["user"] for c in summary["clients"]) == ["conc-01", "hall-server", "kiosk-01"]
    for name in ("ca.key", "server.key", "clients/conc-01.key", "clients/kiosk-01.key",
                 "clients/hall-server.key"):
        assert mode(out / name) == 0o600, name
    for name in ("ca.crt", "server.crt", "crl.pem", "acl", "mosquitto.conf", "clients/conc-01.crt"):
        assert mode(out / name) == 0o644, name
    assert mode(out / "clients") == 0o700
    conf = (out / "mosquitto.conf").read_text().splitlines()
    for line in ("allow_anonymous false", "require_certificate true", "use_identity_as_username true",
                 "use_username_as_clientid true", "tls_version tlsv1.2", "persistence true",
                 "listener 8883", "acl_file %s" % (out / "acl"), "crlfile %s" % (out / "crl.pem"),
                 "persistence_location %s/" % (out / "data")):
        assert line in conf, line


def test_certificates_chain_to_the_hall_ca_with_the_user_as_common_name(tmp_path):
    config = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")],
                                 hosts=["broker.hall.example", "10.0.0.5"])
    ca = load(config.ca_cert)
    server = load(config.server_cert)
    client = load(config.client("conc-01").cert)

    for cert in (server, client):
        cert.verify_directly_issued_by(ca)
    cn = client.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == "conc-01"
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["broker.hall.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert x509.load_pem_x509_crl(config.crl.read_bytes()).is_signature_valid(ca.public_key())


def test_the_acl_gives_each_device_its_own_topics_and_the_hall_server_the_rest(tmp_path):
    config = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator"), ("kiosk-01", "kiosk")])
    acl = config.acl.read_text()
    blocks = {}
    for block in acl.split("\nuser ")[1:]:
        lines = block.strip().splitlines()
        blocks[lines[0]] = [line for line in lines[1:] if line.startswith("topic ")]

    assert blocks["conc-01"] == [
        "topic write hall/h1/concentrator/conc-01/+",
        "topic write hall/h1/status/conc-01",
        "topic read hall/h1/ack/conc-01",
        "topic read hall/h1/resend/conc-01",
        "topic read hall/h1/command/conc-01",
    ]
    assert blocks["kiosk-01"][0] == "topic write hall/h1/kiosk/kiosk-01/+"
    assert blocks["hall-server"] == ["topic %s %s" % grant for grant in hall_server_grants("h1")]
    assert ("read", "hall/h1/status/+") in hall_server_grants("h1")
    assert ("write", "hall/h1/command/+") in hall_server_grants("h1")
    assert device_grants("h1", "conc-01", "concentrator")[0] == ("write", "hall/h1/concentrator/conc-01/+")
    assert "pattern" not in acl


def test_a_rerun_adds_a_device_and_keeps_the_ca_and_every_issued_certificate(tmp_path):
    out = tmp_path / "broker"
    assert run("broker-config", "--hall", "h1", "--out", str(out), "--device", "conc-01:concentrator").exit_code == 0
    before = snapshot(out)

    result = run("broker-config", "--hall", "h1", "--out", str(out), "--device", "kiosk-01:kiosk")

    assert result.exit_code == 0, result.output
    assert "(new CA)" not in result.output and "issued:  kiosk-01 (kiosk)" in result.output
    after = snapshot(out)
    for name in ("ca.crt", "ca.key", "server.crt", "server.key", "clients/conc-01.crt",
                 "clients/conc-01.key", "clients/hall-server.crt"):
        assert after[Path(name)] == before[Path(name)], name
    acl = (out / "acl").read_text()
    assert "user conc-01" in acl and "user kiosk-01" in acl


def test_a_rerun_with_the_same_devices_changes_no_certificate(tmp_path):
    args = ("broker-config", "--hall", "h1", "--out", str(tmp_path), "--device", "conc-01:concentrator")
    run(*args)
    before = snapshot(tmp_path)
    result = run(*args, "--json")
    assert json.loads(result.output)["ca_created"] is False
    assert not any(c["issued_now"] for c in json.loads(result.output)["clients"])
    after = snapshot(tmp_path)
    for name in before:
        if name.suffix in (".crt", ".key"):
            assert after[name] == before[name], name


def test_new_hosts_reissue_only_the_server_certificate(tmp_path):
    first = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")])
    ca, client = first.ca_cert.read_bytes(), first.client("conc-01").cert.read_bytes()
    server = first.server_cert.read_bytes()

    second = write_broker_config(tmp_path, "h1", hosts=["hall-7.example"])

    assert second.server_cert.read_bytes() != server
    assert (second.ca_cert.read_bytes(), second.client("conc-01").cert.read_bytes()) == (ca, client)
    assert second.hosts == ("hall-7.example",)
    assert write_broker_config(tmp_path, "h1").hosts == ("hall-7.example",)  # remembered


def test_devices_file_and_several_hall_server_instances(tmp_path):
    devices = tmp_path / "devices.toml"
    devices.write_text('[[device]]\nid = "conc-01"\nkind = "concentrator"\n\n'
                       '[[device]]\nid = "kiosk-01"\nkind = "kiosk"\n')
    result = run("broker-config", "--hall", "h1", "--out", str(tmp_path / "b"), "--devices", str(devices),
                 "--device", "conc-02:concentrator", "--hall-server", "hall-a", "--hall-server", "hall-b",
                 "--port", "18883", "--bind", "127.0.0.1", "--run-as", "mosquitto",
                 "--broker-dir", "/etc/mosquitto/hall-h1", "--max-queued", "5000", "--json")

    assert result.exit_code == 0, result.output
    users = {c["user"]: c["kind"] for c in json.loads(result.output)["clients"]}
    assert users == {"conc-01": "concentrator", "conc-02": "concentrator", "kiosk-01": "kiosk",
                     "hall-a": "hall-server", "hall-b": "hall-server"}
    conf = (tmp_path / "b" / "mosquitto.conf").read_text().splitlines()
    for line in ("listener 18883 127.0.0.1", "user mosquitto", "max_queued_messages 5000",
                 "cafile /etc/mosquitto/hall-h1/ca.crt", "acl_file /etc/mosquitto/hall-h1/acl"):
        assert line in conf, line
    assert [d.id for d in load_devices_file(devices)] == ["conc-01", "kiosk-01"]


def test_revoking_a_device_lists_its_serial_and_takes_it_out_of_the_acl(tmp_path):
    first = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator"), ("conc-02", "concentrator")])
    serial = first.client("conc-02").serial

    result = run("broker-config", "--hall", "h1", "--out", str(tmp_path), "--revoke", "conc-02")

    assert result.exit_code == 0, result.output
    assert "revoked: conc-02" in result.output
    crl = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert "user conc-02" not in (tmp_path / "acl").read_text()
    assert not (tmp_path / "clients" / "conc-02.key").exists()
    assert (tmp_path / "revoked" / ("conc-02-%x.crt" % serial)).exists()
    manifest = json.loads((tmp_path / "broker.json").read_text())
    assert [r["id"] for r in manifest["revoked"]] == ["conc-02"]


def test_revoking_and_adding_in_one_run_rotates_the_key(tmp_path):
    first = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")])
    old = first.client("conc-01")
    old_key = old.key.read_bytes()

    second = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")], revoke=["conc-01"])

    new = second.client("conc-01")
    assert new.issued_now and new.serial != old.serial and new.key.read_bytes() != old_key
    crl = x509.load_pem_x509_crl(second.crl.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(old.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(new.serial) is None


def test_a_client_key_may_be_removed_once_it_is_on_its_device(tmp_path):
    first = write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")])
    first.client("conc-01").key.unlink()
    second = write_broker_config(tmp_path, "h1", [("kiosk-01", "kiosk")], revoke=["conc-01"])
    assert second.revoked_now == ("conc-01",)


@pytest.mark.parametrize("args,message", [
    (["--device", "Conc_01:concentrator"], "Error: bad device id 'Conc_01': expected 1-63 characters"),
    (["--device", "conc-01"], "Error: bad device 'conc-01': expected ID:KIND"),
    (["--device", "conc-01:meter"], "Error: bad kind 'meter' of device conc-01: expected one of concentrator, kiosk"),
    (["--device", "conc-01:concentrator", "--device", "conc-01:kiosk"], "Error: device conc-01 is given twice"),
    (["--device", "hall-server:kiosk"], "Error: device id hall-server is reserved for the hall server"),
    (["--device", "a:kiosk", "--hall-server", "a"], "Error: a is given twice (as a device and a hall server user)"),
    (["--host", "bad host"], "Error: bad host 'bad host': expected a DNS name or an IP address"),
    (["--revoke", "conc-09"], "Error: cannot revoke conc-09: no such device in "),
    (["--bind", "127.0.0.1\nallow_anonymous true"], "Error: bad bind address '127.0.0.1\\nallow_anonymous true'"),
    (["--broker-dir", "etc/hall"], "Error: bad broker directory 'etc/hall': expected an absolute path"),
    (["--broker-dir", "/etc/hall\nallow_anonymous true"], "Error: path '/etc/hall\\nallow_anonymous true' holds a control"),
])
def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "broker"
    result = CliRunner().invoke(cli, ["broker-config", "--hall", "h1", "--out", str(out)] + args)

    assert result.exit_code == 1
    assert result.output.startswith(message), result.output
    assert result.output.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())


def test_bad_hall_id(tmp_path):
    result = CliRunner().invoke(cli, ["broker-config", "--hall", "Hall 1", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == ("Error: bad hall id 'Hall 1': expected 1-63 characters of a-z, 0-9 and '-', "
                             "starting with a letter or digit\n")


def test_an_existing_ca_without_its_key_is_an_error_not_a_new_ca(tmp_path):
    write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")])
    (tmp_path / "ca.key").unlink()
    before = snapshot(tmp_path)

    result = CliRunner().invoke(cli, ["broker-config", "--hall", "h1", "--out", str(tmp_path),
                                      "--device", "kiosk-01:kiosk"])

    assert result.exit_code == 1
    assert result.output == ("Error: %s exists but its key %s does not; the CA is never made anew "
                             "(every device trusts it): restore the key or use a new directory\n"
                             % (tmp_path / "ca.crt", tmp_path / "ca.key"))
    assert snapshot(tmp_path) == before


def test_another_halls_directory_is_refused(tmp_path):
    write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")])
    result = CliRunner().invoke(cli, ["broker-config", "--hall", "h2", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == "Error: %s holds the broker of hall h1, not h2; use another directory\n" % tmp_path


def test_a_device_cannot_change_kind_without_being_revoked(tmp_path):
    write_broker_config(tmp_path, "h1", [("conc-01", "concentrator")])
    with pytest.raises(BrokerConfigError, match="device conc-01 is a concentrator in .*, not a kiosk; revoke it first"):
        write_broker_config(tmp_path, "h1", [("conc-01", "kiosk")])


def test_an_unwritable_directory_is_one_error_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(cli, ["broker-config", "--hall", "h1", "--out", str(blocker / "broker")])
    assert result.exit_code == 1
    assert result.output == "Error: cannot create %s: %s is not a directory\n" % (blocker / "broker", blocker)

    with pytest.raises(BrokerConfigError, match="cannot write to %s: not a directory" % blocker):
        write_broker_config(blocker, "h1")


@pytest.mark.parametrize("text,message", [
    ("[[device]]\nid = 'conc-01'\n", "device 1: no kind; expected keys id and kind"),
    ("[[device]]\nid = 'conc-01'\nkind = 'kiosk'\nname = 'x'\n", "device 1: unknown key name"),
    ("[[meter]]\nid = 'conc-01'\n", "unknown key meter; expected [[device]] tables"),
    ("[[device]\n", "is not TOML"),
    ("[[device]]\nid = 'x'\nkind = 'kiosk'\n[[device]]\nid = 'BAD'\nkind = 'kiosk'\n",
     "device 2: bad device id 'BAD'"),
])
def test_bad_devices_files_name_the_file_and_the_entry(tmp_path, text, message):
    devices = tmp_path / "devices.toml"
    devices.write_text(text)
    result = CliRunner().invoke(cli, ["broker-config", "--hall", "h1", "--out", str(tmp_path / "b"),
                                      "--devices", str(devices)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: devices file %s" % devices)
    assert message in result.output
    assert not (tmp_path / "b").exists()


def test_python_m_hall_runs_the_cli(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "hall", "broker-config", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: hall broker-config")
