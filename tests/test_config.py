import pytest

from newsmirror.config import ConfigError, init_config, load_config, parse_config


def test_scaffold_is_valid(tmp_path):
    path = init_config(tmp_path)
    config = load_config(path)
    assert config.sources[0].kind == "feed" and config.output_dir == (tmp_path / "mirror").resolve()
    with pytest.raises(ConfigError):
        init_config(tmp_path)  # never overwrites


def test_every_error_is_reported_at_once_with_file_key_expected_found():
    text = """
[mirror]
index_page_size = "many"
colour = "blue"
[[sources]]
name = "a"
kind = "rss"
channel = "World News"
url = "https://n.example/feed"
[[sources]]
name = "b"
kind = "listing"
channel = "ok"
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/etc/nm/newsmirror.toml")
    message = str(info.value)
    assert message.startswith("/etc/nm/newsmirror.toml: 5 configuration error(s)")
    assert "mirror.index_page_size': expected a valid integer" in message and "found 'many'" in message
    assert "mirror.colour': unknown key" in message
    assert "sources[0] (a).kind': expected 'feed', 'sitemap', 'listing' or 'urls'; found 'rss'" in message
    assert "sources[0] (a).channel'" in message and "found 'World News'" in message
    assert "sources[1] (b)': expected kind 'listing' needs 'url'" in message


def test_toml_syntax_error_names_the_file(tmp_path):
    bad = tmp_path / "newsmirror.toml"
    bad.write_text("[mirror\n")
    with pytest.raises(ConfigError, match="(?s)newsmirror.toml.*not valid TOML"):
        load_config(bad)


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/newsmirror.toml")
