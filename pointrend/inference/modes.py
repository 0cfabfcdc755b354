"""Test-time inference: whole image or sliding window, any scales, optional horizontal flip.

Shape shorthand: N batch (1 in practice), K classes, H x W input size, h x w window size.
Every view (scale x flip, and every window in slide mode) is run through the model's eval
forward -- PointRend subdivision included, at that view's resolution -- brought back to H x W
and averaged. `average="probabilities"` (mmsegmentation's way) averages the views' softmax
probabilities; `average="logits"` (PaddleSeg 2.8's `aug_inference` and `slide_inference`)
averages their raw logits and takes one softmax at the end. A whole-image view's logits are
resized to H x W before the softmax, as PaddleSeg and mmsegmentation do, so a single scale such
as STDC's "Seg50" (`scales=(0.5,)`) gives exactly their prediction; slide mode averages its
windows' probabilities (or logits) and resizes those.
"""

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import paddle
import paddle.nn.functional as F

MODES = ("whole", "slide")
# How the views (scales x flips, and windows) are combined: see the module docstring.
AVERAGES = ("probabilities", "logits")


@contextlib.contextmanager
def eval_mode(model: paddle.nn.Layer) -> Iterator[paddle.nn.Layer]:
    """Put `model` in eval mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


def _pair(value: object, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, value
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and v > 0 for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}")


@dataclass(frozen=True)
class InferenceOptions:
    """How evaluation and prediction run a network over an image (see the module docstring).

    mode: "whole" (one pass per view) or "slide" (windows of `crop`, every `stride`; default
    stride: the crop, no overlap). scales: resize factors, one view each (each also mirrored
    with `flip`). average: what is averaged over the views, "probabilities" or "logits".
    crop and stride take an int or (height, width) and are stored as (height, width).
    """

    mode: str = "whole"
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    crop: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    average: str = "probabilities"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.average not in AVERAGES:
            raise ValueError(f"average must be one of {AVERAGES}, got {self.average!r}")
        scales = self.scales
        if (
            isinstance(scales, (str, bytes))
            or not isinstance(scales, Sequence)
            or not scales
            or any(
                isinstance(scale, bool) or not isinstance(scale, (int, float)) or float(scale) <= 0
                for scale in scales
            )
        ):
            raise ValueError(f"scales must be a non-empty list of positive numbers, got {scales!r}")
        object.__setattr__(self, "scales", tuple(float(scale) for scale in scales))
        object.__setattr__(self, "flip", bool(self.flip))
        if self.mode == "slide" and self.crop is None:
            raise ValueError("mode='slide' needs crop=(height, width), e.g. crop=(1024, 1024)")
        if self.crop is not None:
            object.__setattr__(self, "crop", _pair(self.crop, "crop"))
        if self.stride is not None:
            object.__setattr__(self, "stride", _pair(self.stride, "stride"))

    @property
    def window_stride(self) -> tuple[int, int]:
        """The slide step (height, width): `stride`, or the crop when none is given."""
        if self.crop is None:
            raise ValueError("a window stride needs crop=(height, width)")
        return self.stride if self.stride is not None else self.crop

    def describe(self, model: paddle.nn.Layer | None = None) -> dict:
        """The settings as a JSON-friendly dict (recorded beside every result), with the
        model's subdivision settings when it has them."""
        config: dict = {
            "mode": self.mode,
            "scales": list(self.scales),
            "flip": self.flip,
            "average": self.average,
        }
        if self.mode == "slide":
            config["crop"] = list(self.crop or ())
            config["stride"] = list(self.window_stride)
        if model is not None:
            for attribute in ("subdivision_steps", "subdivision_num_points"):
                if hasattr(model, attribute):
                    config[attribute] = int(getattr(model, attribute))
        return config


# One pass over the whole image at its own size: what evaluation and prediction do by default.
WHOLE_IMAGE = InferenceOptions()


def _eval_logits(model: paddle.nn.Layer, images: paddle.Tensor) -> paddle.Tensor:
    """The model's eval logits [N, K, H, W], checked to be a tensor at the input size."""
    logits = model(images)
    if isinstance(logits, (list, tuple)):
        raise TypeError(
            "the model returned a tuple: it is in training mode; call model.eval() first"
        )
    if logits.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"the model's eval output {list(logits.shape)} does not match its input size "
            f"{list(images.shape[-2:])}; eval forward must return logits at input resolution"
        )
    return logits.astype("float32")


def _window_starts(size: int, window: int, stride: int) -> list:
    """Window offsets covering [0, size): every `stride`, the last one flush with the end."""
    if size <= window:
        return [0]
    starts = list(range(0, size - window, stride))
    starts.append(size - window)
    return starts


def slide_probabilities(
    model: paddle.nn.Layer, images: paddle.Tensor, options: InferenceOptions
) -> paddle.Tensor:
    """Sliding-window softmax probabilities [N, K, H, W] (windows of `options.crop`);
    overlapping windows are averaged (their probabilities, or with `average="logits"` their
    logits, then one softmax)."""
    scores = slide_scores(model, images, options)
    return F.softmax(scores, axis=1) if options.average == "logits" else scores


def slide_scores(
    model: paddle.nn.Layer, images: paddle.Tensor, options: InferenceOptions
) -> paddle.Tensor:
    """The windows' probabilities [N, K, H, W], or their logits with `average="logits"`,
    averaged where windows overlap.

    A dimension smaller than the window is zero-padded (zero is the dataset mean after
    normalisation) so every window the model sees has the crop size it was trained on.
    """
    if options.crop is None:
        raise ValueError("sliding-window inference needs crop=(height, width)")
    crop_h, crop_w = options.crop
    stride_h, stride_w = options.window_stride
    height, width = images.shape[-2:]
    pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
    if pad_h or pad_w:
        images = F.pad(images, [0, pad_w, 0, pad_h], mode="constant", value=0.0, data_format="NCHW")
    padded_h, padded_w = images.shape[-2:]

    summed = None
    count = paddle.zeros([1, 1, padded_h, padded_w], dtype="float32")
    for top in _window_starts(padded_h, crop_h, stride_h):
        for left in _window_starts(padded_w, crop_w, stride_w):
            window = images[:, :, top : top + crop_h, left : left + crop_w]
            scores = _eval_logits(model, window)
            if options.average == "probabilities":
                scores = F.softmax(scores, axis=1)
            padding = [left, padded_w - left - crop_w, top, padded_h - top - crop_h]
            placed = F.pad(scores, padding, mode="constant", value=0.0, data_format="NCHW")
            summed = placed if summed is None else summed + placed
            count += F.pad(
                paddle.ones([1, 1, crop_h, crop_w]),
                padding,
                mode="constant",
                value=0.0,
                data_format="NCHW",
            )
    assert summed is not None, "_window_starts gives every dimension at least one window"
    return (summed / count)[:, :, :height, :width]


def _resize(tensor: paddle.Tensor, size) -> paddle.Tensor:
    if list(tensor.shape[-2:]) == list(size):
        return tensor
    return F.interpolate(tensor, size=list(size), mode="bilinear", align_corners=False)


@paddle.no_grad()
def predict_probabilities(
    model: paddle.nn.Layer,
    image: paddle.Tensor,
    options: InferenceOptions = WHOLE_IMAGE,
) -> paddle.Tensor:
    """Softmax probabilities [N, K, H, W] for a normalised image batch [N, 3, H, W], from the
    views and windows `options` describe. The model must be in eval mode (see `eval_mode`).
    """
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be a [N, 3, H, W] tensor, got shape {list(image.shape)}")
    height, width = image.shape[-2:]
    total = None
    num_views = 0
    for scale in options.scales:
        # Rounded half up, as PaddleSeg does (Python's round() would round 0.5 to even).
        size = [max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))]
        scaled = _resize(image, size)
        for mirrored in [False, True] if options.flip else [False]:
            view = paddle.flip(scaled, axis=[3]) if mirrored else scaled
            if options.mode == "slide":
                scores = slide_scores(model, view, options)
            else:
                scores = _eval_logits(model, view)
            if mirrored:
                scores = paddle.flip(scores, axis=[3])
            scores = _resize(scores, [height, width])
            if options.average == "probabilities" and options.mode == "whole":
                scores = F.softmax(scores, axis=1)
            total = scores if total is None else total + scores
            num_views += 1
    assert total is not None, "options.scales is never empty (InferenceOptions checks it)"
    mean = total / num_views
    return F.softmax(mean, axis=1) if options.average == "logits" else mean


def predict_labels(
    model: paddle.nn.Layer, image: paddle.Tensor, options: InferenceOptions = WHOLE_IMAGE
) -> paddle.Tensor:
    """Arg-max class map [N, H, W] (int64) of `predict_probabilities(model, image, options)`."""
    return paddle.argmax(predict_probabilities(model, image, options), axis=1)
