"""The NumPy reader of torch's legacy (non-zip) files, on files written here by hand
in the same format (torch is not installed): shapes, storage offsets, shared and
non-contiguous storages, dtypes, and one-line refusals of bad files."""

import pickle
import struct
import zipfile

import numpy as np
import pytest

from gallery.vision.torch_legacy import MAGIC_NUMBER, TorchFileError, read_state_dict

STORAGE_TYPES = {"float32": "FloatStorage", "float16": "HalfStorage", "int64": "LongStorage"}


# Pickle opcodes (protocol 2) for the object pickle, which names torch's globals.
def _global(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def _str(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _int(value):
    return b"J" + struct.pack("<i", value)  # BININT


def _tuple(items):
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _ordered_dict():
    return _global("collections", "OrderedDict") + b")R"  # OrderedDict()


def _tensor(key, storage, offset, size, stride, view=None, parameter=False):
    """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, {})``,
    the storage a persistent id as torch writes it; ``view=(view_key, start, length)``
    makes it a view of the storage (older files), ``parameter`` wraps it in
    ``_rebuild_parameter(tensor, True, {})`` as an ``nn.Parameter`` is saved."""
    storage_type = STORAGE_TYPES[str(storage.dtype)]
    view_metadata = b"N" if view is None else _tuple([_str(view[0]), _int(view[1]),
                                                      _int(view[2])])
    persistent_id = _tuple([_str("storage"), _global("torch", storage_type), _str(key),
                            _str("cpu"), _int(storage.size), view_metadata]) + b"Q"
    args = _tuple([persistent_id, _int(offset), _tuple(map(_int, size)),
                   _tuple(map(_int, stride)), b"\x89", _ordered_dict()])  # NEWFALSE
    tensor = _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    if not parameter:
        return tensor
    return (_global("torch._utils", "_rebuild_parameter")
            + _tuple([tensor, b"\x88", _ordered_dict()]) + b"R")  # NEWTRUE


def write_legacy(path, storages, tensors, cut=0):
    """A legacy ``torch.save`` file: ``storages`` is ``{key: 1-D array}``, ``tensors``
    ``[(name, key, offset, size, stride[, view, parameter])]``; ``cut`` drops that many
    final bytes."""
    storages = {key: data for key, data in storages.items()
                 if any(t[1] == key for t in tensors)}  # torch writes the used ones
    items = b"".join(_str(name) + _tensor(key, storages[key], *rest)
                     for name, key, *rest in tensors)
    obj = b"\x80\x02" + _ordered_dict() + b"(" + items + b"u."  # MARK ... SETITEMS STOP
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    parts = [pickle.dumps(MAGIC_NUMBER, 2), pickle.dumps(1001, 2), pickle.dumps(sys_info, 2),
             obj, pickle.dumps(list(storages), 2)]
    for data in storages.values():
        parts += [struct.pack("<q", data.size), data.astype(data.dtype.newbyteorder("<"))
                  .tobytes()]
    raw = b"".join(parts)
    path.write_bytes(raw[:len(raw) - cut])
    return path


@pytest.fixture
def storages():
    return {"0": np.arange(12, dtype="float32") * 0.5,
            "1": np.array([1.5, -2.0, 65504.0, 0.25], dtype="float16"),
            "2": np.array([7, -3, 2**40, 0, 1], dtype="int64")}


TENSORS = [
    ("conv.weight", "0", 0, (2, 3, 2), (6, 2, 1)),    # contiguous, the whole storage
    ("bn.bias", "0", 4, (3,), (1,)),                   # a slice of the same storage
    ("fc.weight_t", "0", 1, (3, 2), (1, 3)),           # transposed: not contiguous
    ("every_other", "0", 2, (2, 2), (6, 2)),           # strided rows and columns
    ("half", "1", 1, (3,), (1,)),
    ("counter", "2", 2, (), ()),                       # a scalar (num_batches_tracked)
    ("longs", "2", 0, (5,), (1,)),
    ("param", "0", 1, (2,), (3,), None, True),         # an nn.Parameter
    ("viewed", "0", 1, (2,), (1,), ("0v", 6, 4)),      # offset 1 in a view from 6
]


def test_reads_shapes_offsets_strides_and_dtypes(tmp_path, storages):
    state = read_state_dict(write_legacy(tmp_path / "w.pth", storages, TENSORS))
    assert list(state) == [t[0] for t in TENSORS]  # the file's order
    s = storages["0"]
    np.testing.assert_array_equal(state["conv.weight"], s.reshape(2, 3, 2))
    np.testing.assert_array_equal(state["bn.bias"], s[4:7])
    np.testing.assert_array_equal(state["fc.weight_t"], s[1:7].reshape(2, 3).T)
    np.testing.assert_array_equal(state["every_other"], [[s[2], s[4]], [s[8], s[10]]])
    np.testing.assert_array_equal(state["half"], storages["1"][1:])
    assert state["half"].dtype == np.float16
    assert state["counter"].shape == () and state["counter"] == 2**40
    assert state["longs"].dtype == np.int64
    np.testing.assert_array_equal(state["longs"], storages["2"])
    np.testing.assert_array_equal(state["param"], [s[1], s[4]])
    np.testing.assert_array_equal(state["viewed"], s[7:9])
    assert state["fc.weight_t"].flags.c_contiguous and state["conv.weight"].flags.writeable


@pytest.mark.parametrize("cut", [1, 8, 60])
def test_truncated_file_is_one_line(tmp_path, storages, cut):
    path = write_legacy(tmp_path / "w.pth", storages, TENSORS, cut=cut)
    with pytest.raises(TorchFileError, match="ends before the bytes of its storages"):
        read_state_dict(path)


def test_cut_inside_the_pickles_is_one_line(tmp_path, storages):
    path = write_legacy(tmp_path / "w.pth", storages, TENSORS)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(TorchFileError, match="not a readable torch legacy-format file"):
        read_state_dict(path)


def test_tensor_past_its_storage_is_refused(tmp_path, storages):
    path = write_legacy(tmp_path / "w.pth", storages, [("x", "0", 10, (3,), (1,))])
    with pytest.raises(TorchFileError, match="reaches past the end of its storage"):
        read_state_dict(path)


def test_zip_format_and_other_files_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "new.pth", "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(TorchFileError, match="zip format"):
        read_state_dict(tmp_path / "new.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(TorchFileError, match="empty.pth is not a readable"):
        read_state_dict(tmp_path / "empty.pth")
    (tmp_path / "int.pth").write_bytes(pickle.dumps(12345, 2))
    with pytest.raises(TorchFileError, match="magic number"):
        read_state_dict(tmp_path / "int.pth")


def test_a_pickle_naming_other_code_does_not_run_it(tmp_path, storages):
    path = write_legacy(tmp_path / "w.pth", storages, TENSORS[:1])
    raw = path.read_bytes().replace(_global("collections", "OrderedDict"),
                                    _global("os", "system"), 1)
    path.write_bytes(raw)
    with pytest.raises(TorchFileError, match=r"refers to os\.system"):
        read_state_dict(path)


def test_size_limits(tmp_path, storages):
    path = write_legacy(tmp_path / "w.pth", storages, TENSORS)
    with pytest.raises(TorchFileError, match="more than the limit of 100"):
        read_state_dict(path, max_bytes=100)
    # stride 0 repeats one stored element: 2**40 floats from 12 stored ones
    path = write_legacy(tmp_path / "w.pth", storages, [("big", "0", 0, (2**20, 2**20), (0, 0))])
    with pytest.raises(TorchFileError, match="big would take 4398046511104 bytes"):
        read_state_dict(path)
