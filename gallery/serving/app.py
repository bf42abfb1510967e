"""The aiohttp application speaking TF Serving's REST API, and ``serve`` to run it.

Routes (``api_rest.md`` of tensorflow/serving)::

    GET  /v1/models/NAME[/versions/V]             status of the model
    GET  /v1/models/NAME[/versions/V]/metadata    its signature defs
    POST /v1/models/NAME[/versions/V]:predict     row or columnar predict request

Every error is ``{"error": "..."}``, never a traceback: 400 for a request the model
cannot take (or one nested past ``--max-json-depth``, or whose response would pass
``--max-response-mb``), 404 for an unknown model, version or path, 405 for a wrong
method, 408 for a head or body that does not arrive in time, 413 for a body, rows or
values over their limits, 415 for a ``:predict`` that is not ``application/json``,
421/403 for a foreign ``Host``/``Origin`` (:mod:`gallery.serving.security`); a 500
only for a fault of the server itself, logged with its traceback. The limits are
:class:`~gallery.serving.limits.Limits`; connections are looked after by
:mod:`gallery.serving.connections`. Extra routes (a web page at ``/``) can be added to
the application ``build_app`` returns before it is served.
"""

import asyncio
import contextlib
import gc
import logging
import re
import signal
import sys
import threading

import tensorflow as tf
from aiohttp import web

from gallery.errors import GalleryError
from gallery.serving import batching
from gallery.serving.batching import Batcher
from gallery.serving.codec import RequestError, encode_response, format_predict, parse_predict
from gallery.serving.connections import GuardedSite, read_body
from gallery.serving.hosts import HostPolicy
from gallery.serving.limits import Limits
from gallery.serving.security import add_security_headers, make_middleware

MODELS = web.AppKey("models", dict)
BATCHER = web.AppKey("batcher", Batcher)
LIMITS = web.AppKey("limits", Limits)
HOSTS = web.AppKey("hosts", HostPolicy)

log = logging.getLogger("gallery.serving")

_TARGET = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?"
                     r"(?:/labels/(?P<label>[^/:]+))?(?P<verb>/metadata|:[a-z]+)?$")


def _error(status, message):
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request, handler):
    """Every failure as ``{"error": ...}``: aiohttp's own (404, 405, 413) included."""
    try:
        return await handler(request)
    except RequestError as error:
        response = _error(error.status, str(error))
        if error.close_connection:  # e.g. the client stopped sending: no next request
            response.force_close()
        return response
    except tf.errors.OpError as error:  # the model refused the input (e.g. a shape)
        return _error(400, _op_error_message(error))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body over the limit of "
                      f"{request.app[LIMITS].max_body_bytes} bytes (gallery serve "
                      "--max-body-mb)")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error(error.status, error.reason)
    except ConnectionError:  # the client left; aiohttp drops the connection
        raise
    except Exception:  # a fault of the server, not of the request: logged in full
        log.exception("error answering %s %s", request.method, request.path)
        return _error(500, "internal server error (the server's log has the details)")


def _op_error_message(error):
    """The line of a TensorFlow error that says what went wrong, without the graph
    execution preamble or the Python stack of where the op was defined."""
    for line in (error.message or "").splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith(
                ("Graph execution error", "Detected at node", "File ", "<stack traces")):
            return line.split("\t")[0].strip()
    return type(error).__name__


def _servable(request):
    """``(model, verb)`` for the path after ``/v1/models/``, or a 404 response."""
    match = _TARGET.match(request.match_info["target"])
    if not match:
        raise web.HTTPNotFound(reason=f"no such path: {request.path}")
    name, version = match["name"], match["version"]
    model = request.app[MODELS].get(name)
    if model is None or match["label"] or (version and int(version) != model.version):
        kind = (f"Specific({name}, {version})" if version else
                f"Labeled({name}, {match['label']})" if match["label"] else f"Latest({name})")
        raise web.HTTPNotFound(reason=f"Servable not found for request: {kind}")
    return model, match["verb"]


async def get_model(request):
    model, verb = _servable(request)
    if verb == "/metadata":
        return web.json_response(model.metadata())
    if verb is None:
        return web.json_response(model.status())
    raise web.HTTPMethodNotAllowed(request.method, ["POST"])


async def post_model(request):
    model, verb = _servable(request)
    if verb is None or verb == "/metadata":
        raise web.HTTPMethodNotAllowed(request.method, ["GET"])
    if verb != ":predict":
        raise RequestError(f"this server answers :predict only, not {verb}")
    if request.content_type != "application/json":
        raise RequestError(f":predict takes Content-Type: application/json, not "
                           f"{request.content_type!r} (a page on another site cannot send "
                           "that without this server's consent, which it never gives)",
                           status=415)
    limits = request.app[LIMITS]
    body = await read_body(request, limits.body_timeout)
    signature, inputs, row_format, rows = parse_predict(body, model.signatures, limits,
                                                        model.missing)
    outputs = await request.app[BATCHER].run(signature, inputs, rows)
    return web.Response(body=encode_response(format_predict(outputs, row_format, rows),
                                             limits.max_response_bytes),
                        content_type="application/json", charset="utf-8")


def build_app(models, limits=Limits(), max_batch_size=batching.MAX_BATCH_SIZE,
              batch_wait_ms=batching.BATCH_WAIT_MS, threads=batching.THREADS,
              allowed_hosts=()):
    """The aiohttp application serving ``models`` (``{name: ServedModel}``) within
    ``limits``; ``allowed_hosts``: ``Host`` names answered beside the server's own
    (``NAME`` or ``NAME:PORT``, :class:`~gallery.serving.hosts.HostPolicy`)."""
    hosts = HostPolicy(allowed_hosts)
    app = web.Application(middlewares=[make_middleware(hosts), json_errors],
                          client_max_size=limits.max_body_bytes)
    app[MODELS], app[LIMITS], app[HOSTS] = dict(models), limits, hosts
    app[BATCHER] = Batcher(threads, max_batch_size, batch_wait_ms / 1000)
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/v1/models/{target:.+}", get_model)
    app.router.add_post("/v1/models/{target:.+}", post_model)

    async def close_batcher(app):
        app[BATCHER].close()
    app.on_cleanup.append(close_batcher)
    return app


async def run_app(app, host, port, stop, on_ready=None, shutdown_timeout=60.0):
    """Serve ``app`` until the ``asyncio.Event`` ``stop`` is set, then stop accepting
    connections and let requests in flight finish (up to ``shutdown_timeout`` s).
    ``on_ready(url)`` is called once the socket listens."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout,
                           access_log=None)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, limits=app[LIMITS])
        site.guard.check_files()
        try:
            await site.start()
        except OSError as error:
            raise GalleryError(f"cannot listen on {host}:{port}: "
                               f"{error.strerror or error}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        app[HOSTS].bind(host, bound_port)
        if on_ready:
            on_ready(f"http://{bound_host}:{bound_port}")
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(app, host="127.0.0.1", port=8501, notice=None):
    """Run ``app`` in the foreground; SIGTERM or Ctrl-C stops it gracefully.
    ``notice``: a line for stderr once the socket listens (a server that cannot start
    says only why, in one line)."""
    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        names = ", ".join(sorted(app[MODELS]))

        def ready(url):
            if notice:
                print(notice, file=sys.stderr, flush=True)
            print(f"serving {names} at {url} (TF Serving REST API: "
                  f"{url}/v1/models/NAME:predict); stop with Ctrl-C", flush=True)
        await run_app(app, host, port, stop, on_ready=ready)
        print("gallery serve: stopped (requests in flight finished)", file=sys.stderr)
    # The loaded models are hundreds of thousands of Python objects (TensorFlow's
    # graphs); a full garbage collection walks them all while every request waits
    # (about 1 s on a loaded 2-core machine for the sentiment export). Frozen, they are
    # left out, and a collection while serving walks only what requests made.
    gc.collect()
    gc.freeze()
    asyncio.run(main())


@contextlib.contextmanager
def running_in_thread(app, host="127.0.0.1", port=0):
    """Serve ``app`` from a background thread while the ``with`` block runs; yields the
    base URL (``port=0``: a free port). For tests and benchmarks."""
    loop, ready, state = asyncio.new_event_loop(), threading.Event(), {}

    async def main():
        state["stop"] = asyncio.Event()
        await run_app(app, host, port, state["stop"],
                      on_ready=lambda url: (state.update(url=url), ready.set()))

    def target():
        try:
            loop.run_until_complete(main())
        except BaseException as error:  # e.g. the port is taken: reported below
            state["error"] = error
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=target, daemon=True, name="gallery-serve-loop")
    thread.start()
    ready.wait()
    if "error" in state:
        raise state["error"]
    try:
        yield state["url"]
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join()
