"""Export the whole eval pipeline -- padding, backbone, heads, adaptive subdivision, cropping --
as a static Paddle inference model with dynamic batch, height and width.

The export directory holds `model.json` (or `model.pdmodel` with the legacy IR) + `model.pdiparams`
and `preprocess.json`, the image normalisation the model expects, so that
`pointrend.inference.predictor.Predictor` can run raw images end to end without this package's
training code. `export_onnx` converts such a directory to ONNX with paddle2onnx (an optional
dependency).
"""

import json
import os
import tempfile

import paddle

from pointrend.inference.exported_files import (
    MODEL_PREFIX,
    ONNX_FILE,
    PREPROCESS_FILE,
    graph_file,
    params_file,
)
from pointrend.inference.modes import eval_mode
from pointrend.inference.normalization import Normalization
from pointrend.utils.native_messages import quiet_native_output


class _EvalPipeline(paddle.nn.Layer):
    """Wraps the model so that tracing converts its eval forward without replacing the model's own
    `forward` (paddle.jit.to_static on a layer rebinds that layer's forward in place)."""

    def __init__(self, model: paddle.nn.Layer):
        super().__init__()
        self.model = model

    def forward(self, images: paddle.Tensor) -> paddle.Tensor:
        return self.model(images)


def export_model(
    model: paddle.nn.Layer,
    output_dir: str,
    normalization: Normalization,
) -> dict[str, str]:
    """Save `model`'s eval forward: normalised images [N, 3, H, W] float32 -> logits [N, K, H, W].

    The subdivision settings (`subdivision_steps`, `subdivision_num_points`) in effect now are
    frozen into the graph. `normalization` is the training normalisation of the input images
    (albumentations Normalize semantics), written to preprocess.json.
    Returns the paths written: {"model", "params", "preprocess"}.
    """
    os.makedirs(output_dir, exist_ok=True)
    prefix = os.path.join(output_dir, MODEL_PREFIX)
    spec = [paddle.static.InputSpec(shape=[None, 3, None, None], dtype="float32", name="images")]
    # Tracing prints notes about Paddle's own internals (PIR limits, tensors without a place);
    # they go to the terminal only when the export fails.
    with eval_mode(model), quiet_native_output():
        pipeline = _EvalPipeline(model)
        pipeline.eval()
        static_pipeline = paddle.jit.to_static(pipeline, input_spec=spec, full_graph=True)
        paddle.jit.save(static_pipeline, prefix)
    graph = graph_file(output_dir)
    if graph is None:
        raise RuntimeError(f"paddle.jit.save wrote no model graph next to {prefix}")
    preprocess = {
        **normalization.as_dict(),
        "subdivision_steps": int(getattr(model, "subdivision_steps", 0)),
        "subdivision_num_points": int(getattr(model, "subdivision_num_points", 0)),
    }
    preprocess_path = os.path.join(output_dir, PREPROCESS_FILE)
    with open(preprocess_path, "w", encoding="utf-8") as handle:
        json.dump(preprocess, handle, indent=2)
        handle.write("\n")
    return {"model": graph, "params": params_file(output_dir), "preprocess": preprocess_path}


def export_onnx(
    model_dir: str,
    output_path: str | None = None,
    opset_version: int = 17,
    optimize: bool = False,
) -> str:
    """Convert an `export_model` directory to ONNX (needs `pip install paddle2onnx`); returns the
    path.

    The ONNX graph has the same input ("images", [N, 3, H, W] dynamic) and logits output, with
    subdivision included (TopK, ScatterElements, GridSample: opset >= 16); its bilinear
    upsamplings are ONNX Resize ops again (`pointrend.inference.onnx_graph`). `optimize` runs
    paddle2onnx's constant folding, several times slower to convert; ONNX Runtime optimises the
    graph itself when it loads it.
    """
    try:
        import paddle2onnx
    except ImportError as error:
        raise ImportError("ONNX export needs paddle2onnx: pip install paddle2onnx") from error
    if opset_version < 16:
        raise ValueError(f"opset_version must be >= 16 (GridSample), got {opset_version}")
    graph, params = graph_file(model_dir), params_file(model_dir)
    if graph is None or not os.path.exists(params):
        raise FileNotFoundError(f"{model_dir} holds no exported model: run export_model first")
    output_path = output_path or os.path.join(model_dir, ONNX_FILE)
    with tempfile.TemporaryDirectory() as scratch, quiet_native_output():
        if graph.endswith(".json"):
            graph = _with_float32_attributes(graph, os.path.join(scratch, os.path.basename(graph)))
        paddle2onnx.export(
            graph,
            params,
            output_path,
            opset_version=opset_version,
            enable_onnx_checker=True,
            enable_optimize=optimize,
        )
    _upsampling_as_resize(output_path)
    return output_path


def _upsampling_as_resize(onnx_path: str) -> None:
    """ONNX Runtime's Resize instead of the interpolation-free upsampling (`onnx_graph`)."""
    import onnx

    from pointrend.inference.onnx_graph import bilinear_upsampling_as_resize

    model = onnx.load(onnx_path)
    if bilinear_upsampling_as_resize(model):
        onnx.save(model, onnx_path)


# (op, attribute) pairs Paddle 3.3 stores as float64 in a PIR program but paddle2onnx 2.x reads
# as float32: it then writes whatever memory lies there (seen: GroupNorm epsilon 3.8e33, a pad
# value of NaN), different on every conversion.
_FLOAT32_ATTRIBUTES = {("1.group_norm", "epsilon"), ("1.pad3d", "pad_value")}


def _with_float32_attributes(graph_path: str, output_path: str) -> str:
    """Copy of the PIR program at `graph_path` with `_FLOAT32_ATTRIBUTES` typed float32."""
    with open(graph_path, encoding="utf-8") as handle:
        program = json.load(handle)
    pending = [program]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            op = node.get("#")
            for attribute in node.get("A", ()) if isinstance(op, str) else ():
                if isinstance(attribute, dict) and (op, attribute.get("N")) in _FLOAT32_ATTRIBUTES:
                    attribute["AT"]["#"] = "0.a_f32"
            pending.extend(node.values())
    with open(output_path, "w", encoding="utf-8") as handle:
        json.dump(program, handle)
    return output_path
