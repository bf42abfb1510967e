"""Features of image files computed once by a frozen encoder and kept in a run's
checkpoint folder, so a resumed run reuses them.

For a split ``name`` the folder holds ``features-NAME.npy`` (float16 ``(N, ...)``, one
row per file, in order) and ``features-NAME.json`` (the encoder's identity and each
file's path, size and modification time). They are reused only when the encoder is the
same (its ``spec`` and a hash of its weights) and a row's file is unchanged (same path,
size and ``mtime_ns``); rows of changed files are computed again, all of them when the
encoder changed. Both files are written atomically (``gallery.runs.atomic_write``)
into a folder marked as the gallery's checkpoint folder, which
``gallery.runs.remove_checkpoint_folder`` deletes with the rest once the run is complete.
"""

import hashlib
import io
import json
import pathlib
import sys
import time

import numpy as np

from gallery.runs import atomic_write, mark_checkpoint_folder


def weights_digest(model):
    """SHA-1 of a Keras model's weights (names, shapes and bytes), hex."""
    digest = hashlib.sha1()
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        digest.update(f"{variable.path}{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def file_stamp(path):
    stat = pathlib.Path(path).stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def cached_features(folder, name, paths, encoder_id, compute, batch_size=32, log=None):
    """``(N, ...)`` float16 features of ``paths``: read from ``folder`` where still
    valid, else ``compute(list of paths) -> array (n, ...)`` in batches, with progress
    lines on ``log`` (default stderr), then saved."""
    log = log or sys.stderr
    folder = pathlib.Path(folder)
    data_file, index_file = folder / f"features-{name}.npy", folder / f"features-{name}.json"
    stamps = [file_stamp(p) for p in paths]
    features, todo = None, list(range(len(paths)))
    if data_file.is_file() and index_file.is_file():
        index = json.loads(index_file.read_text())
        if index.get("encoder") == encoder_id:
            features = np.load(data_file)
            known = {tuple(s): row for row, s in enumerate(index["files"])}
            old = features
            features = np.zeros((len(paths), *old.shape[1:]), np.float16)
            todo = []
            for row, stamp in enumerate(stamps):
                if tuple(stamp) in known:
                    features[row] = old[known[tuple(stamp)]]
                else:
                    todo.append(row)
    if not todo:
        print(f"features of {len(paths)} {name} images: reused from {folder}", file=log,
              flush=True)
        return features
    started = time.time()
    for start in range(0, len(todo), batch_size):
        rows = todo[start:start + batch_size]
        out = np.asarray(compute([paths[r] for r in rows])).astype(np.float16)
        if features is None:
            features = np.zeros((len(paths), *out.shape[1:]), np.float16)
        features[rows] = out
        done = start + len(rows)
        if done == len(todo) or (start // batch_size) % 20 == 19:
            rate = done / max(time.time() - started, 1e-9)
            print(f"features of {name} images: {done}/{len(todo)} ({rate:.1f} images/s)",
                  file=log, flush=True)
    mark_checkpoint_folder(folder)
    buffer = io.BytesIO()
    np.save(buffer, features)
    atomic_write(data_file, lambda handle: handle.write(buffer.getvalue()))
    text = json.dumps({"encoder": encoder_id, "files": stamps}).encode()
    atomic_write(index_file, lambda handle: handle.write(text))
    return features
