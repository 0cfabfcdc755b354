"""Reading `.pdparams` / `.pdopt` files without `paddle.load`, which unpickles without limits.

What `paddle.save` (Paddle 3.3.1, `paddle/framework/io.py`) pickles, pickle protocol 4 by default
(2 or 3 on request):
- A state dict (every value a Tensor, or a dict holding no Tensor, such as an optimizer's
  "LR_Scheduler" entry): each Tensor becomes a numpy array (numpy's `_reconstruct`, `ndarray`,
  `dtype`; protocol 2 adds `_codecs.encode` for the raw bytes), and the key
  "StructuredToParameterName@@" maps each key to the parameter's name. With protocol 2 or 3,
  an array of more than 2**30 bytes is cut into "<key>@@.<i>" slices listed under
  "UnpackBigParamInfor@@".
- Any other object (e.g. {"model": state_dict, "epoch": 3}): pickled as it is, each Tensor as
  `builtins.tuple((name, array))` and each DenseTensor as `builtins.eval("data", {"data": array})`;
  a Layer is refused by paddle.save itself.
The readers here accept exactly that and return what `paddle.load(path, return_numpy=True)`
returns: the name table dropped, slices joined, (name, array) pairs replaced by their array.
`eval` is never called: its one legitimate form is answered by a dictionary lookup.
"""

from __future__ import annotations

import io
import os
import tarfile
from typing import IO, Any

import numpy as np

from pointrend.utils.safe_pickle import refuse, restricted_load

NAME_TABLE_KEY = "StructuredToParameterName@@"
BIG_ARRAY_SLICES_KEY = "UnpackBigParamInfor@@"  # sic, Paddle's spelling


def paddle_globals(origin: str) -> dict[tuple[str, str], Any]:
    """The two globals of paddle.save's generic path, as stand-ins that only build data."""

    def saved_dense_tensor(expression: Any, namespace: Any = None) -> np.ndarray:
        if (
            expression != "data"
            or not isinstance(namespace, dict)
            or list(namespace) != ["data"]
            or type(namespace["data"]) is not np.ndarray
        ):
            raise refuse(
                origin, "'builtins.eval' other than Paddle's eval('data', {'data': array})"
            )
        return namespace["data"]

    return {("builtins", "tuple"): tuple, ("builtins", "eval"): saved_dense_tensor}


def load_paddle_object(source: str | os.PathLike | IO[bytes], origin: str | None = None) -> Any:
    """What paddle.save wrote to `source` (a path or an open binary file, named `origin` in
    messages), with numpy arrays in place of Tensors, as `paddle.load(source, return_numpy=True)`
    returns it."""
    if isinstance(source, (str, os.PathLike)):
        origin = origin or str(source)
        with open(source, "rb") as handle:
            loaded = restricted_load(handle, origin, paddle_globals(origin))
    else:
        origin = origin or str(getattr(source, "name", "an open file"))
        loaded = restricted_load(source, origin, paddle_globals(origin))
    if isinstance(loaded, dict):
        loaded = join_big_array_slices(loaded, origin)
        if NAME_TABLE_KEY in loaded:
            del loaded[NAME_TABLE_KEY]
            return loaded
    try:
        return replace_named_arrays(loaded) if contains_named_array(loaded) else loaded
    except RecursionError as error:
        raise ValueError(
            f"{origin}: the pickled object refers to itself or is nested too deeply "
            "to be a checkpoint"
        ) from error


def load_paddle_archive(path: str | os.PathLike) -> Any:
    """What paddle.save wrote to the one `.pdparams` inside a (gzipped) tar, the form PaddleSeg
    publishes its ImageNet backbones in (e.g. `resnet50_vd_ssld_v2/model.pdparams`)."""
    with tarfile.open(path) as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".pdparams")]
        if len(members) != 1:
            names = ", ".join(m.name for m in members) or "none"
            raise ValueError(f"{path}: expected one .pdparams file in the archive, found {names}")
        with archive.extractfile(members[0]) as member:  # type: ignore[union-attr]  # a file
            data = member.read()
    return load_paddle_object(io.BytesIO(data), origin=f"{path}/{members[0].name}")


def load_pdparams(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A parameter file ({name: array}, e.g. `paddle.save(layer.state_dict(), path)`)."""
    loaded = load_paddle_object(path)
    if not isinstance(loaded, dict):
        raise ValueError(
            f"{path}: expected a parameter file (a dict of arrays), found a {type(loaded).__name__}"
        )
    for name, value in loaded.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise ValueError(
                f"{path}: expected a parameter file (a dict of arrays), but entry "
                f"{name!r} holds a {type(value).__name__}"
            )
    return loaded


def join_big_array_slices(state: dict, origin: str) -> dict:
    """Undo paddle.save's split of arrays above 2**30 bytes (protocols 2 and 3)."""
    slices_of = state.pop(BIG_ARRAY_SLICES_KEY, None)
    if slices_of is None:
        return state
    try:
        for key, info in slices_of.items():
            parts = [state.pop(part) for part in info["slices"]]
            state[key] = np.concatenate(parts).reshape(info["OriginShape"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(
            f"{origin}: the split arrays listed under {BIG_ARRAY_SLICES_KEY!r} "
            f"are incomplete ({type(error).__name__}: {error})"
        ) from error
    return state


def is_named_array(obj: Any) -> bool:
    """The (name, array) pair paddle.save's generic path writes for a Tensor."""
    return (
        type(obj) is tuple
        and len(obj) == 2
        and isinstance(obj[0], str)
        and type(obj[1]) is np.ndarray
    )


def contains_named_array(obj: Any) -> bool:
    if is_named_array(obj):
        return True
    if isinstance(obj, dict):
        return any(contains_named_array(value) for value in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(contains_named_array(value) for value in obj)
    return False


def replace_named_arrays(obj: Any) -> Any:
    """Every (name, array) pair replaced by its array, containers rebuilt (paddle.load's rule)."""
    if is_named_array(obj):
        return obj[1]
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = replace_named_arrays(obj[key])
        return obj
    if isinstance(obj, list):
        return [replace_named_arrays(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(replace_named_arrays(value) for value in obj)
    return obj
