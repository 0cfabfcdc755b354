"""Bridge to the compiled CPU kernel in `csrc/point_sample.c` (module `pointrend.ops._native`).

Shape shorthand: N batch, C channels, H x W map, P points.

The kernel is built by `pip install` when a C compiler is present. `native_available()` says
whether it was; callers fall back to Paddle's grid_sample when it was not.

Thread count, first match wins:
  1. `set_num_threads(n)`;
  2. the environment variable POINTREND_NUM_THREADS;
  3. the number of CPUs this process may run on.
OMP_NUM_THREADS is not consulted because `import paddle` sets it to 1 when it is unset; the
count is passed to every kernel call explicitly.
"""

import os

import paddle
from paddle.autograd import PyLayer

from pointrend.utils.system import usable_cpus

try:
    # The compiled kernel (csrc/) has no type information; absent until it is built.
    from pointrend.ops import _native  # type: ignore[attr-defined]
except ImportError:
    _native = None

_THREADS_ENV = "POINTREND_NUM_THREADS"
_num_threads_override: int | None = None


def native_available() -> bool:
    """True when the compiled CPU kernel is importable."""
    return _native is not None


def native_has_openmp() -> bool:
    """True when the compiled kernel was built with OpenMP (multi-threaded)."""
    return _native is not None and bool(_native.OPENMP)


def set_num_threads(num_threads: int | None) -> None:
    """Threads used by the CPU kernel; None restores the default rule (see module docstring)."""
    global _num_threads_override
    if num_threads is not None and int(num_threads) < 1:
        raise ValueError(f"set_num_threads: need a positive thread count, got {num_threads}")
    _num_threads_override = None if num_threads is None else int(num_threads)


def get_num_threads() -> int:
    """Threads the CPU kernel uses now (see module docstring for the rule)."""
    if _num_threads_override is not None:
        return _num_threads_override
    from_env = os.environ.get(_THREADS_ENV)
    if from_env:
        try:
            value = int(from_env)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{_THREADS_ENV} must be a positive integer, got {from_env!r}")
        return value
    return usable_cpus()


def native_serves(*tensors: paddle.Tensor) -> bool:
    """The kernel serves CPU tensors in dynamic mode; static graphs (export) keep grid_sample."""
    return (
        _native is not None
        and paddle.in_dynamic_mode()
        and all(tensor.place.is_cpu_place() for tensor in tensors)
    )


def _contiguous_float32(tensor: paddle.Tensor) -> paddle.Tensor:
    if tensor.dtype != paddle.float32:
        tensor = tensor.astype("float32")
    return tensor if tensor.is_contiguous() else tensor.contiguous()


def _mode_id(mode: str) -> int:
    return _native.BILINEAR if mode == "bilinear" else _native.NEAREST


class _PointSample(PyLayer):
    @staticmethod
    def forward(ctx, features, coords, mode):
        batch, channels, height, width = features.shape
        num_points = coords.shape[1]
        out = paddle.empty([batch, channels, num_points], dtype="float32")
        if batch * channels * num_points > 0:
            _native.forward(
                _mode_id(mode),
                features.data_ptr(),
                coords.data_ptr(),
                out.data_ptr(),
                batch,
                channels,
                height,
                width,
                num_points,
                get_num_threads(),
            )
        ctx.save_for_backward(coords)
        ctx.mode = mode
        ctx.features_shape = features.shape
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (coords,) = ctx.saved_tensor()
        batch, channels, height, width = ctx.features_shape
        grad_out = _contiguous_float32(grad_out)
        grad_features = paddle.empty([batch, channels, height, width], dtype="float32")
        if batch * channels * height * width > 0:
            _native.backward(
                _mode_id(ctx.mode),
                grad_out.data_ptr(),
                coords.data_ptr(),
                grad_features.data_ptr(),
                batch,
                channels,
                height,
                width,
                coords.shape[1],
                get_num_threads(),
            )
        # Coordinates receive no gradient, as documented for point_sample.
        return grad_features, None


def native_point_sample(features: paddle.Tensor, coords: paddle.Tensor, mode: str) -> paddle.Tensor:
    """Kernel version of point_sample: features [N, C, H, W] float32 CPU, coords [N, P, 2] -> [N, C,
    P]."""
    coords = _contiguous_float32(coords.detach())
    features = features if features.is_contiguous() else features.contiguous()
    return _PointSample.apply(features, coords, mode)


def native_sample_labels(
    labels: paddle.Tensor, coords: paddle.Tensor, ignore_index: int
) -> paddle.Tensor:
    """Kernel version of sample_labels: labels [N, H, W] CPU, coords [N, P, 2] -> [N, P] int64."""
    labels = labels if labels.dtype == paddle.int64 else labels.astype("int64")
    labels = labels if labels.is_contiguous() else labels.contiguous()
    coords = _contiguous_float32(coords.detach())
    batch, height, width = labels.shape
    num_points = coords.shape[1]
    out = paddle.empty([batch, num_points], dtype="int64")
    if batch * num_points > 0:
        _native.sample_labels(
            labels.data_ptr(),
            coords.data_ptr(),
            out.data_ptr(),
            batch,
            height,
            width,
            num_points,
            int(ignore_index),
            get_num_threads(),
        )
    return out
