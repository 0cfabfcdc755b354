"""Writing torch.save's zip format without torch, so that tests can make real `.pth` files.

The layout follows torch.save (torch >= 1.6): records "<folder>/data.pkl" (protocol 2 pickle),
"<folder>/data/<key>" (raw storage bytes), "<folder>/byteorder" and "<folder>/version". A tensor
pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
OrderedDict()) and a storage as the persistent id ("storage", torch.<Type>Storage, key, "cpu",
numel). Pickle records functions and classes by module and name, so for the time of writing,
stand-in modules named `torch` and `torch._utils` provide objects under those names.
"""

from __future__ import annotations

import collections
import io
import pickle
import sys
import types
import zipfile
from dataclasses import dataclass

import numpy as np

STORAGE_NAMES = {
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float32"): "FloatStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int16"): "ShortStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}


@dataclass
class Storage:
    """One storage: `values` (1-D); `bfloat16` stores float32 values as their high 16 bits."""

    key: str
    values: np.ndarray
    bfloat16: bool = False

    @property
    def type_name(self) -> str:
        return "BFloat16Storage" if self.bfloat16 else STORAGE_NAMES[self.values.dtype]

    def raw_bytes(self, byteorder: str) -> bytes:
        values = self.values
        if self.bfloat16:
            values = (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        return values.astype(
            values.dtype.newbyteorder("<" if byteorder == "little" else ">")
        ).tobytes()


@dataclass
class Tensor:
    """A view of a storage: element offset, size and stride, as torch records a tensor."""

    storage: Storage
    offset: int
    size: tuple
    stride: tuple


@dataclass
class Parameter:
    data: Tensor


def _stand_in_modules() -> dict[str, types.ModuleType]:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # only its name is pickled
        raise AssertionError("stand-in")

    def _rebuild_parameter(*args):
        raise AssertionError("stand-in")

    for function in (_rebuild_tensor_v2, _rebuild_parameter):
        function.__module__, function.__qualname__ = "torch._utils", function.__name__
        setattr(utils, function.__name__, function)
    for name in [*STORAGE_NAMES.values(), "BFloat16Storage"]:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    return {"torch": torch, "torch._utils": utils}


class _TorchPickler(pickle.Pickler):
    def __init__(self, file, modules):
        super().__init__(file, protocol=2)
        self.modules = modules
        self.storages: dict[str, Storage] = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            storage_class = getattr(self.modules["torch"], obj.type_name)
            return ("storage", storage_class, obj.key, "cpu", obj.values.size)
        return None

    def reducer_override(self, obj):
        utils = self.modules["torch._utils"]
        if isinstance(obj, Tensor):
            args = (
                obj.storage,
                obj.offset,
                tuple(obj.size),
                tuple(obj.stride),
                False,
                collections.OrderedDict(),
            )
            return utils._rebuild_tensor_v2, args
        if isinstance(obj, Parameter):
            return utils._rebuild_parameter, (obj.data, True, collections.OrderedDict())
        return NotImplemented


def pickle_like_torch(obj) -> tuple[bytes, dict[str, Storage]]:
    """data.pkl bytes for `obj` (Tensor / Parameter anywhere inside) and the storages it uses."""
    modules = _stand_in_modules()
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        buffer = io.BytesIO()
        pickler = _TorchPickler(buffer, modules)
        pickler.dump(obj)
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module
    return buffer.getvalue(), pickler.storages


def write_torch_zip(
    path, obj, folder: str = "archive", byteorder: str = "little", data_pkl: bytes | None = None
) -> None:
    """Write `obj` as torch.save would; `data_pkl` replaces the pickle (for crafted files)."""
    pickled, storages = pickle_like_torch(obj)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", pickled if data_pkl is None else data_pkl)
        archive.writestr(f"{folder}/byteorder", byteorder)
        for key, storage in storages.items():
            archive.writestr(f"{folder}/data/{key}", storage.raw_bytes(byteorder))
        archive.writestr(f"{folder}/version", "3\n")
