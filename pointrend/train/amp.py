"""Automatic mixed precision settings for hapi's `Model.prepare(amp_configs=...)`."""

from __future__ import annotations

import warnings

from pointrend.train.settings import TrainingSettingError

AMP_LEVELS = ("O1", "O2")
AMP_DTYPES = ("float16", "bfloat16")


def amp_configs(enabled: bool, level: str, dtype: str, on_gpu: bool) -> dict | None:
    """hapi amp_configs, or None for float32 training.

    float16 uses dynamic loss scaling; bfloat16 has float32's range and needs none. On CPU
    Paddle has no float16/bfloat16 kernels for conv, matmul or grid_sample, so AMP is refused
    with one warning and training runs in float32.
    """
    if not enabled:
        return None
    if level not in AMP_LEVELS or dtype not in AMP_DTYPES:
        raise TrainingSettingError(
            f"AMP level must be one of {AMP_LEVELS} and dtype one of {AMP_DTYPES}, "
            f"got {level!r}, {dtype!r}"
        )
    if dtype == "bfloat16" and level == "O2":
        raise TrainingSettingError(
            "AMP O2 with bfloat16 is not supported by paddle.Model (it casts O2 models to "
            "float16); use level O1 with bfloat16, or O2 with float16"
        )
    if not on_gpu:
        warnings.warn(
            "AMP was requested but training runs on CPU, where Paddle has no float16/bfloat16 "
            "kernels for conv, matmul and grid_sample: training in float32 instead",
            stacklevel=2,
        )
        return None
    if dtype == "bfloat16":
        return {"level": level, "use_dynamic_loss_scaling": False, "init_loss_scaling": 1.0}
    return {"level": level, "use_dynamic_loss_scaling": True, "init_loss_scaling": 2.0**15}
