"""Normalisation layers for the backbone: BatchNorm, SyncBatchNorm and FrozenBatchNorm."""

import paddle
import paddle.nn as nn

NORMS = ("bn", "syncbn", "frozen_bn")


class FrozenBatchNorm2D(nn.Layer):
    """BatchNorm with fixed statistics and affine parameters: y = (x - mean) / sqrt(var + eps) * w +
    b.

    All four tensors are persistable buffers with the same names as `paddle.nn.BatchNorm2D`
    (weight, bias, _mean, _variance), so checkpoints load into either layer. They never
    receive gradients and never change in training mode, which is what fine-tuning with small
    per-GPU batches needs.
    """

    def __init__(self, num_features: int, epsilon: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.epsilon = epsilon
        self.register_buffer("weight", paddle.ones([num_features]))
        self.register_buffer("bias", paddle.zeros([num_features]))
        self.register_buffer("_mean", paddle.zeros([num_features]))
        self.register_buffer("_variance", paddle.ones([num_features]))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        scale = self.weight * paddle.rsqrt(self._variance + self.epsilon)
        shift = self.bias - self._mean * scale
        return x * scale.reshape([1, -1, 1, 1]) + shift.reshape([1, -1, 1, 1])

    @classmethod
    def from_batch_norm(cls, bn: nn.Layer) -> "FrozenBatchNorm2D":
        """A frozen copy of a BatchNorm2D / SyncBatchNorm with its current statistics."""
        frozen = cls(bn.weight.shape[0], epsilon=bn._epsilon)
        for name in ("weight", "bias", "_mean", "_variance"):
            getattr(frozen, name).set_value(getattr(bn, name).detach())
        return frozen

    def extra_repr(self) -> str:
        return f"{self.num_features}, epsilon={self.epsilon}"


def build_norm(norm: str, num_features: int) -> nn.Layer:
    """The backbone's norm layer by name: "bn", "syncbn" (multi-GPU training) or "frozen_bn"."""
    if norm == "bn":
        return nn.BatchNorm2D(num_features)
    if norm == "syncbn":
        return nn.SyncBatchNorm(num_features)
    if norm == "frozen_bn":
        return FrozenBatchNorm2D(num_features)
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def freeze_norms(layer: nn.Layer) -> nn.Layer:
    """Replace every BatchNorm2D / SyncBatchNorm inside `layer` by a FrozenBatchNorm2D, in place.

    Paddle's `Layer.train()` sets the flag on sublayers without calling their `train()`, so
    overriding `train()` cannot keep a frozen stage in eval mode; swapping the layer can.
    """
    for name, child in list(layer.named_children()):
        if isinstance(child, (nn.BatchNorm2D, nn.SyncBatchNorm)):
            setattr(layer, name, FrozenBatchNorm2D.from_batch_norm(child))
        else:
            freeze_norms(child)
    return layer
