"""The hall broker's small PKI: one CA, a server certificate, client certificates, a CRL.

Invariants:

* Keys are ECDSA P-256. Mosquitto 2.0 with OpenSSL 3 accepts Ed25519 as well,
  but P-256 is what every TLS stack a device may carry (OpenSSL 1.1, mbedTLS,
  wolfSSL, Java) can verify, and what MQTT clusters such as EMQX load without
  extra settings.
* A client certificate's common name is the MQTT user name: the broker runs with
  ``use_identity_as_username``, so the CN is the only identity the ACL sees.
* Certificates are back-dated by a day so that a device whose clock is a little
  behind (see the clock-quality field of records) still accepts the server.
* The CRL is valid for as long as the CA: OpenSSL rejects every client once the
  CRL it was given has expired, and the broker is given one from the start.

Nothing here touches files; ``_write`` does.
"""

import datetime
import ipaddress

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The CA outlives the certificates it issues, so that leaves can be renewed
# without touching every device's trust store.
CA_DAYS = 3650
_BACKDATE = datetime.timedelta(days=1)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def crl_pem(crl):
    return crl.public_bytes(serialization.Encoding.PEM)


def load_key(data):
    return serialization.load_pem_private_key(data, password=None)


def load_cert(data):
    return x509.load_pem_x509_certificate(data)


def load_crl(data):
    return x509.load_pem_x509_crl(data)


def _name(common_name, hall):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hall %s" % hall),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def common_name(cert):
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def new_ca(hall, now):
    """A self-signed CA for one hall. Returns ``(key, cert)``."""
    key = new_key()
    name = _name("hall %s broker CA" % hall, hall)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(ca_key, ca_cert, hall, cn, days, now, usage, sans=None):
    key = new_key()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, hall))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def host_names(hosts):
    """Host strings -> SAN entries (IP addresses where they parse as one)."""
    out = []
    for host in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def server_hosts(cert):
    """The host strings a server certificate was issued for, in its SAN order."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(entry.value) for entry in san]


def new_server(ca_key, ca_cert, hall, hosts, days, now):
    """The broker's certificate, valid for every name in ``hosts``. Returns ``(key, cert)``."""
    return _leaf(ca_key, ca_cert, hall, hosts[0], days, now, ExtendedKeyUsageOID.SERVER_AUTH,
                 host_names(hosts))


def new_client(ca_key, ca_cert, hall, user, days, now):
    """A client certificate whose CN is the MQTT user ``user``. Returns ``(key, cert)``."""
    return _leaf(ca_key, ca_cert, hall, user, days, now, ExtendedKeyUsageOID.CLIENT_AUTH)


def issued_by(cert, ca_cert):
    """True when ``ca_cert``'s key signed ``cert``."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_matches(key, cert):
    return key.public_key() == cert.public_key()


def new_crl(ca_key, ca_cert, serials, now):
    """A CRL listing ``serials`` (int), valid until the CA expires."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(ca_cert.not_valid_after_utc)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(ca_key, hashes.SHA256())
