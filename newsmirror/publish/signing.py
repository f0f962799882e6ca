"""Ed25519 keys and signatures in minisign's format (py-minisign), so that anyone can check what the mirror signs
with the stock `minisign -V`.

    generate_keys(secret_path)              -> KeyFiles      writes <name>.key (mode 0600) and <name>.pub
    load_secret_key(path, work_tree)        -> SecretKey     refuses a key inside the mirror's work tree
    sign(data, secret_key, comment)         -> bytes         the .minisig file (a pure Ed25519 signature)
    verify(data, signature, public_key)     -> str           its trusted comment; SignatureError when it fails

Signatures are of the bytes themselves (minisign's legacy "Ed" mode, which `minisign -V` accepts), not of their
BLAKE2b hash: the service worker checks them with WebCrypto, which has Ed25519 but no BLAKE2b.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import minisign

from newsmirror.errors import NewsmirrorError, Stage

SIGNATURE_SUFFIX = ".minisig"
UNTRUSTED_COMMENT = "signature from newsmirror secret key"


class SignatureError(NewsmirrorError):
    """A signature or key that does not check out, naming the file."""

    def __init__(self, resource: str, reason: str, stage: Stage = Stage.PUBLISH):
        super().__init__(resource, stage, reason)


@dataclass(frozen=True)
class KeyFiles:
    secret: Path
    public: Path
    public_key: str  # the base64 line minisign's -P takes


def public_path_for(secret_path: Path) -> Path:
    """Where the public key of `secret_path` lives: beside it, named .pub (minisign's own convention)."""
    return secret_path.with_suffix(".pub")


def inside(path: Path, root: Path) -> bool:
    path, root = path.resolve(), root.resolve()
    return path == root or root in path.parents


def generate_keys(secret_path: Path, work_tree: Path | None = None) -> KeyFiles:
    """A new unencrypted key pair (runs are unattended, so there is no password to type): the secret key readable
    by its owner only. Never overwrites a key; refuses a path inside the mirror's work tree (it would be
    published)."""
    if work_tree is not None and inside(secret_path, work_tree):
        raise SignatureError(str(secret_path), f"the secret key must live outside the mirror's work tree {work_tree}",
                             Stage.CONFIG)
    public_path = public_path_for(secret_path)
    for path in (secret_path, public_path):
        if path.exists():
            raise SignatureError(str(path), "exists already; newsmirror never overwrites a key", Stage.CONFIG)
    pair = minisign.KeyPair.generate()
    secret_path.parent.mkdir(parents=True, exist_ok=True)
    with pair.secret_key as secret:
        fd = os.open(secret_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with open(fd, "wb") as handle:
            handle.write(bytes(secret) + b"\n")
    public_path.write_bytes(bytes(pair.public_key) + b"\n")
    return KeyFiles(secret_path, public_path, pair.public_key.to_base64().decode("ascii"))


def load_secret_key(path: Path, work_tree: Path) -> minisign.SecretKey:
    if inside(path, work_tree):
        raise SignatureError(str(path), f"the secret key is inside the mirror's work tree {work_tree}: it would be "
                             "published; move it out and set mirror.signing_key to its new path", Stage.CONFIG)
    try:
        key = minisign.SecretKey.from_file(path)
    except FileNotFoundError:
        raise SignatureError(str(path), "no such secret key (make one with `newsmirror keygen`)", Stage.CONFIG) \
            from None
    except minisign.Error as exc:
        raise SignatureError(str(path), f"not a minisign secret key: {exc}", Stage.CONFIG) from exc
    if key.is_encrypted():
        raise SignatureError(str(path), "the secret key is password-protected; unattended runs need a key without "
                             "one (`newsmirror keygen`)", Stage.CONFIG)
    return key


def public_key_of(secret_key: minisign.SecretKey) -> minisign.PublicKey:
    return secret_key.get_public_key()


def public_key_line(public_key: minisign.PublicKey) -> str:
    return public_key.to_base64().decode("ascii")


def raw_public_key(public_key: minisign.PublicKey) -> tuple[bytes, bytes]:
    """(key id, 32-byte Ed25519 public key): what the service worker needs to check a signature."""
    raw = base64.b64decode(public_key.to_base64())  # "Ed" + 8-byte key id + 32-byte key
    return raw[2:10], raw[10:42]


def sign(data: bytes, secret_key: minisign.SecretKey, trusted_comment: str) -> bytes:
    signature = secret_key.sign(data, prehash=False, untrusted_comment=UNTRUSTED_COMMENT,
                                trusted_comment=trusted_comment)
    return bytes(signature) + b"\n"


def read_public_key(value: str) -> minisign.PublicKey:
    """A public key given as its base64 line or as the path of a .pub file."""
    try:
        if Path(value).is_file():
            return minisign.PublicKey.from_file(value)
        return minisign.PublicKey.from_base64(value.strip())
    except (minisign.Error, ValueError) as exc:
        raise SignatureError(value, f"not a minisign public key: {exc}", Stage.CONFIG) from exc


def verify(data: bytes, signature: bytes, public_key: minisign.PublicKey, resource: str = "data") -> str:
    """The signature's trusted comment when `signature` is `public_key`'s signature of `data`."""
    try:
        parsed = minisign.Signature.from_bytes(signature)
        public_key.verify(data, parsed)
    except minisign.Error as exc:
        raise SignatureError(resource, f"signature check failed: {exc}") from exc
    return parsed.trusted_comment


def verify_file(path: Path, public_key: minisign.PublicKey) -> str:
    """Check `path` against `path`.minisig; return the trusted comment."""
    signature_path = path.with_name(path.name + SIGNATURE_SUFFIX)
    if not signature_path.is_file():
        raise SignatureError(str(signature_path), "no signature beside the file")
    return verify(path.read_bytes(), signature_path.read_bytes(), public_key, str(path))
