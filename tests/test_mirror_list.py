"""The signed mirror list: keys, signatures the stock `minisign -V` accepts, re-signing only on change, the CLI.

Runs the demo mirror (real site on 127.0.0.1, real git, real SQLite) with a key made by `newsmirror keygen`, and
checks every signature with Debian's minisign.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from newsmirror.config import ConfigError, load_config
from newsmirror.pipeline import RunRequest, run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.publish import mirrorlist, signing

from conftest import make_config, write_demo_config

MINISIGN = shutil.which("minisign")


def newsmirror(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsmirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def minisign_verify(path: Path, public_key: Path) -> subprocess.CompletedProcess:
    if MINISIGN is None:
        pytest.fail("minisign is missing: apt-get install -y minisign")
    return subprocess.run([MINISIGN, "-V", "-m", str(path), "-p", str(public_key)], capture_output=True, text=True)


def test_keygen_writes_a_private_key_and_never_overwrites(tmp_path):
    made = signing.generate_keys(tmp_path / "keys" / "mirror.key")
    assert stat.S_IMODE(os.stat(made.secret).st_mode) == 0o600
    assert made.public == tmp_path / "keys" / "mirror.pub"
    assert made.public.read_text().splitlines()[1] == made.public_key
    with pytest.raises(signing.SignatureError, match="never overwrites"):
        signing.generate_keys(made.secret)
    with pytest.raises(signing.SignatureError, match="outside the mirror"):
        signing.generate_keys(tmp_path / "mirror" / "site" / "k.key", work_tree=tmp_path / "mirror")


def test_a_signature_minisign_accepts_and_a_changed_byte_it_refuses(tmp_path):
    made = signing.generate_keys(tmp_path / "m.key")
    secret = signing.load_secret_key(made.secret, tmp_path / "elsewhere")
    data = tmp_path / "bundle.txt"
    data.write_bytes("新闻 news\n".encode())
    (tmp_path / "bundle.txt.minisig").write_bytes(signing.sign(data.read_bytes(), secret, "sequence 7"))
    result = minisign_verify(data, made.public)
    assert result.returncode == 0, result.stderr
    assert "Trusted comment: sequence 7" in result.stdout
    assert signing.verify_file(data, signing.read_public_key(made.public_key)) == "sequence 7"
    data.write_bytes("新闻 newt\n".encode())
    assert minisign_verify(data, made.public).returncode != 0
    with pytest.raises(signing.SignatureError, match="signature check failed"):
        signing.verify_file(data, signing.read_public_key(str(made.public)))


def test_each_run_publishes_the_list_and_resigns_only_when_an_address_changes(demo_site, tmp_path):
    keys = signing.generate_keys(tmp_path / "keys" / "mirror.key")
    config = make_config(demo_site, tmp_path, signing_key=str(keys.secret),
                         public_base_urls=["https://a.example/news/", "https://b.example/"],
                         other_addresses=["http://mirrorexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion/"])
    run_once(config, Reporter(QUIET))
    root = config.output_dir
    listed = root / "mirrors.json"
    assert minisign_verify(listed, keys.public).returncode == 0
    body = json.loads(listed.read_bytes())
    assert body["sequence"] == 1 and body["public_key"] == keys.public_key
    assert body["editions"] == {"markdown": ["https://a.example/news/", "https://b.example/"],
                                "html": ["https://a.example/news/", "https://b.example/"]}
    assert body["other"] == ["http://mirrorexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion/"]
    page = next((root / "site" / "pages").rglob("*.html")).read_text(encoding="utf-8")
    assert '<a href="../../../mirrors.json">Signed mirror list</a>' in page
    markdown = next((root / "pages").rglob("*.md")).read_text(encoding="utf-8")
    assert "[b.example](<https://b.example/pages/" in markdown and "[Signed mirror list](<../../mirrors.json>)" \
        in markdown
    worker = (root / "site" / "sw.js").read_text(encoding="utf-8")
    assert json.dumps(listed.read_text(encoding="utf-8")) in worker  # the worker carries the signed list

    first = listed.read_bytes(), (root / "mirrors.json.minisig").read_bytes()
    again = run_once(config, Reporter(QUIET))  # nothing changed: nothing rewritten, no commit
    assert again.publish.commit is None
    assert (listed.read_bytes(), (root / "mirrors.json.minisig").read_bytes()) == first

    moved = config.model_copy(update={"mirror": config.mirror.model_copy(
        update={"public_base_urls": ["https://a.example/news/", "https://c.example/"]})})
    run_once(moved, Reporter(QUIET), RunRequest(rebuild=True))
    body = json.loads(listed.read_bytes())
    assert body["sequence"] == 2 and body["editions"]["html"][1] == "https://c.example/"
    assert minisign_verify(listed, keys.public).returncode == 0
    assert json.dumps(listed.read_text(encoding="utf-8")) in (root / "site" / "sw.js").read_text(encoding="utf-8")
    assert "https://c.example/pages/" in next((root / "pages").rglob("*.md")).read_text(encoding="utf-8")


def test_a_secret_key_inside_the_work_tree_stops_the_run(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path)
    keys = signing.generate_keys(tmp_path / "mirror-keys" / "mirror.key")
    inside = config.output_dir / "keys" / "mirror.key"
    inside.parent.mkdir(parents=True)
    shutil.copy(keys.secret, inside)
    config = make_config(demo_site, tmp_path, signing_key=str(inside))
    with pytest.raises(signing.SignatureError, match="inside the mirror's work tree") as caught:
        run_once(config, Reporter(QUIET))
    assert caught.value.stage.value == "config" and str(inside) in str(caught.value)
    assert not (config.output_dir / "mirrors.json").exists()


def test_signing_key_must_be_one_line(tmp_path):
    path = tmp_path / "newsmirror.toml"
    path.write_text('[mirror]\nsigning_key = "a\\nb"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="signing_key"):
        load_config(path)


def test_cli_keygen_and_verify(demo_site, tmp_path):
    config_path = write_demo_config(demo_site, tmp_path / "m")
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("[mirror]\n", '[mirror]\nsigning_key = "../keys/mirror.key"\n', 1),
                           encoding="utf-8")
    made = newsmirror("keygen", cwd=config_path.parent)
    assert made.returncode == 0, made.stderr
    public = (tmp_path / "keys" / "mirror.pub").read_text().splitlines()[1]
    assert public in made.stdout
    assert newsmirror("keygen", cwd=config_path.parent).returncode != 0  # never overwrites
    inside = newsmirror("keygen", str(tmp_path / "m" / "mirror" / "k.key"), cwd=config_path.parent)
    assert inside.returncode == 2 and "outside the mirror" in inside.stderr

    ran = newsmirror("run", "--quiet", cwd=config_path.parent)
    assert ran.returncode == 0, ran.stderr
    listed = tmp_path / "m" / "mirror" / "mirrors.json"
    checked = newsmirror("verify", str(listed), cwd=config_path.parent)  # the configured key
    assert checked.returncode == 0 and "signature OK (newsmirror mirrors sequence 1)" in checked.stdout
    by_line = newsmirror("verify", str(listed), "--key", public, cwd=tmp_path)
    assert by_line.returncode == 0, by_line.stderr
    forged = tmp_path / "mirrors.json"
    forged.write_bytes(listed.read_bytes().replace(b'"sequence": 1', b'"sequence": 9'))
    shutil.copy(str(listed) + ".minisig", str(forged) + ".minisig")
    refused = newsmirror("verify", str(forged), "--key", public, cwd=tmp_path)
    assert refused.returncode == 1 and "signature check failed" in refused.stderr
    assert mirrorlist.decode(forged.read_bytes())["sequence"] == 9  # the same list, only the number changed
