"""The HTTP side of the counter: one connection's requests parsed with httptools, each answered with a prebuilt
response; a GET of a page's pixel adds one to that page's count for today."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import httptools

if TYPE_CHECKING:  # the service owns the connections; only its type flows here
    from newsmirror.views.counter import CounterService

MAX_TARGET = 2048  # longest request target we read (bytes); longer gets 414
MAX_HEAD = 16384  # most bytes of one request, counted from the end of the one before; more gets 431
_END_OF_HEAD = b"\r\n\r\n"  # the parser requires CRLF line ends: a request's head ends at its first blank line
_LINE_ENDS = re.compile(rb"[\r\n]*")  # CR and LF before a request line, which the parser skips


class PixelProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each with a prebuilt response.

    The size limit holds per request however its bytes arrive: `data_received` finds where each request's head ends
    (its first blank line) and feeds the parser up to there, so the bytes a request has used are known across reads
    and between requests pipelined in one read. Nothing is buffered (headers are not kept: no on_header); between
    reads a connection keeps a count and the last three bytes of an unfinished head. A body (which the parser frames,
    not this scanner) counts toward its request's limit too, and the connection is closed after answering it."""

    __slots__ = ("service", "transport", "parser", "url", "used", "tail", "started", "body", "active", "closed")

    def __init__(self, service: "CounterService"):
        self.service = service
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self._next_request()
        self.active = True  # a request completed since the last idle sweep
        self.closed = False  # answered with close (or failed): ignore the rest of what was pipelined

    def _next_request(self) -> None:
        self.used = 0  # bytes of the request in progress fed to the parser so far (never more than MAX_HEAD)
        self.tail = b""  # the last (up to) 3 bytes of its unfinished head: its blank line may span two reads
        self.started = False  # its request line has begun (the CR and LF before one are skipped)
        self.body = False  # its head is complete and a body follows

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        if len(self.service.connections) >= self.service.max_connections:
            transport.abort()
            return
        self.service.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.service.connections.discard(self)
        self.transport = None

    def pause_writing(self) -> None:  # a client that does not read its responses: stop reading its requests
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        pos, end, view = 0, len(data), None
        while pos < end and not self.closed:
            room = MAX_HEAD - self.used
            if room <= 0:  # more bytes for a request that has had all it may have
                self._fail(self.service.responses.too_big)
                return
            limit = end if end - pos <= room else pos + room
            head_ends = False
            if self.body:  # the parser frames the body (and reads on past it: the connection closes after it)
                stop = limit
            elif not self.started and data[pos] in b"\r\n":
                stop = _LINE_ENDS.match(data, pos, limit).end()
            else:
                self.started = True
                stop = self._blank_line_across(data, pos, limit) if self.tail else 0
                if not stop:
                    found = data.find(_END_OF_HEAD, pos, limit)
                    stop = found + 4 if found >= 0 else 0
                head_ends = stop > 0
                if not head_ends:
                    stop = limit
                    self.tail = (self.tail + data[max(pos, stop - 3):stop])[-3:]
            self.used += stop - pos
            if pos == 0 and stop == end:
                piece = data
            else:
                if view is None:
                    view = memoryview(data)
                piece = view[pos:stop]
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                self._fail(self.service.responses.bad)
            except httptools.HttpParserError:
                if not self.closed:
                    self._fail(self.service.responses.bad)
            pos = stop
            if head_ends and self.used and not self.closed:  # the head is complete, the request is not: a body
                self.body = True

    def _blank_line_across(self, data: bytes, pos: int, limit: int) -> int:
        """Just past the head's blank line when it began in the previous read (`tail`), if it ends by `limit`; or 0."""
        found = (self.tail + data[pos:pos + 3]).find(_END_OF_HEAD)
        stop = pos + found + 4 - len(self.tail)
        return stop if found >= 0 and stop <= limit else 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_TARGET:
            self._fail(self.service.responses.too_long)
            raise httptools.HttpParserError("target too long")

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        self.active = True
        framed = not self.body  # after a body the parser, not data_received, has found where the next request starts
        self._next_request()
        url, self.url = self.url, b""
        service = self.service
        responses = service.responses
        parser = self.parser
        method = parser.get_method()
        keep = framed and parser.should_keep_alive() and parser.get_http_version() == "1.1"
        if method == b"GET":
            page = service.pages.get(url) or service.targets.page(url)
            if page is not None:
                today = service.today
                today[page] = today.get(page, 0) + 1
            transport.write(responses.get if keep else responses.get_close)
        elif method == b"HEAD":  # answered like GET, not counted: link checkers and monitors, not readers
            transport.write(responses.head if keep else responses.head_close)
        else:
            transport.write(responses.not_allowed)
            keep = False
        if not keep:
            transport.close()
            self.closed = True

    def _fail(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()
        self.closed = True
