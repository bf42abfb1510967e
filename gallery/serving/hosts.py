"""Which ``Host`` and ``Origin`` values ``gallery serve`` answers (DNS rebinding and
cross-site requests, see :mod:`gallery.serving.security`), and the warning for an
address other machines can reach. No aiohttp here: the CLI validates
``--allowed-host`` with :func:`allowed_host` before anything starts.
"""

import argparse
import ipaddress

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(text):
    """``(name, port)`` of a ``Host`` value (``name``, ``name:port``, ``[v6]:port``);
    ``name`` lower-case, ``port`` an int or None; None if it is not of that form."""
    text = text.strip().lower()
    if text.startswith("["):
        name, bracket, rest = text.partition("]")
        name += bracket
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
    else:
        name, colon, port = text.rpartition(":") if ":" in text else (text, "", None)
    if not name or (port is not None and not (port.isdigit() and len(port) <= 5)):
        return None
    return name.rstrip("."), None if port is None else int(port)


def _ip(name):
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def is_loopback(host):
    """Whether listening on ``host`` keeps the server on this machine."""
    address = _ip(host)
    return host.lower() == "localhost" if address is None else address.is_loopback


def exposure_warning(host):
    """The one-line warning ``gallery serve --host HOST`` prints for an address other
    machines can reach, or None for a loopback address."""
    if is_loopback(host):
        return None
    return (f"gallery serve: warning: listening on {host} lets other machines call the "
            "models, with no authentication and no TLS; put a reverse proxy with TLS and "
            "authentication in front (see docs/deploying.md), and name the host clients "
            "use with --allowed-host")


class HostPolicy:
    """Which ``Host`` and ``Origin`` values this server answers (see the module's
    docstring); :meth:`bind` gives it the address and port it listens on."""

    def __init__(self, allowed_hosts=()):
        self.allowed = []
        for item in allowed_hosts:
            parsed = split_host(item)
            if parsed is None:
                raise ValueError(f"--allowed-host takes NAME or NAME:PORT, not {item!r}")
            self.allowed.append(parsed)
        self.host, self.port = None, None
        self._answers = {}  # Host value → check_host's answer, for the values seen last

    def bind(self, host, port):
        """The address the server listens on (``""``: every address, as ``0.0.0.0``)."""
        self.host, self.port = (host or "0.0.0.0").lower(), port
        self._answers.clear()

    def names(self):
        """The ``Host`` values answered, for error messages."""
        own = list(LOOPBACK_NAMES) if is_loopback(self.host) else [self.host]
        if _ip(self.host) is not None and _ip(self.host).is_unspecified:
            own = ["any IP address", "localhost"]
        own = [f"{name}:{self.port}" for name in own]
        return own + [name if port is None else f"{name}:{port}" for name, port in self.allowed]

    def host_allowed(self, name, port):
        if any(name == allowed and allowed_port in (None, port)
               for allowed, allowed_port in self.allowed):
            return True
        if port != self.port and not (port is None and self.port == 80):
            return False
        bound = _ip(self.host)
        if bound is not None and bound.is_unspecified:  # 0.0.0.0 or ::
            return _ip(name) is not None or name == "localhost"
        if is_loopback(self.host):
            return name in LOOPBACK_NAMES or name == self.host
        return name == self.host or (bound is not None and _ip(name) == bound)

    def check_host(self, value):
        """None if a request with ``Host: value`` (None: no header) is answered, else
        the reason it is not. The answers for the last 64 values are kept: every
        request of a client names the same host, and parsing it as an IP address
        each time was a measurable part of a request's cost under load."""
        if value is None:  # HTTP/1.0 without Host: not a browser, nothing to rebind
            return None
        if value not in self._answers:
            if len(self._answers) >= 64:
                self._answers.clear()
            self._answers[value] = self._check_host(value)
        return self._answers[value]

    def _check_host(self, value):
        parsed = split_host(value)
        if parsed is None or not self.host_allowed(*parsed):
            return (f"this server answers requests for {', '.join(self.names())}, not "
                    f"Host {value[:100]!r} (gallery serve --allowed-host NAME adds a name)")
        return None

    def check_origin(self, value):
        """None if a request with ``Origin: value`` (None: no header) is answered, else
        the reason it is not."""
        if value is None:
            return None
        scheme, sep, rest = value.strip().lower().partition("://")
        parsed = split_host(rest) if sep and scheme in _DEFAULT_PORTS and "/" not in rest \
            else None
        if parsed is not None:
            name, port = parsed
            if self.host_allowed(name, _DEFAULT_PORTS[scheme] if port is None else port):
                return None
        return (f"requests from the page at Origin {value[:100]!r} are refused: this "
                f"server answers pages of {', '.join(self.names())} only")


def allowed_host(text):
    """argparse ``type=`` of ``--allowed-host``: ``NAME`` or ``NAME:PORT``."""
    if split_host(text) is None:
        raise argparse.ArgumentTypeError(f"expected NAME or NAME:PORT, got {text!r}")
    return text
