"""What ``gallery serve`` does about browsers: which ``Host`` and ``Origin`` it answers,
and the headers every response carries.

A page on another site can make the user's browser send requests to a server on
their machine. Two things stop it from using ``gallery serve``:

- **DNS rebinding** (a name of the attacker's that resolves to 127.0.0.1 lets their
  page read the answers): a request is answered only if its ``Host`` names this
  server, i.e. the address it listens on (for a loopback address also ``localhost``,
  ``127.0.0.1`` and ``[::1]``), with its port, or a name given with
  ``--allowed-host NAME[:PORT]``. On a wildcard address (``0.0.0.0``, ``::``) any IP
  address is accepted, since a numeric ``Host`` cannot be rebound. Anything else: 421.
- **Cross-site posts** (a form or a ``fetch`` without CORS can POST
  ``text/plain``): ``:predict`` takes ``Content-Type: application/json`` only (415),
  which a browser sends cross-site only after a CORS preflight this server never
  grants; and a request carrying an ``Origin`` must come from this server's own
  origin or an allowed host (403). Which names are allowed:
  :class:`~gallery.serving.hosts.HostPolicy`.

Every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer`` and a Content-Security-Policy that lets the web page
load its own scripts, styles and images (``data:`` images included) and nothing else,
nor be framed.
"""

from aiohttp import web

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
}


def _error(status, message):
    return web.json_response({"error": message}, status=status)


def make_middleware(policy):
    """The middleware answering 421 for a foreign ``Host`` and 403 for a foreign
    ``Origin``, before any handler runs."""
    @web.middleware
    async def same_site_only(request, handler):
        reason = policy.check_host(request.headers.get("Host"))
        if reason:
            return _error(421, reason)
        origins = request.headers.getall("Origin", [])
        if len(origins) > 1:  # no browser sends two: checking one would let the other by
            return _error(403, f"a request carries {len(origins)} Origin headers; at most "
                          "one is answered")
        reason = policy.check_origin(origins[0] if origins else None)
        if reason:
            return _error(403, reason)
        return await handler(request)
    return same_site_only


async def add_security_headers(request, response):
    """``on_response_prepare`` handler: :data:`SECURITY_HEADERS` on every response."""
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
