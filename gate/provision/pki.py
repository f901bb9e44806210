"""The operator's CA at work for provisioning: device certificates, the broker's, the CRL.

EC P-256 keys and SHA-256 signatures, what Debian's Mosquitto (OpenSSL 3) and Python's ssl take
everywhere. A device's certificate names the device id as its CN, which is the broker user when
the listener has `use_identity_as_username true`, so the ACL's %u patterns fit it as they fit a
password user. The CRL lists every certificate revoked; the broker reads it at start and again
on SIGHUP (checked with Debian's Mosquitto 2.0.11 by tests/provision), and refuses every client
once it has lapsed: it is written again at each change and by `gate provision crl`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gate.provision.venue import ProvisionError
from gate.sync.link import LinkError, read_private

CA_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Issued:
    certificate: bytes  # PEM
    key: bytes  # PEM, unencrypted: the device's file is mode 0600
    serial: int
    not_after: dt.datetime


@dataclass(frozen=True, slots=True)
class Ca:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> Ca:
        try:
            certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except OSError as exc:
            raise ProvisionError(f"tls.ca_file {cert_file}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise ProvisionError(f"tls.ca_file {cert_file}: not a PEM certificate ({exc})") from exc
        try:
            key = serialization.load_pem_private_key(read_private(key_file, what="tls.ca_key_file"), password=None)
        except LinkError as exc:
            raise ProvisionError(str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise ProvisionError(f"tls.ca_key_file {key_file}: not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ProvisionError(f"tls.ca_key_file {key_file}: not an EC key (gate provision init makes one)")
        if _spki(key.public_key()) != _spki(certificate.public_key()):
            raise ProvisionError(f"tls.ca_key_file {key_file} is not the key of tls.ca_file {cert_file}")
        return cls(certificate, key)

    @classmethod
    def create(cls, cert_file: Path, key_file: Path, name: str) -> Ca:
        """A new CA, its key written mode 0600; never over existing files."""
        for path in (cert_file, key_file):
            if path.exists():
                raise ProvisionError(f"{path} exists: a CA is never overwritten")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        write_new(key_file, _key_pem(key), 0o600)
        write_new(cert_file, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        return cls(certificate, key)

    def issue(self, name: str, days: int, *, server_names: Iterable[str] = ()) -> Issued:
        """A certificate for `name` (a device id: client; with `server_names`: the broker's)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        not_after = min(now + dt.timedelta(days=days), self.certificate.not_valid_after_utc)
        serial = x509.random_serial_number()
        names = list(server_names)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if names else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )  # fmt: skip
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                                            critical=False)  # fmt: skip
        certificate = builder.sign(self.key, hashes.SHA256())
        return Issued(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key), serial, not_after)

    def crl(self, revoked: Iterable[tuple[int, dt.datetime]], days: int) -> bytes:
        """The CRL of these (serial, revoked at), valid `days` from now, PEM."""
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder().issuer_name(self.certificate.subject)
            .last_update(now - dt.timedelta(minutes=5)).next_update(now + dt.timedelta(days=days))
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )  # fmt: skip
        for serial, at in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def write_new(path: Path, data: bytes, mode: int) -> None:
    """A file that must not exist yet, made with its mode (a key is never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """`path` replaced whole (a reader sees the old file or the new, never half of one), synced."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    temporary.unlink(missing_ok=True)
    write_new(temporary, data, mode)
    temporary.chmod(mode)  # the umask may have taken bits off
    temporary.replace(path)
    descriptor = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
