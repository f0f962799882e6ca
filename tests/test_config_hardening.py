"""Configuration that cannot work fails when the file is loaded: exit 2, every bad key named, nothing written.

Each value below was reported getting through the loader and failing later (at render, in retention, at publish, as a
hang or as "unexpected error: ExceptionGroup"), or being accepted silently.
"""

from __future__ import annotations

import math
import subprocess
import sys
import typing
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from newsmirror.config import (CHANNEL_NAME, Channel, Config, ConfigError, CounterSettings, Editions, FetchSettings,
                               ImageSettings, MenuLink, MirrorSettings, Remote, SizeBudgets, Source, load_config)
from newsmirror.fetch.resolve import ResolvingTransport

SOURCE = '[[sources]]\nname = "a"\nkind = "feed"\nchannel = "world"\nurl = "https://news.example.org/feed.xml"\n'


def load(tmp_path: Path, text: str) -> Config:
    """Through `load_config`, the function every CLI command loads its --config with."""
    path = tmp_path / "newsmirror.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'newsmirror.toml'}: ") and "configuration error(s)" in message
    return message


# -- the reported values, one each --------------------------------------------------------------------------------

@pytest.mark.parametrize("template", ["https://c.example/p/{bogus}", "https://c.example/p/{}", "https://c.example/{0}",
                                      "https://c.example/p/{", "https://c.example/p/{path.real}",
                                      "https://c.example/p/{path:>999999999}"])
def test_counter_pixel_placeholders_are_checked_at_load(tmp_path, template):
    message = problems(tmp_path, f'[mirror]\ncounter_pixel = "{template}"\n' + SOURCE)
    assert "key 'mirror.counter_pixel': expected a template whose only placeholders are {path}, {id}, {channel}" \
        in message and f"found {template!r}" in message


def test_counter_pixel_must_fill_in_to_an_http_url(tmp_path):
    message = problems(tmp_path, '[mirror]\ncounter_pixel = "javascript:{path}"\n' + SOURCE)
    assert "mirror.counter_pixel': expected an http:// or https:// URL" in message


def test_a_good_counter_pixel_still_loads(tmp_path):
    config = load(tmp_path, '[mirror]\ncounter_pixel = "https://c.example/{channel}/{id}?p={path}&x={{1}}"\n' + SOURCE)
    assert config.mirror.counter_pixel.format(path="p", id="i", channel="c") == "https://c.example/c/i?p=p&x={1}"


@pytest.mark.parametrize("table", ["[mirror]", "[channels.world]"])
def test_keep_days_beyond_any_date_is_refused(tmp_path, table):
    message = problems(tmp_path, f"{table}\nkeep_days = 9223372036854775807\n" + SOURCE)
    key = "mirror" if table == "[mirror]" else "channels.world"
    assert f"key '{key}.keep_days': expected at most 36500; found 9223372036854775807" in message


def test_keep_newest_is_bounded_too(tmp_path):
    assert "mirror.keep_newest': expected at most 100000000" in problems(
        tmp_path, "[mirror]\nkeep_newest = 9223372036854775807\n" + SOURCE)


def test_fetch_delay_inf_is_refused(tmp_path):
    assert "key 'fetch.delay': expected a finite number; found inf" in problems(
        tmp_path, "[fetch]\ndelay = inf\n" + SOURCE)


def test_fetch_timeout_inf_is_refused(tmp_path):
    assert "key 'fetch.timeout': expected a finite number; found inf" in problems(
        tmp_path, "[fetch]\ntimeout = inf\n" + SOURCE)


def test_huge_finite_delays_are_refused(tmp_path):
    message = problems(tmp_path, "[fetch]\ndelay = 1e300\nbackoff = 1e300\n[mirror]\nretry_base_minutes = 1e300\n"
                       + SOURCE)
    assert "fetch.delay': expected at most 3600" in message and "fetch.backoff': expected at most 3600" in message
    assert "mirror.retry_base_minutes': expected at most 1440" in message


def test_nan_anywhere_is_refused_every_key_at_once(tmp_path):
    text = ("[fetch]\nbackoff = nan\nmax_retry_after = nan\n[editions]\nsearch_every = nan\n"
            "[size]\nfile_budget_mb = nan\n[counter]\nhot_half_life_days = nan\nflush_seconds = nan\n"
            "[mirror]\nretry_base_minutes = nan\n" + SOURCE)
    message = problems(tmp_path, text)
    assert message.count("expected a finite number; found nan") == 7, message
    for key in ("fetch.backoff", "fetch.max_retry_after", "editions.search_every", "size.file_budget_mb",
                "counter.hot_half_life_days", "counter.flush_seconds", "mirror.retry_base_minutes"):
        assert f"key '{key}'" in message


def test_source_channel_with_a_trailing_newline_is_refused(tmp_path):
    message = problems(tmp_path, SOURCE.replace('channel = "world"', 'channel = "world\\n"'))
    assert "key 'sources[0] (a).channel': expected a channel name" in message and r"found 'world\n'" in message


def test_channel_table_name_with_a_trailing_newline_is_refused(tmp_path):
    message = problems(tmp_path, '[channels."world\\n"]\ntitle = "World"\n' + SOURCE)
    assert "key 'channels': expected channel names of" in message and r"'world\n'" in message


def test_remote_name_and_branch_with_a_trailing_newline_are_refused(tmp_path):
    remote = '[[remotes]]\nname = "up\\n"\nurl = "file:///srv/m.git"\nbranch = "main\\n"\n'
    message = problems(tmp_path, SOURCE + remote)
    assert "remotes[0] ('up\\n').name': expected a remote name" in message
    assert "remotes[0] ('up\\n').branch': expected a git branch name" in message


def test_urls_source_entries_must_be_http(tmp_path):
    text = '[[sources]]\nname = "p"\nkind = "urls"\nchannel = "picks"\nurls = ["not a url", "javascript:alert(1)"]\n'
    message = problems(tmp_path, text)
    assert "2 configuration error(s)" in message
    assert "key 'sources[0] (p).urls[0]': expected an http:// or https:// URL" in message and "'not a url'" in message
    assert "key 'sources[0] (p).urls[1]': expected an http:// or https:// URL" in message


@pytest.mark.parametrize("url", ["http://", "https://news.example.org:99999/feed", "https://news.example.org:0/",
                                 "https://news example.org/", "http://[::1/feed", "https://news.example.org/a\tb"])
def test_source_url_needs_a_host_and_a_valid_port(tmp_path, url):
    message = problems(tmp_path, SOURCE.replace("https://news.example.org/feed.xml", url.replace("\t", "\\t")))
    assert "key 'sources[0] (a).url': expected an http:// or https:// URL" in message


@pytest.mark.parametrize("html_dir", [".git", ".git/site", "site/.git", ".GIT", "../x", "site/../..", "/srv/site",
                                      "", ".", "assets", "pages/site", "si te", "site\\n"])
def test_html_dir_stays_inside_the_mirror_and_out_of_git(tmp_path, html_dir):
    message = problems(tmp_path, f'[editions]\nhtml_dir = "{html_dir}"\n' + SOURCE)
    assert "key 'editions.html_dir': expected a " in message


def test_a_nested_html_dir_still_loads(tmp_path):
    assert load(tmp_path, '[editions]\nhtml_dir = "www/news/"\n' + SOURCE).editions.html_dir == "www/news/"


@pytest.mark.parametrize("output", [".git", "x/.git/mirror", ".git/modules/m", "mirror\\n"])
def test_output_never_reaches_into_a_git_directory(tmp_path, output):
    assert "key 'mirror.output': expected a " in problems(tmp_path, f'[mirror]\noutput = "{output}"\n' + SOURCE)


def test_output_inside_a_git_directory_found_by_resolving(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / ".git")
    assert "key 'mirror.output': a directory outside any '.git' directory" in problems(
        tmp_path, '[mirror]\noutput = "link/mirror"\n' + SOURCE)


@pytest.mark.parametrize("author", ["a <b@c>\\nCo-authored-by: x <y@z>", "newsmirror", "<a@b>", "a <b c@d>",
                                    "a <b@c> extra", "a\\t<b@c>"])
def test_commit_author_is_one_name_email_line(tmp_path, author):
    message = problems(tmp_path, f'[mirror]\ncommit_author = "{author}"\n' + SOURCE)
    assert "key 'mirror.commit_author': expected 'Name <email>' on one line" in message


def test_unknown_opencc_profile_fails_at_load_for_the_mirror_and_a_source(tmp_path):
    text = '[editions]\nconvert = "bogus"\n' + SOURCE + 'convert = "../../etc/passwd"\n'
    message = problems(tmp_path, text)
    assert "key 'editions.convert': expected an OpenCC profile: " in message and "s2t" in message
    assert "key 'sources[0] (a).convert': expected an OpenCC profile" in message


@pytest.mark.parametrize("key", ["mirror.public_base_urls", "editions.html_public_base_urls",
                                 "images.asset_base_urls"])
def test_public_base_urls_must_be_http(tmp_path, key):
    table, name = key.split(".")
    message = problems(tmp_path, f'[{table}]\n{name} = ["https://ok.example/", "ftp://files.example/m/"]\n' + SOURCE)
    assert f"key '{key}[1]': expected an http:// or https:// URL" in message and f"key '{key}[0]'" not in message


def test_menu_urls_must_be_http(tmp_path):
    message = problems(tmp_path, '[[menu]]\nlabel = "About"\nurl = "javascript:alert(1)"\n' + SOURCE)
    assert "key 'menu[0].url': expected an http:// or https:// URL" in message


@pytest.mark.parametrize("address", ["127.0.0.1:http", "127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:", ":8080",
                                     "127.0.0.1", "a b:80", "[::1:80"])
def test_fetch_resolve_entries_are_host_port(tmp_path, address):
    message = problems(tmp_path, f'[fetch]\nresolve = {{ "news.example.org" = "{address}" }}\n' + SOURCE)
    assert "key 'fetch.resolve': expected entries \"host\" = \"address:port\" with a port from 1 to 65535" in message
    assert f"'news.example.org' = {address!r}" in message


def test_good_resolve_entries_load_and_reach_the_transport(tmp_path):
    config = load(tmp_path, '[fetch]\nresolve = { "a.example" = "127.0.0.1:8080", "b.example:443" = "[::1]:8443" }\n'
                  + SOURCE)
    transport = ResolvingTransport(config.fetch.resolve, inner=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert transport.targets == {"a.example": ("127.0.0.1", 8080), "b.example:443": ("::1", 8443)}


def test_the_transport_names_a_bad_entry_built_in_code():
    with pytest.raises(ValueError, match=r"fetch\.resolve 'a\.test' = '127\.0\.0\.1:no-port': a port from 1"):
        ResolvingTransport({"a.test": "127.0.0.1:no-port"})


def test_every_kind_of_problem_is_listed_at_once(tmp_path):
    text = ('[mirror]\ncounter_pixel = "{bogus}"\nkeep_days = 9223372036854775807\ncommit_author = "x\\n"\n'
            '[fetch]\ndelay = inf\nresolve = { "a" = "b:c" }\n[editions]\nhtml_dir = ".git"\nconvert = "bogus"\n'
            + SOURCE.replace('"world"', '"world\\n"'))
    message = problems(tmp_path, text)
    assert "8 configuration error(s)" in message, message


# -- through the real CLI: exit 2, the key named, no state database or lock created --------------------------------

CLI_CASES = {
    "editions.convert": '[editions]\nconvert = "bogus"\n',
    "fetch.resolve": '[fetch]\nresolve = { "news.example.org" = "127.0.0.1:99999" }\n',
    "mirror.counter_pixel": '[mirror]\ncounter_pixel = "https://c.example/{bogus}"\n',
}
RUNNABLE = ('[mirror]\nstate = "state.db"\n[fetch]\nretries = 0\ntimeout = 2\n'
            '[images]\nlocalise = false\n[editions]\nhtml = false\n')


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("key", list(CLI_CASES))
def test_run_exits_2_naming_the_key_and_creates_nothing(tmp_path, key):
    config = tmp_path / "project" / "newsmirror.toml"
    config.parent.mkdir()
    config.write_text(CLI_CASES[key] + SOURCE.replace("https://news.example.org", "http://127.0.0.1:9"))
    result = cli("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"key '{key}'" in result.stderr and "Traceback" not in result.stderr
    assert "unexpected error" not in result.stderr
    assert sorted(p.name for p in config.parent.iterdir()) == ["newsmirror.toml"]  # no newsmirror.db, no .lock


def test_add_refuses_a_channel_with_a_trailing_newline(tmp_path):
    unreachable = SOURCE.replace("https://news.example.org", "http://127.0.0.1:9")
    (tmp_path / "newsmirror.toml").write_text(RUNNABLE + unreachable)
    result = cli("add", "http://127.0.0.1:9/a.html", "--channel", "world\n", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--channel" in result.stderr and "a channel name" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newsmirror.toml"]


# -- property: any value either loads or is a ConfigError -------------------------------------------------------

MODELS = {"mirror": MirrorSettings, "fetch": FetchSettings, "editions": Editions, "images": ImageSettings,
          "size": SizeBudgets, "counter": CounterSettings, "sources": Source, "remotes": Remote, "menu": MenuLink,
          "channels": Channel}
FIELDS = [(table, name) for table, model in MODELS.items() for name in model.model_fields]
HOSTILE = ["\n", "\r", "\x00", "\t", "\x7f", "\x85", "\u2028", "{", "}", "{path}", "{id}", "{0}", "..", "/", ".git",
           ":", "@", "<", ">", " ", '"', "\\", "%", "#", "?", "[", "]", "a", "z", "0", "9", "-", "_", ".", "é", "中"]
PREFIXES = ["", "http://", "https://", "https://a.example", "https://a.example:", "javascript:", "ftp://", "../",
            ".git/", "site/", "127.0.0.1:", "[::1]:", "x <y@z>", "s2t"]
texts = st.builds(lambda prefix, tail: prefix + tail, st.sampled_from(PREFIXES),
                  st.lists(st.sampled_from(HOSTILE) | st.characters(), max_size=8).map("".join))
floats = st.sampled_from([math.inf, -math.inf, math.nan, 1e300, 5e-324, -1.0, 0.0]) | st.floats()
ints = (st.sampled_from([0, -1, 65535, 65536, 2**31, 10**12, 2**63 - 1, -(2**63)])
        | st.integers(min_value=-(2**63), max_value=2**63 - 1))
scalars = st.one_of(floats, ints, st.booleans(), texts)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(texts, texts, max_size=2))


def typed(field: tuple[str, str]) -> st.SearchStrategy[object]:
    """Values of the field's own type (in range or not), so that many documents load and get used."""
    annotation = MODELS[field[0]].model_fields[field[1]].annotation
    origin, kinds = typing.get_origin(annotation), set(typing.get_args(annotation)) | {annotation}
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin is list:
        return st.lists(texts, max_size=3)
    if origin is dict:
        return st.dictionaries(texts, texts, max_size=2)
    if float in kinds:
        return floats | st.floats(min_value=0, max_value=100)
    if int in kinds:
        return ints | st.integers(min_value=0, max_value=100)
    return (texts | st.booleans()) if bool in kinds else texts


changes_strategy = st.lists(st.sampled_from(FIELDS).flatmap(lambda f: st.tuples(st.just(f), typed(f) | values)),
                            min_size=1, max_size=2)


def toml_string(text: str) -> str:
    escaped = "".join(f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)
    return f'"{escaped}"'


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def document(changes: list[tuple[tuple[str, str], object]], channel: str | None) -> str:
    data: dict[str, object] = {
        "mirror": {"state": "state.db"}, "fetch": {}, "editions": {}, "images": {}, "size": {}, "counter": {},
        "sources": [{"name": "a", "kind": "feed", "channel": "world", "url": "https://news.example.org/feed.xml"}],
        "remotes": [{"name": "up", "url": "file:///srv/m.git"}], "menu": [{"label": "x", "url": "https://e.example/"}],
        "channels": {"world": {}},
    }
    for (table, key), value in changes:
        target = data[table]
        target = target[0] if isinstance(target, list) else target["world"] if table == "channels" else target
        target[key] = value
    if channel is not None:
        data["channels"][channel] = {}  # type: ignore[index]
    return "\n".join(f"{name} = {toml_value(value)}" for name, value in data.items()) + "\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("property")


@settings(max_examples=400, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(changes=changes_strategy, channel=st.one_of(st.none(), texts))
def test_any_value_loads_or_is_a_config_error(project, changes, channel):
    path = project / "newsmirror.toml"
    path.write_text(document(changes, channel), encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert exc.problems and str(exc).startswith(str(path))
        event("config error")
        return
    event("loaded")
    # what loaded is usable: finite numbers, names that fullmatch, templates that format, dates that compute
    for model in (config.mirror, config.fetch, config.editions, config.images, config.size, config.counter,
                  *config.sources, *config.remotes, *config.channels.values()):
        for value in model.model_dump().values():
            assert not isinstance(value, float) or math.isfinite(value)
    assert all(CHANNEL_NAME.fullmatch(name) for name in config.channel_names())
    assert config.output_dir and config.state_path and ".git" not in config.output_dir.parts
    assert not {"..", ".git"} & {part.casefold() for part in config.editions.html_dir.split("/")}
    config.mirror.link_suffix("home")
    if config.mirror.counter_pixel:
        config.mirror.counter_pixel.format(path="pages/world/x.md", id="x", channel="world")
    from newsmirror.run.plan import retry_delay
    from newsmirror.publish.retention import policy_for

    retry_delay(config.mirror.max_attempts, config.mirror.retry_base_minutes)
    policy_for(config, "world").cutoff_day(datetime(2026, 1, 1, tzinfo=timezone.utc))
    ResolvingTransport(config.fetch.resolve, inner=httpx.MockTransport(lambda r: httpx.Response(200)))
