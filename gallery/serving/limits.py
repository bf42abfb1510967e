"""The limits of ``gallery serve``: how much work one request or one client can cause.

Each limit is one field of :class:`Limits`: its default, its ``gallery serve`` flag
(the field's name with dashes), the range the flag accepts and its help, which says
what a client gets past it. The defaults serve normal use (a request of a few
thousand rows, a browser keeping its connection open between requests); past a
limit a client gets a JSON 4xx naming the flag, or a closed connection, never a
500, a hang or memory growing with what it sends. ``docs/deploying.md`` lists them
(a test checks the list against this class).
"""

import dataclasses

from gallery.cli_types import finite_number, whole_number

MB = 2**20
#: What the port, a size in MB and a time in seconds may be (argparse ``type=``).
PORT = whole_number(0, 65535)
MEGABYTES = finite_number(0.001, 4096)
SECONDS = finite_number(0.01, 86400)


def _limit(default, kind, help):
    return dataclasses.field(default=default, metadata={"type": kind, "help": help})


@dataclasses.dataclass(frozen=True)
class Limits:
    """Every bound ``gallery serve`` puts on a request or a connection."""

    max_body_mb: float = _limit(16.0, MEGABYTES, "largest request body, in MB "
                                "(after gzip/deflate decompression); larger: 413")
    max_rows: int = _limit(10_000, whole_number(1, 10**8), "most rows in one predict request "
                           "(instances, or axis 0 of the inputs); more: 413")
    max_elements: int = _limit(1_000_000, whole_number(1, 10**9), "most values (numbers, strings) "
                               "in one predict request, all inputs together; more: 413")
    max_json_depth: int = _limit(32, whole_number(1, 256), "deepest nesting of arrays and "
                                 "objects in a request body; deeper: 400")
    max_response_mb: float = _limit(64.0, MEGABYTES, "largest response body, in "
                                    "MB; larger: 400 (send fewer rows)")
    header_timeout: float = _limit(10.0, SECONDS, "seconds a client may take to "
                                   "send a request's head once it started; then 408 "
                                   "and the connection is closed")
    body_timeout: float = _limit(60.0, SECONDS, "seconds a client may take to "
                                 "send a request's body; then 408 and the connection "
                                 "is closed")
    idle_timeout: float = _limit(30.0, SECONDS, "seconds an open connection may "
                                 "wait for its next request (keep-alive); then it is "
                                 "closed")
    max_connections: int = _limit(128, whole_number(1, 65536), "most connections open at once; a "
                                  "new one closes the oldest idle one (503 if all are "
                                  "busy)")

    @property
    def max_body_bytes(self):
        return int(self.max_body_mb * MB)

    @property
    def max_response_bytes(self):
        return int(self.max_response_mb * MB)

    @staticmethod
    def flag(name):
        """The ``gallery serve`` flag of the field ``name``: ``max_rows`` → ``--max-rows``."""
        return "--" + name.replace("_", "-")

    @classmethod
    def add_arguments(cls, parser):
        """One flag per field on ``parser`` (``gallery serve``), validated by argparse."""
        for field in dataclasses.fields(cls):
            parser.add_argument(cls.flag(field.name), type=field.metadata["type"],
                                default=field.default, metavar="N",
                                help=f"{field.metadata['help']} (default "
                                f"{field.default:,})")

    @classmethod
    def from_args(cls, args):
        """The limits parsed by :meth:`add_arguments`."""
        return cls(**{field.name: getattr(args, field.name)
                      for field in dataclasses.fields(cls)})
