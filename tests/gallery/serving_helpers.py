"""A real HTTP client for the serving tests (urllib against 127.0.0.1)."""

import json
import urllib.error
import urllib.request


def http(url, path, body=None, method=None):
    """``(status, JSON reply)`` of one request; ``body``: an object (sent as JSON),
    ``bytes`` (sent as they are) or None (GET)."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
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
