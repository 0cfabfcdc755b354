"""Reading PyTorch `.pth` / `.pt` checkpoints without torch, and without running their code.

The zip format of `torch.save` (torch >= 1.6): an archive whose records sit under one folder,
"<folder>/data.pkl" (the pickled object, protocol 2), "<folder>/data/<key>" (the raw bytes of
each storage), "<folder>/byteorder" ("little" or "big"; absent means little) and version files.
Inside data.pkl a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, backward_hooks[, metadata])` (a Parameter wraps that in `_rebuild_parameter`), and a
storage is a persistent reference ("storage", torch.FloatStorage, key, location, numel). Those
globals are answered here by stand-ins that build numpy arrays (offset, size and stride in
elements, views copied out so every array owns contiguous memory); anything else is refused as
in `restricted_load`. The pre-1.6 format and TorchScript archives are refused with a message.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointrend.utils.safe_pickle import CheckpointFormatError, refuse, restricted_load

# Pickle protocol 2 of torch's magic number 0x1950a86a20f9469cfc6c: how a pre-1.6 file starts.
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


@dataclass(frozen=True)
class StorageType:
    """A torch storage class (torch.FloatStorage...) as the dtype of its elements on disk."""

    name: str
    dtype: np.dtype

    @property
    def is_bfloat16(self) -> bool:
        return self.name == "BFloat16Storage"


STORAGE_TYPES = {
    name: StorageType(name, np.dtype(code))
    for name, code in {
        "DoubleStorage": "<f8",
        "FloatStorage": "<f4",
        "HalfStorage": "<f2",
        # numpy has no bfloat16: its 16 bits are the high half of a float32 (widened on reading).
        "BFloat16Storage": "<u2",
        "LongStorage": "<i8",
        "IntStorage": "<i4",
        "ShortStorage": "<i2",
        "CharStorage": "i1",
        "ByteStorage": "u1",
        "BoolStorage": "?",
    }.items()
}


def load_torch_zip(path: str | os.PathLike) -> Any:
    """The object `torch.save` wrote to `path`, with numpy arrays in place of tensors."""
    origin = str(path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            head = handle.read(len(LEGACY_TORCH_MAGIC))
        if head == LEGACY_TORCH_MAGIC:
            raise ValueError(
                f"{origin}: a checkpoint in torch's pre-1.6 format, which cannot be read "
                "safely; load it with torch and save it again with a current torch.save"
            )
        raise ValueError(f"{origin}: not a torch checkpoint (torch.save writes a zip archive)")
    with zipfile.ZipFile(path) as archive:
        folder = archive_folder(archive, origin)
        reader = TorchArchiveReader(archive, folder, origin)
        with archive.open(f"{folder}data.pkl") as handle:
            return restricted_load(handle, origin, reader.globals(), reader.storage)


def archive_folder(archive: zipfile.ZipFile, origin: str) -> str:
    """The "<folder>/" that holds data.pkl (the file's stem in older torch, "archive" in newer)."""
    names = archive.namelist()
    folders = sorted(
        {
            name[: -len("data.pkl")]
            for name in names
            if name.endswith("/data.pkl") and name.count("/") == 1
        }
    )
    if any(name.endswith("/constants.pkl") for name in names):
        raise ValueError(
            f"{origin}: a TorchScript archive (torch.jit.save), not a checkpoint; "
            "save the model's state_dict with torch.save instead"
        )
    if len(folders) != 1:
        raise ValueError(
            f"{origin}: not a torch checkpoint: expected one <folder>/data.pkl record "
            f"in the zip archive, found {len(folders)}"
        )
    return folders[0]


class TorchArchiveReader:
    """Storages of one torch archive, and the stand-ins for the globals data.pkl uses."""

    def __init__(self, archive: zipfile.ZipFile, folder: str, origin: str):
        self.archive, self.folder, self.origin = archive, folder, origin
        self.storages: dict[str, np.ndarray] = {}
        byteorder_record = f"{folder}byteorder"
        byteorder = "little"
        if byteorder_record in archive.namelist():
            byteorder = archive.read(byteorder_record).decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"{origin}: unknown byte order {byteorder!r} in {byteorder_record}")
        self.big_endian = byteorder == "big"

    def globals(self) -> dict[tuple[str, str], Any]:
        stand_ins: dict[tuple[str, str], Any] = {
            ("torch", name): storage_type for name, storage_type in STORAGE_TYPES.items()
        }
        stand_ins[("torch._utils", "_rebuild_tensor_v2")] = self.rebuild_tensor
        stand_ins[("torch._utils", "_rebuild_parameter")] = self.rebuild_parameter
        return stand_ins

    def storage(self, pid: Any) -> np.ndarray:
        """persistent_load: ("storage", StorageType, key, location, numel) -> 1-D array."""
        if (
            not isinstance(pid, tuple)
            or len(pid) != 5
            or pid[0] != "storage"
            or not isinstance(pid[1], StorageType)
            or not isinstance(pid[2], str)
            or not isinstance(pid[4], int)
        ):
            raise refuse(self.origin, f"a persistent reference {pid!r}")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            self.storages[key] = self.read_storage(storage_type, key, numel)
        return self.storages[key]

    def read_storage(self, storage_type: StorageType, key: str, numel: int) -> np.ndarray:
        record = f"{self.folder}data/{key}"
        try:
            raw = self.archive.read(record)
        except KeyError as error:
            raise CheckpointFormatError(
                f"{self.origin}: storage record {record} is missing"
            ) from error
        dtype = storage_type.dtype.newbyteorder(">" if self.big_endian else "<")
        if len(raw) < numel * dtype.itemsize:
            raise CheckpointFormatError(
                f"{self.origin}: storage record {record} holds {len(raw)} bytes, "
                f"{numel} x {storage_type.name} need {numel * dtype.itemsize}"
            )
        values = np.frombuffer(raw, dtype=dtype, count=numel).astype(dtype.newbyteorder("="))
        if storage_type.is_bfloat16:
            values = (values.astype(np.uint32) << 16).view(np.float32)
        return values

    def rebuild_tensor(
        self,
        storage: Any,
        offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any = False,
        backward_hooks: Any = None,
        metadata: Any = None,
    ) -> np.ndarray:
        """Tensor = view of `storage` at element `offset` with `size` and `stride` (in elements)."""
        if not any(storage is known for known in self.storages.values()):
            raise refuse(self.origin, f"a tensor built on a {type(storage).__name__}")
        if not (
            isinstance(offset, int)
            and is_int_tuple(size)
            and is_int_tuple(stride)
            and len(size) == len(stride)
            and offset >= 0
            and min(size + stride, default=0) >= 0
        ):
            raise CheckpointFormatError(
                f"{self.origin}: invalid tensor layout offset={offset!r} size={size!r} "
                f"stride={stride!r}"
            )
        if math.prod(size) == 0:
            return np.zeros(size, dtype=storage.dtype)
        last = offset + sum((extent - 1) * step for extent, step in zip(size, stride, strict=True))
        if last >= storage.size:
            raise CheckpointFormatError(
                f"{self.origin}: a tensor of size {size} and stride {stride} at offset "
                f"{offset} reaches element {last} of a storage of {storage.size}"
            )
        view = np.lib.stride_tricks.as_strided(
            storage[offset:],
            shape=size,
            strides=[step * storage.itemsize for step in stride],
            writeable=False,
        )
        return np.array(view, order="C")

    @staticmethod
    def rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> Any:
        return data


def is_int_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and all(type(item) is int for item in value)
