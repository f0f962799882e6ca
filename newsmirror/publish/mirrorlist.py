"""The signed mirror list: every public address of the mirror, signed so that a reader (or the HTML edition's
service worker) can trust an address it learns from any mirror.

    mirrors.json          {"format", "title", "sequence", "time", "editions": {"markdown": [...], "html": [...]},
                           "other": [...], "public_key"}
    mirrors.json.minisig  minisign signature of those bytes; trusted comment "newsmirror mirrors sequence <n>"

The list is re-signed only when its addresses (or the key) change: the sequence then goes up by one and the time
is the run's, so a run that changed nothing rewrites nothing. Readers and workers keep the list with the highest
sequence whose signature checks out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import minisign

from newsmirror import layout
from newsmirror.config import Config
from newsmirror.publish import signing
from newsmirror.records import RenderedFile

FORMAT = "newsmirror-mirrors/1"


@dataclass(frozen=True)
class MirrorKey:
    """The run's signing key: the secret half signs the list, the public half goes into pages and the worker."""

    secret: minisign.SecretKey
    public: minisign.PublicKey

    @property
    def line(self) -> str:
        return signing.public_key_line(self.public)


def load_key(config: Config) -> MirrorKey | None:
    """The configured key pair (None when `mirror.signing_key` is unset: no list is published)."""
    path = key_path(config)
    if path is None:
        return None
    secret = signing.load_secret_key(path, config.output_dir)
    return MirrorKey(secret, signing.public_key_of(secret))


def addresses(config: Config) -> dict[str, object]:
    """What the list says, apart from its sequence and time (pure)."""
    return {
        "format": FORMAT,
        "title": config.mirror.title,
        "editions": {
            "markdown": layout.public_bases(config) if config.editions.markdown else [],
            "html": layout.public_bases(config, html=True) if config.editions.html else [],
        },
        "other": [str(url) for url in config.mirror.other_addresses],
    }


def encode(body: dict[str, object]) -> bytes:
    return (json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


def decode(data: bytes) -> dict[str, object] | None:
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) and body.get("format") == FORMAT else None


@dataclass(frozen=True)
class SignedList:
    data: bytes  # mirrors.json
    signature: bytes  # mirrors.json.minisig
    changed: bool  # re-signed this run (else the work tree has these bytes already)

    def files(self) -> list[RenderedFile]:
        if not self.changed:
            return []
        return [RenderedFile(layout.MIRROR_LIST, self.data),
                RenderedFile(layout.MIRROR_LIST + signing.SIGNATURE_SUFFIX, self.signature)]


def _published(root: Path, key: MirrorKey) -> tuple[dict[str, object] | None, SignedList | None]:
    """The list in the work tree (whatever its signature, for its sequence number) and, when its signature checks
    out with this key, the signed pair."""
    path = root / layout.MIRROR_LIST
    signature_path = root / (layout.MIRROR_LIST + signing.SIGNATURE_SUFFIX)
    if not path.is_file():
        return None, None
    data = path.read_bytes()
    body = decode(data)
    if body is None or not signature_path.is_file():
        return body, None
    signature = signature_path.read_bytes()
    try:
        signing.verify(data, signature, key.public, str(path))
    except signing.SignatureError:
        return body, None
    return body, SignedList(data, signature, changed=False)


def current_list(config: Config, key: MirrorKey, now: datetime) -> SignedList:
    """This run's mirrors.json and signature: the published pair when the addresses and key are unchanged, else a
    new pair with the next sequence number and this run's time."""
    wanted = {**addresses(config), "public_key": key.line}
    old, signed = _published(config.output_dir, key)
    if old is not None and signed is not None and \
            {k: v for k, v in old.items() if k not in ("sequence", "time")} == wanted:
        return signed
    previous = old.get("sequence") if old is not None else 0
    sequence = (previous if isinstance(previous, int) else 0) + 1
    data = encode({**wanted, "sequence": sequence, "time": now.isoformat()})
    return SignedList(data, signing.sign(data, key.secret, f"newsmirror mirrors sequence {sequence}"), changed=True)


def key_path(config: Config) -> Path | None:
    """The configured secret key's path (None when unset)."""
    if not config.mirror.signing_key:
        return None
    return (config.base_dir / Path(config.mirror.signing_key).expanduser()).resolve()


@dataclass(frozen=True)
class Checked:
    path: Path
    trusted_comment: str
    mirrors: dict[str, object] | None  # the list's contents, when the file is a mirror list


def check_file(path: Path, public_key: minisign.PublicKey) -> Checked:
    """Check a downloaded list or page bundle against its .minisig beside it (SignatureError when it fails)."""
    comment = signing.verify_file(path, public_key)
    return Checked(path, comment, decode(path.read_bytes()) if path.suffix == ".json" else None)
