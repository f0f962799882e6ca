"""render_page against a local page whose article is inserted by an inline script."""

import asyncio
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsmirror.fetch.browser import CHROMIUM, render_page, render_page_async
from newsmirror.extract.page import extract_article
from newsmirror.errors import FetchError



@pytest.fixture(autouse=True)
def _chromium_present():
    # Not a skip: a missing browser must fail loudly (CI installs Debian's chromium in .ci/run).
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk"

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Scripted story</title></head>
<body><div id="app">Loading...</div><script>
var p = "The council agreed on Tuesday to build a new footbridge across the river, linking the two halves of " +
        "the old town for the first time since the flood.";
document.getElementById("app").innerHTML = "<article><h1>Scripted story</h1><p>" + p + "</p><p>" + p + "</p></article>";
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/missing":
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body><p>Not here</p></body></html>")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_rendered_dom_contains_script_built_article(server):
    html = render_page(server + "/story", timeout=20)
    assert "Loading..." not in html and "new footbridge" in html
    article = extract_article(html, server + "/story")
    assert article.text.startswith("The council agreed on Tuesday")


def test_async_variant_and_http_error(server):
    html = asyncio.run(render_page_async(server + "/story", timeout=20))
    assert "new footbridge" in html
    with pytest.raises(FetchError) as info:
        render_page(server + "/missing", timeout=20)
    assert info.value.status == 404
