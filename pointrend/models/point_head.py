"""The PointRend point head: a per-point MLP (Kirillov et al. 2020, section 3.3)."""

import paddle
import paddle.nn as nn

# "paper": detectron2's init (Kaiming fan-out fcs, predictor N(0, 0.001), zero biases);
# "paddleseg": Paddle's default Conv1D init, which PaddleSeg's PointHead keeps.
POINT_HEAD_INITS = ("paper", "paddleseg")


class PointHead(nn.Layer):
    """MLP over points, written as 1x1 Conv1D layers.

    forward(fine_features [N, C, P], coarse_logits [N, K, P]) -> point logits [N, K, P].

    The input is the fine-grained features concatenated with the coarse prediction at the same
    points. With `coarse_pred_each_layer` the coarse prediction is concatenated again before
    every hidden layer and the predictor (mmseg / PaddleSeg); the paper's semantic-segmentation
    config (detectron2) concatenates it once, at the input. `init` is one of POINT_HEAD_INITS.
    """

    def __init__(
        self,
        in_channels: int = 256,
        num_classes: int = 19,
        fc_channels: int = 256,
        num_fc: int = 3,
        coarse_pred_each_layer: bool = False,
        init: str = "paper",
    ):
        super().__init__()
        if init not in POINT_HEAD_INITS:
            raise ValueError(f"point head init must be one of {POINT_HEAD_INITS}, got {init!r}")
        paper = init == "paper"
        self.num_classes = num_classes
        self.coarse_pred_each_layer = coarse_pred_each_layer
        extra = num_classes if coarse_pred_each_layer else 0
        fcs = []
        for i in range(num_fc):
            fc_in = in_channels + num_classes if i == 0 else fc_channels + extra
            fcs.append(
                nn.Conv1D(
                    fc_in,
                    fc_channels,
                    1,
                    weight_attr=nn.initializer.KaimingNormal(mode="fan_out") if paper else None,
                    bias_attr=nn.initializer.Constant(0.0) if paper else None,
                )
            )
        self.fcs = nn.LayerList(fcs)
        self.relu = nn.ReLU()
        predictor_in = (fc_channels + extra) if num_fc > 0 else in_channels + num_classes
        # N(0, 0.001) as in the reference implementation: the first point predictions are near zero.
        self.predictor = nn.Conv1D(
            predictor_in,
            num_classes,
            1,
            weight_attr=nn.initializer.Normal(0.0, 0.001) if paper else None,
            bias_attr=nn.initializer.Constant(0.0) if paper else None,
        )

    def forward(self, fine_features: paddle.Tensor, coarse_logits: paddle.Tensor) -> paddle.Tensor:
        x = paddle.concat([fine_features, coarse_logits], axis=1)
        for i, fc in enumerate(self.fcs):
            if i > 0 and self.coarse_pred_each_layer:
                x = paddle.concat([x, coarse_logits], axis=1)
            x = self.relu(fc(x))
        if self.fcs and self.coarse_pred_each_layer:
            x = paddle.concat([x, coarse_logits], axis=1)
        return self.predictor(x)
