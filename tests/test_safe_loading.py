"""Weights files are read without running code: paddle.save files, model-zoo pickles, torch zips."""

from __future__ import annotations

import collections
import io
import os
import pickle
import re
import subprocess
import zipfile

import numpy as np
import paddle
import pytest
from torch_zip_writer import Parameter, Storage, Tensor, write_torch_zip

from pointrend.models import ResNet, load_pretrained_backbone
from pointrend.utils.paddle_files import load_paddle_object, load_pdparams
from pointrend.utils.safe_pickle import UnsafePickleError, load_pickle_arrays
from pointrend.utils.torch_files import load_torch_zip
from pointrend.utils.weight_files import load_weights_file


def assert_same(ours, paddles):
    """Equal structure, container types, keys in order, arrays bit-identical with equal dtypes."""
    assert type(ours) is type(paddles)
    if isinstance(ours, dict):
        assert list(ours) == list(paddles)
        for key in ours:
            assert_same(ours[key], paddles[key])
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(paddles)
        for a, b in zip(ours, paddles, strict=True):
            assert_same(a, b)
    elif isinstance(ours, np.ndarray):
        assert ours.dtype == paddles.dtype and ours.shape == paddles.shape
        np.testing.assert_array_equal(ours, paddles)
    else:
        assert ours == paddles


def small_model() -> paddle.nn.Layer:
    paddle.seed(0)
    return paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4), paddle.nn.Conv1D(4, 2, 1)
    )


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_model_state_reads_as_paddle_load_returns_it(tmp_path, protocol):
    path = tmp_path / "model.pdparams"
    paddle.save(small_model().state_dict(), str(path), protocol=protocol)
    ours = load_pdparams(path)
    assert "StructuredToParameterName@@" not in ours
    assert_same(ours, paddle.load(str(path), return_numpy=True))
    assert list(ours) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1._mean",
        "1._variance",
        "2.weight",
        "2.bias",
    ]


def test_optimizer_state_with_lr_scheduler_reads_as_paddle_load_returns_it(tmp_path):
    model = small_model()
    schedule = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.PolynomialDecay(0.01, 100, power=0.9), 10, 0.0, 0.01
    )
    optimizer = paddle.optimizer.Momentum(
        schedule, momentum=0.9, parameters=model.parameters(), weight_decay=1e-4
    )
    conv, norm, point_conv = model
    (
        norm(conv(paddle.rand([1, 3, 8, 8]))).mean() + point_conv(paddle.rand([1, 4, 5])).mean()
    ).backward()
    optimizer.step()
    schedule.step()
    path = tmp_path / "optimizer.pdopt"
    paddle.save(optimizer.state_dict(), str(path))
    ours = load_paddle_object(path)
    assert ours["LR_Scheduler"] == {
        "last_epoch": 1,
        "last_lr": pytest.approx(0.001),
        "LinearWarmup_LR": {"last_epoch": 0, "last_lr": 0.01},
    }
    assert_same(ours, paddle.load(str(path), return_numpy=True))


def test_other_paddle_objects_with_tensors_and_dense_tensors_read_as_paddle_load_returns_them(
    tmp_path,
):
    """paddle.save's generic path: Tensors pickled as tuple((name, array)), DenseTensors through
    eval."""
    model = small_model()
    source = paddle.to_tensor(np.arange(6, dtype=np.int64).reshape(2, 3))
    dense = source.value().get_tensor()  # shares `source`'s memory, so `source` must stay alive
    saved = {
        "model": model.state_dict(),
        "epoch": 3,
        "dense": [dense, 1.5],
        "name": "x",
        "none": None,
    }
    path = tmp_path / "bundle.pdparams"
    paddle.save(saved, str(path))
    ours = load_paddle_object(path)
    assert_same(ours, paddle.load(str(path), return_numpy=True))
    np.testing.assert_array_equal(ours["dense"][0], np.arange(6).reshape(2, 3))
    assert isinstance(ours["model"], collections.OrderedDict)


def test_arrays_split_by_paddle_save_are_joined_as_paddle_load_joins_them(tmp_path):
    """Protocols 2/3 split arrays above 1 GiB; the same layout written small."""
    whole = np.arange(10, dtype=np.float32).reshape(2, 5)
    state = {
        "w@@.0": whole.ravel()[:6],
        "w@@.1": whole.ravel()[6:],
        "b": np.ones(2, np.float32),
        "UnpackBigParamInfor@@": {"w": {"OriginShape": (2, 5), "slices": ["w@@.0", "w@@.1"]}},
        "StructuredToParameterName@@": {"w": "linear_0.w_0", "b": "linear_0.b_0"},
    }
    path = tmp_path / "split.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=2))
    ours = load_pdparams(path)
    assert_same(ours, paddle.load(str(path), return_numpy=True))
    np.testing.assert_array_equal(ours["w"], whole)


def test_non_parameter_file_is_named_by_load_pdparams(tmp_path):
    path = tmp_path / "not_params.pdparams"
    paddle.save({"epoch": 3}, str(path))
    with pytest.raises(
        ValueError, match=r"not_params\.pdparams: expected a parameter file .* 'epoch'"
    ):
        load_pdparams(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_model_zoo_pickle_loads_with_any_protocol(tmp_path, protocol):
    weights = {
        "backbone.res2.0.conv1.weight": np.random.rand(4, 3, 1, 1).astype(np.float32),
        "sem_seg_head.predictor.bias": np.arange(3, dtype=np.float64),
        "count": np.int64(7),
    }
    path = tmp_path / "model_final.pkl"
    path.write_bytes(
        pickle.dumps(
            {"model": weights, "__author__": "someone", "matching_heuristics": True},
            protocol=protocol,
        )
    )
    loaded = load_pickle_arrays(path)
    assert loaded["__author__"] == "someone" and loaded["matching_heuristics"] is True
    assert_same(loaded["model"], weights)
    assert_same(load_weights_file(path)["model"], weights)


def python2_blobs_pickle(blobs: dict[str, np.ndarray]) -> bytes:
    """What Python 2's cPickle (protocol 2) writes for {name: float32 array}: byte strings (py2
    str) for names and raw data, numpy.core module names."""

    def string(value: bytes) -> bytes:
        return (
            b"U" + bytes([len(value)]) + value
            if len(value) < 256
            else (b"T" + len(value).to_bytes(4, "little") + value)
        )

    out = b"\x80\x02}("
    for name, array in blobs.items():
        array = np.ascontiguousarray(array, dtype="<f4")
        shape = b"(" + b"".join(b"J" + int(n).to_bytes(4, "little") for n in array.shape) + b"t"
        out += string(name.encode())
        out += (
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
            + string(b"b")
            + b"\x87R"
        )
        out += b"(K\x01" + shape + b"cnumpy\ndtype\n" + string(b"f4") + b"K\x00K\x01\x87R"
        out += b"(K\x03" + string(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        out += b"\x89" + string(array.tobytes()) + b"tb"
    return out + b"u."


def test_python2_caffe2_pickle_loads(tmp_path):
    blobs = {
        "conv1_w": np.random.rand(2, 3, 7, 7).astype(np.float32),
        "res_conv1_bn_s": np.array([1.0, 2.0], np.float32),
    }
    path = tmp_path / "R-50.pkl"
    path.write_bytes(python2_blobs_pickle(blobs))
    assert_same(load_pickle_arrays(path), blobs)


def write_sample_torch_checkpoint(path, **kwargs) -> dict:
    """A torch.save-format file exercising views, shared storages and dtypes; returns the expected
    arrays."""
    base = np.arange(12, dtype=np.float32)
    shared = Storage("0", base)
    state = collections.OrderedDict(
        [
            ("transposed", Tensor(shared, 0, (4, 3), (1, 4))),  # base.reshape(3, 4).T
            ("window", Tensor(shared, 5, (2, 3), (4, 1))),  # base.reshape(3, 4)[1:3, 1:4]
            ("half", Tensor(Storage("1", np.array([0.5, -2.0, 3.0], np.float16)), 1, (2,), (1,))),
            ("steps", Tensor(Storage("2", np.array([7], np.int64)), 0, (), ())),
            ("mask", Tensor(Storage("3", np.array([True, False, True])), 0, (3,), (1,))),
            (
                "bf16",
                Tensor(
                    Storage("4", np.array([1.5, -2.0, 0.25], np.float32), bfloat16=True),
                    0,
                    (3,),
                    (1,),
                ),
            ),
            ("empty", Tensor(Storage("5", np.zeros(0, np.float32)), 0, (0, 4), (4, 1))),
        ]
    )
    state._metadata = collections.OrderedDict([("", {"version": 1}), ("norm", {"version": 3})])
    write_torch_zip(
        path,
        {"model": state, "iteration": 99, "param": Parameter(Tensor(shared, 0, (2,), (6,)))},
        **kwargs,
    )
    grid = base.reshape(3, 4)
    return {
        "transposed": grid.T,
        "window": grid[1:3, 1:4],
        "half": np.array([-2.0, 3.0], np.float16),
        "steps": np.array(7, np.int64),
        "mask": np.array([True, False, True]),
        "bf16": np.array([1.5, -2.0, 0.25], np.float32),
        "empty": np.zeros((0, 4), np.float32),
    }


@pytest.mark.parametrize("folder, byteorder", [("archive", "little"), ("model_final", "big")])
def test_torch_zip_checkpoint_reads_without_torch(tmp_path, folder, byteorder):
    path = tmp_path / "model_final.pth"
    expected = write_sample_torch_checkpoint(path, folder=folder, byteorder=byteorder)
    loaded = load_torch_zip(path)
    assert loaded["iteration"] == 99
    np.testing.assert_array_equal(loaded["param"], [0.0, 6.0])
    model = loaded["model"]
    assert isinstance(model, collections.OrderedDict)
    assert model._metadata["norm"] == {"version": 3}
    assert_same(dict(model), expected)
    assert_same(dict(load_weights_file(path)["model"]), expected)
    assert all(array.flags.c_contiguous and array.flags.owndata for array in model.values())
    model["window"][0, 0] = -1  # arrays do not share memory with one another
    assert model["transposed"][1, 1] == 5


def test_torch_layout_outside_its_storage_is_an_error_not_a_memory_read(tmp_path):
    path = tmp_path / "bad.pth"
    write_torch_zip(path, {"w": Tensor(Storage("0", np.zeros(6, np.float32)), 2, (3, 2), (2, 1))})
    with pytest.raises(
        ValueError, match=r"^\S*bad\.pth: a tensor of size \(3, 2\) .* reaches element 7"
    ):
        load_torch_zip(path)


def test_legacy_torch_files_and_torchscript_archives_are_refused_with_the_way_out(tmp_path):
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(
        b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03."
    )
    with pytest.raises(ValueError, match=r"legacy\.pth: .*pre-1\.6 format.*save it again"):
        load_weights_file(legacy)
    scripted = tmp_path / "scripted.pt"
    with zipfile.ZipFile(scripted, "w") as archive:
        archive.writestr("scripted/data.pkl", pickle.dumps({}))
        archive.writestr("scripted/constants.pkl", pickle.dumps(()))
    with pytest.raises(ValueError, match=r"scripted\.pt: a TorchScript archive"):
        load_torch_zip(scripted)


@pytest.mark.parametrize("content", [b"", b"\x80\x04\x95\x10\x00\x00"])
def test_truncated_or_empty_files_give_one_line_naming_the_file(tmp_path, content):
    path = tmp_path / "model.pdparams"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"model\.pdparams: not a readable pickle") as caught:
        load_pdparams(path)
    assert "\n" not in str(caught.value)


class Gadget:
    """An object whose unpickling calls `function(*args)`: what a crafted checkpoint contains."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def gadgets(marker) -> dict[str, Gadget]:
    """Ways to create `marker` from inside a pickle, by the global each one names."""
    command = f"touch {marker}"
    return {
        "posix.system": Gadget(os.system, command),
        "builtins.eval": Gadget(eval, f"__import__('os').system({command!r})"),
        "builtins.exec": Gadget(exec, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.Popen": Gadget(subprocess.Popen, ["touch", str(marker)]),
        "subprocess.check_call": Gadget(subprocess.check_call, ["touch", str(marker)]),
        "io.open": Gadget(open, str(marker), "w"),
    }


def write_crafted(kind: str, path, payload) -> None:
    """A file of `kind` whose contents hide `payload` beside real weights."""
    weights = {"conv.weight": np.ones((2, 2), np.float32), "conv.bias": payload}
    if kind == "pdparams":
        path.write_bytes(pickle.dumps(weights, protocol=4))
    elif kind == "pkl":
        path.write_bytes(pickle.dumps({"model": weights, "__author__": "x"}, protocol=2))
    else:
        write_torch_zip(path, {}, data_pkl=pickle.dumps({"model": weights}, protocol=2))


@pytest.mark.parametrize("kind", ["pdparams", "pkl", "pth"])
@pytest.mark.parametrize("global_name", list(gadgets("m")))
def test_crafted_files_are_refused_before_their_code_runs(tmp_path, kind, global_name):
    marker = tmp_path / "executed"
    path = tmp_path / f"crafted.{kind}"
    write_crafted(kind, path, gadgets(marker)[global_name])
    with pytest.raises(UnsafePickleError) as caught:
        load_weights_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: refused to load '{global_name}'")
    assert message.endswith(": checkpoint files may contain only arrays and plain containers")
    assert "\n" not in message and not marker.exists()


def test_eval_in_a_pdparams_is_refused_unless_it_is_paddles_saved_tensor_form(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "crafted.pdparams"
    write_crafted("pdparams", path, gadgets(marker)["builtins.eval"])
    with pytest.raises(
        UnsafePickleError, match=r"refused to load 'builtins\.eval' other than Paddle's"
    ):
        load_paddle_object(path)
    with pytest.raises(UnsafePickleError, match=r"refused to load 'builtins\.eval'"):
        load_pickle_arrays(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, refused",
    [
        ({1, 2}, "an object of type builtins.set"),
        (np.array([None, 1], dtype=object), "an array of dtype dtype('O')"),
        (np.zeros(2, dtype=[("a", "f4")]), "an array of dtype"),
        (np.array(["text"]), "an array of dtype dtype('<U4')"),
    ],
)
def test_data_other_than_numeric_arrays_and_plain_containers_is_refused(tmp_path, payload, refused):
    path = tmp_path / "odd.pkl"
    # Protocol 4 writes a set without naming a global: the check of the loaded data refuses it.
    path.write_bytes(pickle.dumps({"model": {"conv.bias": payload}}, protocol=4))
    with pytest.raises(UnsafePickleError, match=r"odd\.pkl: refused to load " + re.escape(refused)):
        load_pickle_arrays(path)


def test_crafted_pretrained_weights_are_refused_by_the_backbone_loader(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "ResNet18_vd_pretrained.pdparams"
    write_crafted("pdparams", path, gadgets(marker)["posix.system"])
    with pytest.raises(UnsafePickleError, match="refused to load 'posix.system'"):
        load_pretrained_backbone(ResNet(18, stem="vd", base_channels=8), str(path))
    assert not marker.exists()


def test_open_files_read_like_paths_and_are_named_by_their_origin(tmp_path):
    """Weights inside an archive are read from memory (e.g. PaddleSeg's STDCNet1.tar.gz)."""
    path = tmp_path / "model.pdparams"
    paddle.save(small_model().state_dict(), str(path))
    from_memory = load_paddle_object(io.BytesIO(path.read_bytes()), origin="STDCNet1.tar.gz/model")
    assert_same(from_memory, load_pdparams(path))
    crafted = tmp_path / "crafted.pdparams"
    write_crafted("pdparams", crafted, gadgets(tmp_path / "executed")["posix.system"])
    with pytest.raises(
        UnsafePickleError, match=r"^STDCNet1\.tar\.gz/model: refused to load 'posix"
    ):
        load_paddle_object(io.BytesIO(crafted.read_bytes()), origin="STDCNet1.tar.gz/model")
    assert not (tmp_path / "executed").exists()
