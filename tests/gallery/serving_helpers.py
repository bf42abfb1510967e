"""A real HTTP client for the serving tests (urllib against 127.0.0.1)."""

import json
import urllib.error
import urllib.request


def http(url, path, body=None, method=None, headers=None):
    """``(status, JSON reply)`` of one request; ``body``: an object (sent as JSON),
    ``bytes`` (sent as they are) or None (GET); ``headers`` replace or add to
    ``Content-Type: application/json``."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    reply = json.loads(text)
    if status != 200:  # an error is one JSON message, never a traceback
        assert list(reply) == ["error"] and "Traceback" not in reply["error"], reply
    return status, reply


def predict(url, name, body):
    return http(url, f"/v1/models/{name}:predict", body)


def start_server(export, *flags, open_files=None):
    """``gallery serve --model toy=EXPORT`` in a real process on 127.0.0.1 and a free
    port; ``open_files``: its ``ulimit -n``. Returns ``(process, port)``."""
    import os
    import resource
    import subprocess
    import sys

    def limit_files():
        if open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    process = subprocess.Popen(
        [sys.executable, "-m", "gallery.cli", "serve", "--model", f"toy={export}",
         "--port", "0", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, preexec_fn=limit_files)
    line = process.stdout.readline()
    while line and " at http://" not in line:  # e.g. the web page's line first
        line = process.stdout.readline()
    if " at http://" not in line:
        process.kill()
        raise AssertionError(process.stderr.read()[-2000:])
    return process, int(line.split(" at http://")[1].split()[0].rsplit(":", 1)[1])


def exchange(port, data, seconds=10.0):
    """Send the raw bytes ``data`` on a new connection to 127.0.0.1:``port`` and read
    until the server closes it or ``seconds`` pass: ``(reply bytes, closed, seconds)``."""
    import socket
    import time

    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(data)
        reply, closed = b"", False
        while time.monotonic() - start < seconds:
            sock.settimeout(max(0.01, seconds - (time.monotonic() - start)))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            reply += chunk
    return reply, closed, time.monotonic() - start


def json_reply(raw):
    """``(status, JSON body)`` of a raw HTTP/1.1 response (``Content-Length`` framed)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"].startswith("application/json"), headers
    return int(lines[0].split()[1]), json.loads(body[:int(headers["Content-Length"])])


def rss_mb(pid):
    """The resident memory of process ``pid`` in MB (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")
