"""Segmentors: the common Segmentor, the SemanticFPN baseline and PointRend on top of any coarse
head.

Shape shorthand: N batch, K classes, C channels, H x W input, P points.
"""

import contextlib
from collections.abc import Iterator

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from pointrend.models.subdivision import adaptive_subdivision
from pointrend.ops import point_sample, sample_points_for_training
from pointrend.ops.resize import upsample_bilinear
from pointrend.utils.distributed import unwrap_parallel


class Segmentor(nn.Layer):
    """backbone -> neck -> coarse head: what every segmentor here shares.

    `backbone(images)` returns a list of feature maps, `neck(features)` (optional, None to skip)
    another list, `coarse_head(features)` the coarse logits [N, K, h, w].

    Training mode: forward(images) -> (coarse_logits,). Training inputs must be multiples of
    `size_divisor` (the crop size).

    Eval mode: forward(images) -> logits [N, K, H, W] for any H, W (the input is zero-padded to a
    multiple of `size_divisor` and the logits cropped back; `size_divisor` 1 runs any input size
    as it is), by bilinear upsampling of the coarse logits unless a subclass refines them
    (`refine`).
    """

    def __init__(
        self,
        backbone: nn.Layer,
        neck: nn.Layer | None,
        coarse_head: nn.Layer,
        size_divisor: int = 32,
    ):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.coarse_head = coarse_head
        self.size_divisor = size_divisor

    def extract(self, images: paddle.Tensor) -> tuple[list[paddle.Tensor], paddle.Tensor]:
        """(feature maps after the neck, coarse logits [N, K, h, w])."""
        features = self.backbone(images)
        if self.neck is not None:
            features = self.neck(features)
        return features, self.coarse_head(features)

    def forward(self, images: paddle.Tensor):
        if self.training:
            return self.forward_train(images)
        return self.predict(images)

    def check_training_size(self, images: paddle.Tensor) -> None:
        height, width = images.shape[2], images.shape[3]
        if height % self.size_divisor or width % self.size_divisor:
            raise ValueError(
                f"training images must have height and width divisible by {self.size_divisor}, got "
                f"{height}x{width}: choose a crop size that is a multiple of {self.size_divisor}"
            )

    def forward_train(self, images: paddle.Tensor) -> tuple[paddle.Tensor, ...]:
        self.check_training_size(images)
        _, coarse_logits = self.extract(images)
        return (coarse_logits,)

    def refine(
        self,
        features: list[paddle.Tensor],
        coarse_logits: paddle.Tensor,
        trace: list[dict] | None = None,
    ) -> paddle.Tensor:
        """Eval logits from the coarse ones, before the resize to the input: unchanged here."""
        return coarse_logits

    def predict(self, images: paddle.Tensor, trace: list[dict] | None = None) -> paddle.Tensor:
        """Logits [N, K, H, W] at input resolution; `trace` collects what `refine` did (the
        subdivision steps of PointRend), over the padded input."""
        height, width = images.shape[2], images.shape[3]
        padded = pad_to_multiple(images, self.size_divisor)
        features, coarse_logits = self.extract(padded)
        logits = self.refine(features, coarse_logits, trace)
        # The logits cover the padded input, so resize to the padded size before cropping: resizing
        # straight to the input size would stretch the image content over the padding.
        return self._resize_to(logits, padded)[:, :, :height, :width]

    def _logits_stride(self) -> int | None:
        """Input pixels per eval logit, when it is a whole number known from the modules and the
        eval padding makes the padded input exactly that many times the logits; None otherwise."""
        stride = getattr(self.coarse_head, "output_stride", None)
        if not isinstance(stride, int) or self.size_divisor % stride:
            return None
        return stride

    def _resize_to(self, logits: paddle.Tensor, padded: paddle.Tensor) -> paddle.Tensor:
        """Bilinear resize of logits [N, K, h, w] to the padded input's H x W.

        An exported graph has a dynamic H x W, so the shapes cannot be compared there: it
        upsamples by the stride the modules define, without an interpolation op (see
        `pointrend.ops.resize`), or, when that stride is unknown, resizes to the size.
        """
        stride = self._logits_stride()
        if paddle.in_dynamic_mode() and logits.shape[2:] == padded.shape[2:]:
            return logits
        if not paddle.in_dynamic_mode() and stride is not None:
            return upsample_bilinear(logits, stride)
        return F.interpolate(logits, size=padded.shape[2:], mode="bilinear", align_corners=False)


class SemanticFPN(Segmentor):
    """The Semantic FPN baseline: backbone -> FPN -> coarse head, upsampled bilinearly."""


class PointRendSegmentor(Segmentor):
    """A segmentor whose coarse logits a point head refines (PointRend).

    PointRend can sit on any backbone / coarse head: `point_head(fine [N, C, P], coarse [N, K, P])`
    returns point logits [N, K, P]; the fine features are `features[fine_feature_level]` (P2 for
    FPN).

    Training mode: forward(images) -> (coarse_logits, point_logits [N, K, P], point_coords [N, P,
    2]), with points chosen by importance sampling on the coarse logits; (coarse_logits,) without a
    point head.

    Eval mode: with a point head and `subdivision_steps > 0` the logits come from adaptive
    subdivision, else from bilinear upsampling of the coarse logits. `subdivision_steps` and
    `subdivision_num_points` are plain ints that may be changed at any time, e.g. to evaluate the
    same model with and without PointRend. `cell_coords` ("centre" or "steps") is how a refined
    cell's coordinates are computed (`pointrend.ops.grid_cell_coords`).
    """

    def __init__(
        self,
        backbone: nn.Layer,
        neck: nn.Layer | None,
        coarse_head: nn.Layer,
        point_head: nn.Layer | None = None,
        train_num_points: int = 2048,
        oversample_ratio: float = 3.0,
        importance_ratio: float = 0.75,
        subdivision_steps: int = 2,
        subdivision_num_points: int = 8192,
        size_divisor: int = 32,
        fine_feature_level: int = 0,
        cell_coords: str = "centre",
    ):
        super().__init__(backbone, neck, coarse_head, size_divisor)
        self.point_head = point_head
        self.train_num_points = train_num_points
        self.oversample_ratio = oversample_ratio
        self.importance_ratio = importance_ratio
        self.subdivision_steps = subdivision_steps
        self.subdivision_num_points = subdivision_num_points
        self.fine_feature_level = fine_feature_level
        self.cell_coords = cell_coords

    def forward_train(self, images: paddle.Tensor) -> tuple[paddle.Tensor, ...]:
        self.check_training_size(images)
        features, coarse_logits = self.extract(images)
        if self.point_head is None:
            return (coarse_logits,)
        point_coords = sample_points_for_training(
            coarse_logits, self.train_num_points, self.oversample_ratio, self.importance_ratio
        )
        fine = point_sample(features[self.fine_feature_level], point_coords)
        coarse = point_sample(coarse_logits, point_coords)
        return coarse_logits, self.point_head(fine, coarse), point_coords

    def refine(
        self,
        features: list[paddle.Tensor],
        coarse_logits: paddle.Tensor,
        trace: list[dict] | None = None,
    ) -> paddle.Tensor:
        """Adaptive subdivision (see `adaptive_subdivision`), when there is a point head and
        `subdivision_steps > 0`."""
        if self.point_head is not None and self.subdivision_steps > 0:
            return adaptive_subdivision(
                coarse_logits,
                features[self.fine_feature_level],
                self.point_head,
                self.subdivision_steps,
                self.subdivision_num_points,
                trace,
                self.cell_coords,
            )
        return coarse_logits

    def _logits_stride(self) -> int | None:
        """(1 when subdivision reaches full resolution.)"""
        # Explicit base call: paddle.jit.to_static recurses forever on a bare super() here.
        stride = Segmentor._logits_stride(self)
        if stride is None:
            return None
        if self.point_head is not None and self.subdivision_steps > 0:
            stride, remainder = divmod(stride, 2**self.subdivision_steps)
            return stride if remainder == 0 and stride > 0 else None
        return stride

    @paddle.no_grad()
    def inference_with_trace(self, images: paddle.Tensor) -> tuple[paddle.Tensor, list[dict]]:
        """(logits [N, K, H, W], trace): one dict per subdivision step with "indices" [N, P] into
        the step's "height" x "width" grid (which spans the padded input) and "coords" [N, P, 2]
        normalised to the input image (points chosen in the padding have coordinates > 1)."""
        if self.training:
            raise RuntimeError("inference_with_trace needs eval mode: call model.eval() first")
        trace: list[dict] = []
        logits = self.predict(images, trace)
        height, width = images.shape[2], images.shape[3]
        padded_height, padded_width = padded_size(height, width, self.size_divisor)
        to_image = paddle.to_tensor([padded_width / width, padded_height / height], dtype="float32")
        for step in trace:
            step["coords"] = step["coords"] * to_image
        return logits, trace


def padded_size(height: int, width: int, divisor: int) -> tuple[int, int]:
    return -(-height // divisor) * divisor, -(-width // divisor) * divisor


def pad_to_multiple(images: paddle.Tensor, divisor: int) -> paddle.Tensor:
    """Zero-pad images [N, C, H, W] at the bottom and right to multiples of `divisor`.

    Zero is the mean colour after normalisation, the same value the training crops are padded with.
    """
    height, width = images.shape[2], images.shape[3]
    padded_height, padded_width = padded_size(height, width, divisor)
    if paddle.in_dynamic_mode() and (padded_height, padded_width) == (height, width):
        return images
    return F.pad(
        images,
        [0, padded_width - width, 0, padded_height - height],
        mode="constant",
        value=0.0,
        data_format="NCHW",
    )


@contextlib.contextmanager
def subdivision_steps(model: nn.Layer, steps: int) -> Iterator[nn.Layer]:
    """Run the block with `model.subdivision_steps = steps` (0: plain bilinear upsampling), then
    restore. `model` may be wrapped in paddle.DataParallel."""
    network = unwrap_parallel(model)
    if not hasattr(network, "subdivision_steps"):
        raise ValueError(
            f"{type(network).__name__} has no subdivision_steps: build it with point_head=True"
        )
    previous = network.subdivision_steps
    network.subdivision_steps = int(steps)
    try:
        yield model
    finally:
        network.subdivision_steps = previous
