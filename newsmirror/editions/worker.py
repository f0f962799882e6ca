"""The HTML edition's service worker (pure): `<html_dir>/sw.js`, built from templates/html/sw.js with this mirror's
public key, its signed mirror list, its cache cap and its "served from" label; and the one inline line every page
runs to register it (allowed by its hash in the page's Content-Security-Policy, so no other script runs).

Without a signing key the worker keeps offline copies only (it has no list to fail over to). With
`editions.service_worker = false` pages carry no script; a worker a reader's browser registered earlier is replaced
by one that unregisters itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from functools import lru_cache
from importlib.resources import files as package_files

from newsmirror import layout
from newsmirror.config import Config
from newsmirror.publish import signing
from newsmirror.publish.mirrorlist import MirrorKey, SignedList, current_list
from newsmirror.records import RenderedFile

# The page's inline registration: the worker's relative URL comes from the script's data-sw attribute, so the
# text (and its hash in the CSP) is the same on every page.
REGISTER = ('if("serviceWorker"in navigator)navigator.serviceWorker.register(document.currentScript.dataset.sw)'
            '.catch(function(){})')
REGISTER_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(REGISTER.encode()).digest()).decode() + "'"
UNREGISTER = ('"use strict";self.addEventListener("install",()=>self.skipWaiting());'
              'self.addEventListener("activate",(e)=>e.waitUntil(self.registration.unregister()));\n')
TIMEOUT_MS = 8000  # the current host's (and each other mirror's) time to answer before the next is tried


@lru_cache(maxsize=1)
def _template() -> str:
    return package_files("newsmirror").joinpath("templates/html/sw.js").read_text(encoding="utf-8")


def worker_path(config: Config) -> str:
    return f"{layout.html_dir(config)}/sw.js"


def settings(config: Config, key: MirrorKey | None, signed: SignedList | None) -> dict[str, object]:
    key_id, public = signing.raw_public_key(key.public) if key else (b"", b"")
    return {
        "root": "../" * len(layout.html_dir(config).split("/")),
        "key": base64.b64encode(public).decode() if key else "",
        "keyId": base64.b64encode(key_id).decode() if key else "",
        "list": signed.data.decode("utf-8") if signed else "",
        "signature": signed.signature.decode("ascii") if signed else "",
        "capBytes": int(config.editions.offline_cache_mb * 1_000_000),
        "timeoutMs": TIMEOUT_MS,
        "servedFrom": config.labels.served_from,
    }


def worker_files(config: Config, key: MirrorKey | None, signed: SignedList | None) -> list[RenderedFile]:
    """The worker of this run (written only when its bytes changed); nothing when the HTML edition is off."""
    if not config.editions.html:
        return []
    path = worker_path(config)
    if not config.editions.service_worker:
        was_published = (config.output_dir / path).is_file()
        return [RenderedFile(path, UNREGISTER.encode())] if was_published else []
    text = _template().replace("__SETTINGS__", json.dumps(settings(config, key, signed), ensure_ascii=False,
                                                          sort_keys=True))
    return [RenderedFile(path, text.encode("utf-8"))]


def list_and_worker(config: Config, key: MirrorKey | None, now: datetime) -> list[RenderedFile]:
    """The run's signed mirror list (when re-signed) and the worker that carries it."""
    signed = current_list(config, key, now) if key is not None else None
    return (signed.files() if signed else []) + worker_files(config, key, signed)
