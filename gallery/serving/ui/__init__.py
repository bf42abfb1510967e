"""The web page ``gallery serve --ui`` serves at ``/``: one panel per loaded model.

The page (``static/``: plain HTML, CSS and JavaScript, no library, nothing fetched
from the network) calls only the TF-Serving REST API of :mod:`gallery.serving.app`;
this module adds the routes that deliver it::

    GET /                     the page (static/index.html)
    GET /ui/FILE              its CSS and JavaScript (one route per file of static/,
                              listed when the routes are added: any other path is a
                              JSON 404, and no path is ever resolved against the disk)
    GET /ui/models            {"models": [name, ...]} in the order they were loaded
    GET /ui/examples/NAME     held-out examples written beside NAME's export
                              (:mod:`gallery.serving.ui.examples`)

Each panel reads its model's kind from the signatures in ``/v1/models/NAME/metadata``.
"""

import pathlib

from aiohttp import web

from gallery.errors import GalleryError
from gallery.serving.app import MODELS
from gallery.serving.ui.examples import read_examples

STATIC = pathlib.Path(__file__).parent / "static"


def demo_exports(folder):
    """``{task: export folder}`` of the exports ``gallery demo --out FOLDER`` wrote
    (``FOLDER/exports/TASK/1``), by task name."""
    root = pathlib.Path(folder) / "exports"
    found = {path.parent.name: path for path in sorted(root.glob("*/1"))
             if (path / "saved_model.pb").is_file()}
    if not found:
        raise GalleryError(f"no exports in {root}: run `make run` (gallery demo) first, or "
                           "give --model NAME=EXPORT_DIR")
    return found


def add_ui(app):
    """Add the page's routes to ``app`` (from ``gallery.serving.app.build_app``)."""
    models = app[MODELS]

    async def index(request):
        return web.FileResponse(STATIC / "index.html")

    async def model_names(request):
        return web.json_response({"models": list(models)})

    async def examples(request):
        model = models.get(request.match_info["name"])
        if model is None:
            raise web.HTTPNotFound(reason=f"no model named {request.match_info['name']!r}")
        return web.json_response({"examples": read_examples(model.path)})

    app.router.add_get("/", index)
    app.router.add_get("/ui/models", model_names)
    app.router.add_get("/ui/examples/{name}", examples)
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.suffix in (".css", ".js"):
            app.router.add_get(f"/ui/{path.relative_to(STATIC).as_posix()}", _file(path))
    return app


def _file(path):
    async def send(request):
        return web.FileResponse(path)
    return send
