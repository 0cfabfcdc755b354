"""Unpickling checkpoint files without running code from them: only arrays and plain containers.

A pickle names the functions that rebuild its objects and `pickle.load` calls them, so a crafted
weights file runs any command it likes. `restricted_load` resolves only the globals that rebuild
numpy arrays, dtypes and scalars, an OrderedDict, and protocol 2's byte strings; every other
global is refused when the pickle names it, before anything is called. The loaded object is
then checked to hold nothing but numeric or boolean arrays and plain containers (dict,
OrderedDict, list, tuple, str, bytes, int, float, bool, None): the idea of torch's
`weights_only`. Readers of particular formats (Paddle, torch) add the few globals their writer
uses, each one a stand-in that only builds data.
"""

from __future__ import annotations

import _compat_pickle
import collections
import os
import pickle
import struct
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

# Numeric and boolean arrays only: object arrays would carry arbitrary Python objects, and
# strings or structured records have no place in a weights file.
ARRAY_KINDS = "biufc"
PLAIN_LEAVES = (str, bytes, int, float, bool, type(None))
PLAIN_CONTAINERS = (dict, collections.OrderedDict, list, tuple)
REFUSAL_REASON = "checkpoint files may contain only arrays and plain containers"

Globals = Mapping[tuple[str, str], Callable[..., Any]]


class UnsafePickleError(ValueError):
    """A pickle asked for something other than arrays and plain containers."""


class CheckpointFormatError(ValueError):
    """A stand-in found data that breaks its format's rules (e.g. a tensor outside its storage)."""


def refuse(origin: str, what: str) -> UnsafePickleError:
    return UnsafePickleError(f"{origin}: refused to load {what}: {REFUSAL_REASON}")


def checked_dtype(spec: Any, origin: str) -> np.dtype:
    try:
        dtype = np.dtype(spec)
    except TypeError as error:
        raise refuse(origin, f"an array of dtype {spec!r}") from error
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise refuse(origin, f"an array of dtype {dtype!r}")
    return dtype


def numpy_globals(origin: str) -> dict[tuple[str, str], Callable[..., Any]]:
    """Stand-ins for the globals numpy's own pickling uses (numpy 1.x and 2.x module names)."""

    def new_array(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
        # numpy's `_reconstruct(ndarray, (0,), b"b")`: an empty array that BUILD then fills.
        if subtype is not np.ndarray:
            raise refuse(origin, f"an array of type {subtype!r}")
        return np.ndarray.__new__(np.ndarray, shape, checked_dtype(typecode, origin))

    def new_dtype(spec: Any, align: bool = False, copy: bool = True) -> np.dtype:
        # Always a copy: BUILD sets the byte order on the result, and numpy's cached dtype
        # singletons must not be changed by a file.
        checked_dtype(spec, origin)
        return np.dtype(spec, bool(align), True)

    def scalar(dtype: Any, data: Any = None) -> np.generic:
        dtype = checked_dtype(dtype, origin)
        if isinstance(data, str):
            data = data.encode("latin1")
        if not isinstance(data, bytes) or len(data) != dtype.itemsize:
            raise refuse(origin, f"a numpy scalar built from {type(data).__name__}")
        return np.frombuffer(data, dtype=dtype, count=1)[0]

    def from_buffer(buffer: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
        # Protocol 5 form of an array (numpy's `_frombuffer`).
        if not isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)):
            raise refuse(origin, f"an array built from {type(buffer).__name__}")
        flat = np.frombuffer(memoryview(buffer), dtype=checked_dtype(dtype, origin))
        return flat.reshape(shape, order="F" if order == "F" else "C")

    stand_ins: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): new_dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): latin1_encode(origin),
    }
    for core in ("numpy.core", "numpy._core"):
        stand_ins[(f"{core}.multiarray", "_reconstruct")] = new_array
        stand_ins[(f"{core}.multiarray", "scalar")] = scalar
        stand_ins[(f"{core}.numeric", "_frombuffer")] = from_buffer
    return stand_ins


def latin1_encode(origin: str) -> Callable[..., bytes]:
    """Protocol 2 writes a bytes object as `_codecs.encode(text, "latin1")`."""

    def encode(text: Any, encoding: str = "utf-8") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise refuse(origin, f"'_codecs.encode' of {type(text).__name__} as {encoding!r}")
        return text.encode("latin1")

    return encode


def python3_name(module: str, name: str) -> tuple[str, str]:
    """The Python 3 name of a global that a protocol 0-2 pickle names the Python 2 way (as
    `pickle.Unpickler.find_class` renames it): __builtin__.tuple, commands.Popen..."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals in `allowed`, keyed by (module, name)."""

    def __init__(
        self,
        file: IO[bytes],
        origin: str,
        allowed: Globals,
        persistent_load: Callable[[Any], Any] | None = None,
    ):
        # latin1 decodes Python 2 byte strings (old Caffe2 / Detectron pickles) as numpy expects.
        super().__init__(file, encoding="latin1")
        self.origin = origin
        self.allowed = allowed
        self.persistent_loader = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        stand_in = self.allowed.get((module, name))
        if stand_in is None:
            module, name = python3_name(module, name)
            stand_in = self.allowed.get((module, name))
        if stand_in is None:
            raise refuse(self.origin, f"'{module}.{name}'")
        return stand_in

    def persistent_load(self, pid: Any) -> Any:
        if self.persistent_loader is None:
            raise refuse(self.origin, f"a persistent reference {pid!r}")
        return self.persistent_loader(pid)


def restricted_load(
    file: IO[bytes],
    origin: str,
    extra_globals: Globals | None = None,
    persistent_load: Callable[[Any], Any] | None = None,
    extra_leaves: tuple[type, ...] = (),
) -> Any:
    """Unpickle `file` (named `origin` in errors), allowing numpy's globals plus `extra_globals`.

    `extra_leaves` are stand-in types of `extra_globals` that the result may hold besides plain
    data (each one a class of the caller's that only stores checked numbers).

    Raises UnsafePickleError for anything else, and a ValueError naming the file when the data is
    not a complete pickle.
    """
    allowed = {**numpy_globals(origin), **(extra_globals or {})}
    unpickler = RestrictedUnpickler(file, origin, allowed, persistent_load)
    try:
        loaded = unpickler.load()
    except (UnsafePickleError, CheckpointFormatError):
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        struct.error,
    ) as error:
        raise ValueError(
            f"{origin}: not a readable pickle, the file may be truncated or corrupt "
            f"({type(error).__name__}: {error})"
        ) from error
    ensure_plain(loaded, origin, extra_leaves)
    return loaded


def ensure_plain(obj: Any, origin: str, extra_leaves: tuple[type, ...] = ()) -> None:
    """Raise UnsafePickleError unless `obj` holds only arrays, numpy scalars and plain
    containers."""
    pending, seen = [obj], set()
    while pending:
        item = pending.pop()
        # Exact types: a subclass (np.matrix, np.memmap, a float subclass...) is not plain data.
        if type(item) is np.ndarray or isinstance(item, np.generic):
            checked_dtype(item.dtype, origin)
        elif type(item) in PLAIN_LEAVES or type(item) in extra_leaves:
            continue
        elif type(item) in PLAIN_CONTAINERS:
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                pending.extend(item.keys())
                pending.extend(item.values())
                # An OrderedDict may carry attributes, e.g. torch's `_metadata` of a state dict.
                pending.extend(getattr(item, "__dict__", {}).values())
            else:
                pending.extend(item)
        else:
            raise refuse(origin, f"an object of type {type(item).__module__}.{type(item).__name__}")


def load_pickle_arrays(path: str | os.PathLike) -> Any:
    """A plain pickle of arrays and containers, e.g. a detectron2 model-zoo `.pkl`
    ({"model": {name: array}, "__author__": ...}) or a Caffe2 / Detectron ImageNet `.pkl`."""
    with open(path, "rb") as handle:
        return restricted_load(handle, str(path))
