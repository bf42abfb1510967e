"""The connections of ``gallery serve``: time limits for slow clients, a cap on how
many are open, and JSON for the errors aiohttp answers before any handler runs.

aiohttp gives every connection a ``RequestHandler`` (``aiohttp/web_protocol.py``),
which already closes a connection that waits longer than its keep-alive timeout for
a complete request head, counted from when it opened and from each response: that is
``--idle-timeout``. :class:`GuardedHandler` adds

- ``--header-timeout``: once the first byte of a request head has arrived, the head
  must be complete within that many seconds, else 408 and the connection is closed
  (a client sending its head a byte at a time no longer holds the connection);
- JSON answers (``{"error": ...}``) for what the HTTP parser refuses (a malformed
  request line, headers over aiohttp's size limits), with the security headers;
- its part of the connection cap: it tells :class:`ConnectionGuard` when it opens and
  closes, and whether it is *idle* (no request, or a request whose body is still
  being read, :func:`read_body`).

:class:`ConnectionGuard` keeps at most ``--max-connections`` open: a new connection
past the cap closes the oldest idle one, so stalled clients cannot keep out a
working one; when every connection is busy answering, the new one gets a 503. It
also checks at start that the process may open that many files (``ulimit -n``).

The body of a request is read by :func:`read_body` within ``--body-timeout`` seconds
(408 and the connection closed past it, e.g. a ``Content-Length`` larger than the
body sent), and a body aiohttp cannot decode (bad gzip) is a 400.
"""

import asyncio
import json
import logging
import os
import resource

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import HttpProcessingError

from gallery.errors import GalleryError
from gallery.serving.codec import RequestError
from gallery.serving.security import SECURITY_HEADERS

#: File descriptors kept free beyond the connections (the listening socket, files the
#: models open while serving, the log).
SPARE_FILES = 32
#: Connections waiting in the kernel to be accepted; asyncio also accepts at most this
#: many at once before the guard sees any of them, so the files open can reach
#: ``max_connections + BACKLOG`` for a moment.
BACKLOG = 16
#: Seconds a connection whose body was not read (an error answered early) keeps
#: reading and dropping it before closing, so the client sees the answer first.
LINGER_SECONDS = 1.0

log = logging.getLogger("gallery.serving")


def raw_json_response(status, reason, message):
    """A whole HTTP/1.1 response ``{"error": message}`` that closes the connection, as
    bytes: for answers given outside any request (timeouts, the connection cap)."""
    body = json.dumps({"error": message}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}", "Connection: close",
            *(f"{key}: {value}" for key, value in SECURITY_HEADERS.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class GuardedHandler(web_protocol.RequestHandler):
    """aiohttp's per-connection handler with a header timeout, JSON errors and a place
    in the :class:`ConnectionGuard` (see the module's docstring)."""

    def __init__(self, manager, *, guard, header_timeout, **kwargs):
        super().__init__(manager, **kwargs)
        self.guard, self.header_timeout = guard, header_timeout
        self.reading_body = False  # set by read_body while a request's body comes in
        self._head_timer = None

    def idle(self):
        """No request is being answered (none has arrived in full, or its body is still
        coming): closing the connection loses no work."""
        return self.reading_body or not self._request_in_progress

    def _awaiting_head(self):
        return not self._request_in_progress and not self._messages

    def connection_made(self, transport):
        super().connection_made(transport)
        self.guard.opened(self)

    def connection_lost(self, exc):
        self._stop_head_timer()
        self.guard.closed(self)
        super().connection_lost(exc)

    def data_received(self, data):
        if self._head_timer is None and self._awaiting_head():
            self._head_timer = self._loop.call_later(self.header_timeout, self._head_late)
        super().data_received(data)
        if self._messages:  # a whole head arrived (or the parser refused it)
            self._stop_head_timer()

    def _stop_head_timer(self):
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self):
        self._head_timer = None
        if self._awaiting_head():
            self.refuse(408, "Request Timeout", f"the request head did not arrive within "
                        f"{self.header_timeout:g} s (gallery serve --header-timeout)")

    def refuse(self, status, reason, message):
        """Answer ``message`` outside any request and close the connection."""
        if self.transport is not None:
            self.transport.write(raw_json_response(status, reason, message))
        self.force_close()  # the transport sends what it holds before closing

    def handle_error(self, request, status=500, exc=None, message=None):
        """aiohttp's answer to a request it could not parse, or to a failure outside
        the application, as ``{"error": ...}``; a 500 is logged with its traceback."""
        if isinstance(exc, ConnectionError):  # the client left: nobody to answer
            raise exc
        if request.writer.output_size > 0:  # as aiohttp: too late to answer
            raise ConnectionError("the response was sent in part; no error can follow")
        if status >= 500:
            log.error("error answering %s %s", request.method, request.path, exc_info=exc)
            text = "internal server error (the server's log has the details)"
        else:
            detail = " ".join(str(message or exc or status).split())  # one line
            text = f"bad HTTP request: {detail}"
        response = web.json_response({"error": text}, status=status,
                                     headers=SECURITY_HEADERS)
        response.force_close()
        return response


class ConnectionGuard:
    """At most ``max_connections`` open connections (see the module's docstring)."""

    def __init__(self, max_connections):
        self.max_connections = max_connections
        self.open = {}  # GuardedHandler -> None, oldest first

    def check_files(self):
        """A :class:`GalleryError` if ``ulimit -n`` leaves too few file descriptors for
        ``max_connections`` connections beside those the process holds."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        held = len(os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd")
                              else "/dev/fd"))
        needed = self.max_connections + BACKLOG + SPARE_FILES
        if soft != resource.RLIM_INFINITY and held + needed > soft:
            most = max(0, soft - held - BACKLOG - SPARE_FILES)
            raise GalleryError(
                f"--max-connections {self.max_connections} needs {needed} file descriptors "
                f"beside the {held} this process holds, but `ulimit -n` is {soft}: lower "
                f"--max-connections (at most {most}) or raise the limit")

    def opened(self, handler):
        self.open[handler] = None
        if len(self.open) <= self.max_connections:
            return
        oldest_idle = next((other for other in self.open
                            if other is not handler and other.idle()), None)
        if oldest_idle is not None:
            oldest_idle.force_close()
        else:
            handler.refuse(503, "Service Unavailable", f"the server has "
                           f"{self.max_connections} connections answering requests "
                           "(gallery serve --max-connections); try again")

    def closed(self, handler):
        self.open.pop(handler, None)


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` whose connections are :class:`GuardedHandler`\\ s."""

    def __init__(self, runner, host, port, *, limits, **kwargs):
        super().__init__(runner, host, port, **kwargs)
        self.limits = limits
        self.guard = ConnectionGuard(limits.max_connections)

    async def start(self):
        await web.BaseSite.start(self)  # registers with the runner (TCPSite.start's part)
        server, limits, loop = self._runner.server, self.limits, asyncio.get_running_loop()

        def handler():
            return GuardedHandler(server, loop=loop, guard=self.guard,
                                  header_timeout=limits.header_timeout,
                                  keepalive_timeout=limits.idle_timeout,
                                  lingering_time=LINGER_SECONDS, access_log=None)
        self._server = await loop.create_server(handler, self._host, self._port,
                                                backlog=BACKLOG)
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def read_body(request, timeout):
    """The whole body of ``request``, read within ``timeout`` seconds; meanwhile its
    connection counts as idle for the :class:`ConnectionGuard`. Past the time: 408
    (the connection is then closed); a body aiohttp cannot decode: 400."""
    protocol = request.protocol
    protocol.reading_body = True
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise RequestError(f"the request body did not arrive within {timeout:g} s "
                           "(gallery serve --body-timeout)", status=408) from None
    except (web_protocol.RequestPayloadError, HttpProcessingError) as error:
        # The rest of this body is not read: marked as ended, so aiohttp does not read
        # it after the answer (that read raised the same error again, logged as an
        # "Unhandled exception" with its traceback), and the connection is closed.
        request.content.feed_eof()
        detail = " ".join(str(error).split())  # aiohttp's text spans lines
        raise RequestError(f"the request body cannot be read: {detail}",
                           close_connection=True) from None
    finally:
        protocol.reading_body = False
