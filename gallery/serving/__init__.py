"""A REST server speaking TensorFlow Serving's API over exported SavedModels.

``gallery serve --model NAME=EXPORT_DIR`` answers the requests a TF Serving client
sends (``/v1/models/NAME``, ``.../metadata``, ``...:predict`` in row or columnar
form), so a client written against this server works unchanged against
``tensorflow/serving``, and the other way round.

- :mod:`gallery.serving.model`: one served model (``tf.saved_model.load``), its
  signatures, status and metadata.
- :mod:`gallery.serving.codec`: JSON request bodies → NumPy inputs checked against a
  signature, outputs → ``predictions``/``outputs``.
- :mod:`gallery.serving.batching`: concurrent requests joined into one model call.
- :mod:`gallery.serving.limits`: every bound on a request or a connection, each a
  ``gallery serve`` flag.
- :mod:`gallery.serving.connections`: header/body/idle timeouts, the connection cap,
  JSON answers for what the HTTP parser refuses.
- :mod:`gallery.serving.hosts` and :mod:`gallery.serving.security`: the ``Host`` and
  ``Origin`` a request may carry, and the security headers of every response.
- :mod:`gallery.serving.app`: the aiohttp application (``build_app``) and ``serve``.
"""
