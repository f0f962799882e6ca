from newsmirror.extract.transform import relative_link, rewrite_links, sanitize, to_markdown

PAGES = {"https://n.example/a/rain.html": "pages/city/rain.md"}


def test_relative_links_between_mirror_files():
    assert relative_link("pages/world/a.md", "pages/city/b.md") == "../city/b.md"
    assert relative_link("README.md", "indexes/world.md") == "indexes/world.md"
    assert relative_link("indexes/world.md", "README.md", "?world") == "../README.md?world"


def test_links_to_mirrored_articles_become_relative():
    html = '<p>See <a href="https://n.example/a/rain.html?utm_source=feed">rain</a>.</p>'
    assert rewrite_links(html, "pages/world/x.md", PAGES, "keep") == '<p>See <a href="../city/rain.md">rain</a>.</p>'


def test_external_link_policies():
    html = '<p>Go <a href="https://far.example/p">there</a> now</p>'
    assert rewrite_links(html, "pages/w/x.md", PAGES, "keep") == html
    assert rewrite_links(html, "pages/w/x.md", PAGES, "text") == "<p>Go there now</p>"
    neutral = rewrite_links(html, "pages/w/x.md", PAGES, "neutralise")
    assert "<a" not in neutral and "far[.]example" in neutral and neutral.endswith("now</p>")


def test_sanitize_removes_active_content():
    hostile = ('<p onclick="x()">a<script>alert(1)</script></p><iframe src="https://e.example"></iframe>'
               '<a href="javascript:alert(1)">j</a><img src="data:image/png;base64,AA" onerror="y()">'
               '<form><input></form><p style="background:url(x)">s</p>')
    clean = sanitize(hostile)
    for bad in ("script", "onclick", "iframe", "javascript:", "data:", "onerror", "form", "style"):
        assert bad not in clean


def test_markdown_keeps_figures_and_captions():
    md = to_markdown('<p>One.</p><figure><img src="https://i.example/a.jpg" alt="Rain"><figcaption>Wet '
                     'streets</figcaption></figure><h2>Next</h2><ul><li>a</li><li>b</li></ul>')
    assert md == "One.\n\n![Rain](https://i.example/a.jpg)\n\n*Wet streets*\n\n## Next\n\n- a\n- b"
