"""The pixel and every response the counter sends, prebuilt (only the Date changes, once a second)."""

from __future__ import annotations

from email.utils import formatdate

# A transparent 1x1 GIF (43 bytes).
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _response(status: str, headers: list[str], body: bytes, head: bool = False, close: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (b"" if head else body)


class Responses:
    """Every response the counter sends, rebuilt once a second with the current Date."""

    def __init__(self, now: float):
        date = f"Date: {formatdate(now, usegmt=True)}"
        pixel = [date, "Content-Type: image/gif", "Cache-Control: no-store", "Referrer-Policy: no-referrer",
                 "X-Content-Type-Options: nosniff", "Cross-Origin-Resource-Policy: cross-origin"]
        text = [date, "Content-Type: text/plain; charset=utf-8", "Cache-Control: no-store"]
        self.get = _response("200 OK", pixel, PIXEL)
        self.get_close = _response("200 OK", pixel, PIXEL, close=True)
        self.head = _response("200 OK", pixel, PIXEL, head=True)
        self.head_close = _response("200 OK", pixel, PIXEL, head=True, close=True)
        self.not_allowed = _response("405 Method Not Allowed", [*text, "Allow: GET, HEAD"], b"GET or HEAD only\n",
                                     close=True)
        self.bad = _response("400 Bad Request", text, b"bad request\n", close=True)
        self.too_long = _response("414 URI Too Long", text, b"request target too long\n", close=True)
        self.too_big = _response("431 Request Header Fields Too Large", text, b"request too large\n", close=True)
