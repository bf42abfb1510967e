"""Reading a PyTorch ``state_dict`` saved in torch's legacy (non-zip) format, with the
standard library and NumPy only (torch is never imported).

``torch.save(obj, f, _use_new_zipfile_serialization=False)`` (the only format before
torch 1.6) writes, one after the other:

1. the pickle of the magic number ``0x1950a86a20f9469cfc6c``;
2. the pickle of the protocol version ``1001``;
3. the pickle of ``sys_info`` (``{"protocol_version", "little_endian", "type_sizes"}``);
4. the pickle of ``obj`` itself, in which every storage is a *persistent id*
   ``("storage", torch.FloatStorage, key, location, numel, view_metadata)`` and every
   tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``;
5. the pickle of the list of storage keys, in the order of step 6;
6. per storage: its element count as an 8-byte little-endian integer, then its
   ``count * itemsize`` raw little-endian bytes.

A tensor of ``size`` ``(d_0, ..., d_{n-1})`` and ``stride`` ``(s_0, ..., s_{n-1})``
(in elements) reads element ``(i_0, ..., i_{n-1})`` of its storage at
``offset + sum_k i_k s_k``: that is ``np.lib.stride_tricks.as_strided`` with byte
strides ``s_k * itemsize``, copied into a contiguous array.

The pickles are read by an unpickler that knows only the names a state dict needs
(``collections.OrderedDict``, the tensor rebuild functions, the storage types); any
other global is refused, so a file cannot run code. A truncated or corrupt file, a
zip-format file or a pickle of something else raises :class:`TorchFileError`, one line.
"""

import collections
import io
import math
import os
import pickle
import struct

import numpy as np

from gallery.errors import GalleryError, printable

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
#: the largest file read unless the caller passes another limit (Lite0's is 18.8 MB)
MAX_BYTES = 512 * 2**20

#: torch storage type -> NumPy dtype of its elements (little-endian, as written)
STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchFileError(GalleryError):
    """A file that is not a legacy-format torch state dict this reader can read."""


class _StorageType:
    """What ``torch.FloatStorage`` and its siblings unpickle to: their element dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _Storage:
    """One storage of the file: ``numel`` elements of ``dtype``, filled in step 6."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data = None


class _TensorRef:
    """A tensor waiting for its storage's bytes: ``(storage, offset, size, stride)``."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """Stands for ``torch._utils._rebuild_tensor(_v2)``; the extra arguments
    (``requires_grad``, backward hooks, metadata) do not change the values."""
    if isinstance(storage, tuple):  # a view of a storage (old files): (storage, offset)
        storage, view_offset = storage
        storage_offset += view_offset
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    """Stands for ``torch._utils._rebuild_parameter``: a parameter is its data."""
    return data


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    """A pickle reader that resolves only the globals of a state dict and turns the
    persistent ids of storages into :class:`_Storage` objects, one per key."""

    def __init__(self, handle, storages):
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _GLOBALS:
            return _GLOBALS[(module, name)]
        raise TorchFileError(f"refers to {printable(module)}.{printable(name)}, "
                             "which a state dict of tensors does not use")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and len(saved_id) == 6
                and saved_id[0] == "storage" and isinstance(saved_id[1], _StorageType)):
            raise TorchFileError(f"has a persistent id that is no storage: "
                                 f"{printable(repr(saved_id)[:80])}")
        _, storage_type, key, _location, numel, view = saved_id
        if not isinstance(numel, int) or numel < 0:
            raise TorchFileError(f"storage {printable(key)} has a bad size {numel!r}")
        storage = self.storages.setdefault(key, _Storage(key, storage_type.dtype, numel))
        if storage.dtype != storage_type.dtype:
            raise TorchFileError(f"storage {printable(key)} is given two element types")
        if view is None:
            return storage
        _view_key, view_offset, _view_size = view
        return (storage, view_offset)


def _load_pickle(handle, storages):
    return _Unpickler(handle, storages).load()


def _read_storage_bytes(handle, storage, remaining):
    """Step 6 for one storage: its element count, then its bytes."""
    header = handle.read(8)
    if len(header) != 8:
        raise TorchFileError("ends before the bytes of its storages")
    (count,) = struct.unpack("<q", header)
    if count != storage.numel:
        raise TorchFileError(f"storage {printable(storage.key)} holds {count} elements; "
                             f"its tensors were given {storage.numel}")
    nbytes = count * storage.dtype.itemsize
    if nbytes > remaining:
        raise TorchFileError("ends before the bytes of its storages")
    data = handle.read(nbytes)
    if len(data) != nbytes:
        raise TorchFileError("ends before the bytes of its storages")
    storage.data = np.frombuffer(data, dtype=storage.dtype)
    return 8 + nbytes


def _materialize(ref, name, budget):
    """The tensor ``ref`` as a contiguous native-endian array (see the module doc);
    refused if it would take more than ``budget`` bytes (a stride of 0 repeats an
    element without storing it)."""
    storage, size, stride = ref.storage, ref.size, ref.stride
    if len(size) != len(stride) or any(d < 0 for d in size) or any(s < 0 for s in stride):
        raise TorchFileError(f"tensor {printable(name)} has size {size} and stride {stride}")
    nbytes = math.prod(size) * storage.dtype.itemsize
    if nbytes > budget:
        raise TorchFileError(f"tensor {printable(name)} would take {nbytes} bytes, more "
                             f"than the {budget} left of the limit")
    if 0 in size:
        return np.zeros(size, storage.dtype.newbyteorder("="))
    last = ref.offset + sum((d - 1) * s for d, s in zip(size, stride))
    if ref.offset < 0 or last >= storage.numel:
        raise TorchFileError(f"tensor {printable(name)} reaches past the end of its storage")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage.data[ref.offset:], shape=size, strides=[s * itemsize for s in stride],
        writeable=False)
    return np.array(view, dtype=storage.dtype.newbyteorder("="), order="C")


def read_state_dict(path, max_bytes=MAX_BYTES):
    """``OrderedDict name -> np.ndarray`` of a legacy-format torch ``state_dict`` file.

    Args:
        path: the ``.pth`` file.
        max_bytes: the largest file read, and the most bytes its arrays may take in
            all (default 512 MiB); more is refused.

    Raises:
        TorchFileError: the file is too large, zip-format, truncated, corrupt, or holds
            something other than a mapping of names to tensors.
    """
    label = printable(os.fspath(path))
    try:
        return _read(path, max_bytes)
    except TorchFileError as error:
        raise TorchFileError(f"{label} {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error) as error:
        raise TorchFileError(f"{label} is not a readable torch legacy-format file "
                             f"({type(error).__name__}: {printable(error)})") from None


def _read(path, max_bytes):
    size = os.path.getsize(path)
    if size > max_bytes:
        raise TorchFileError(f"is {size} bytes, more than the limit of {max_bytes}")
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:4] == b"PK\x03\x04":
        raise TorchFileError("is in torch's zip format; this reader reads the legacy "
                             "format (torch.save(..., _use_new_zipfile_serialization=False))")
    handle = io.BytesIO(raw)
    storages = {}
    if _load_pickle(handle, storages) != MAGIC_NUMBER:
        raise TorchFileError("does not start with torch's magic number")
    protocol = _load_pickle(handle, storages)
    if protocol != PROTOCOL_VERSION:
        raise TorchFileError(f"has protocol version {protocol!r}, not {PROTOCOL_VERSION}")
    sys_info = _load_pickle(handle, storages)
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise TorchFileError("was not written on a little-endian machine")
    result = _load_pickle(handle, storages)
    keys = _load_pickle(handle, storages)
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(map(str, storages)):
        raise TorchFileError("lists other storages than its tensors use")
    for key in keys:
        _read_storage_bytes(handle, storages[key], len(raw) - handle.tell())
    if not isinstance(result, dict):
        raise TorchFileError(f"holds a {type(result).__name__}, not a state dict")
    state, budget = collections.OrderedDict(), max_bytes  # the arrays' bytes, all told
    for name, value in result.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRef):
            raise TorchFileError(f"entry {printable(repr(name)[:80])} is not a named tensor")
        state[name] = _materialize(value, name, budget)
        budget -= state[name].nbytes
    return state
