"""Prediction on image files: label PNGs for the Cityscapes benchmark plus pictures to look at.

Output layout (each folder mirrors the input's relative folder structure):
  <output>/trainid/<rel>/<stem>.png   trainIds 0..18 (or <output>/labelid/ with official labelIds)
  <output>/color/<rel>/<stem>.png     the dataset's palette (default: the official Cityscapes one)
  <output>/overlay/<rel>/<stem>.jpg   colour map blended over the image
  <output>/points/<rel>/<stem>.png    points chosen at each subdivision step over the coarse
                                      prediction (PNG: single-pixel points would smear in a JPEG)
When two inputs of one folder share a name up to the extension (a.png, a.jpg), their outputs keep
the input's extension (a.png.png, a.jpg.png) so that neither overwrites the other.
"""

import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import paddle

from pointrend.data.classes import train_ids_to_label_ids
from pointrend.data.decode import read_image_file
from pointrend.data.errors import DataFileError
from pointrend.data.image_io import write_image, write_png
from pointrend.data.palette import Color
from pointrend.inference.modes import WHOLE_IMAGE, InferenceOptions, eval_mode, predict_labels
from pointrend.inference.visualize import color_prediction, overlay, subdivision_points_picture
from pointrend.models.segmentor import subdivision_steps
from pointrend.utils.native_messages import native_stderr_lines
from pointrend.utils.progress import ProgressBar

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
LABEL_FORMATS = ("trainid", "labelid")


class OutputNameClash(ValueError):
    """Two inputs would be written to the same output files."""


def find_images(input_path: str, links_skipped: list[str] | None = None) -> list[tuple[str, str]]:
    """(path, path relative to the input) of every image under a folder (recursively, following
    links to folders), or of one file. A folder reached a second time (a link to a folder
    already walked, or a link loop) is not walked again; its relative path is appended to
    `links_skipped` when given."""
    if os.path.isfile(input_path):
        return [(input_path, os.path.basename(input_path))]
    if not os.path.isdir(input_path):
        raise FileNotFoundError(f"input {input_path} is neither an image file nor a folder")
    found = []
    walked = set()
    for folder, subfolders, files in os.walk(input_path, followlinks=True):
        identity = _folder_identity(folder)
        if identity in walked:
            subfolders.clear()
            if links_skipped is not None:
                links_skipped.append(os.path.relpath(folder, input_path))
            continue
        walked.add(identity)
        # Real folders before links to folders: a folder reached both ways keeps its real path.
        subfolders.sort(key=lambda name: (os.path.islink(os.path.join(folder, name)), name))
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                path = os.path.join(folder, name)
                found.append((path, os.path.relpath(path, input_path)))
    return found


def _folder_identity(folder: str) -> tuple[int, int]:
    status = os.stat(folder)
    return status.st_dev, status.st_ino


def output_stems(relative_paths: Sequence[str]) -> list[str]:
    """The output name (without extension) of each input: its path without the extension, or
    with it (a.png -> a.png, a.jpg -> a.jpg) when two inputs would otherwise share one. Raises
    OutputNameClash naming the inputs when even that leaves two alike (a.png.jpg beside
    a.png.png)."""
    plain = [os.path.splitext(relative)[0] for relative in relative_paths]
    counts = Counter(plain)
    stems = [
        relative if counts[stem] > 1 else stem
        for relative, stem in zip(relative_paths, plain, strict=True)
    ]
    owners: dict[str, list[str]] = {}
    for relative, stem in zip(relative_paths, stems, strict=True):
        owners.setdefault(stem, []).append(relative)
    clashes = [names for names in owners.values() if len(names) > 1]
    if clashes:
        raise OutputNameClash(
            "these inputs would be written to the same outputs: "
            + "; ".join(", ".join(names) for names in clashes)
            + ": rename one of each group"
        )
    return stems


def read_image_checked(path: str) -> np.ndarray:
    """A colour image [H, W, 3] uint8 BGR, or ValueError saying why this file cannot be used:
    what `pointrend.data.decode` finds (missing, empty, text, LFS pointer, truncated, not an
    image), or warnings from the decoder itself (libjpeg fills the rows of a JPEG whose data
    stops early and only warns: such a picture must not be predicted as if it were whole)."""
    with native_stderr_lines() as warnings:
        try:
            image, problem = read_image_file(path), ""
        except DataFileError as error:
            image, problem = None, str(error)
    if image is None:
        raise ValueError(problem)
    if warnings:
        raise ValueError(
            f"image file {path} is damaged: the decoder warned {'; '.join(warnings)!r}"
        )
    return image


def _to_tensor(image_bgr: np.ndarray, transforms: Callable) -> paddle.Tensor:
    normalised = transforms(image=image_bgr)["image"]
    return paddle.to_tensor(
        np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)
    )


def _points_picture(
    model: paddle.nn.Layer, image: paddle.Tensor, palette: Sequence[Color] | None
) -> np.ndarray:
    # An exported engine returns logits only: the trace, and the coarse map under it, come from
    # the dynamic network it was exported from.
    model = getattr(model, "dygraph_network", model)
    with subdivision_steps(model, 0):
        coarse = paddle.argmax(model(image), axis=1).numpy()[0]
    _, trace = model.inference_with_trace(image)
    return subdivision_points_picture(
        coarse, [{**step, "coords": step["coords"].numpy()[0]} for step in trace], palette
    )


def _check_points_supported(model: paddle.nn.Layer) -> None:
    if not hasattr(model, "inference_with_trace") or not getattr(model, "subdivision_steps", 0):
        raise ValueError(
            "save_points needs a PointRend model with subdivision_steps > 0 "
            "(the points picture shows where subdivision refined the prediction)"
        )


def predict_paths(
    model: paddle.nn.Layer,
    input: str,
    output: str,
    transforms: Callable,
    label_format: str = "trainid",
    save_color: bool = True,
    save_overlay: bool = True,
    save_points: bool = False,
    options: InferenceOptions = WHOLE_IMAGE,
    progress: bool = True,
    palette: Sequence[Color] | None = None,
) -> dict[str, Any]:
    """Predict every image of `input` (a file, or a folder walked recursively) into `output`.

    `transforms` is the evaluation preprocessing, called as `transforms(image=bgr_uint8)["image"]`
    -> normalised [H, W, 3] float32 (e.g. `pointrend.data.build_val_transforms()`); `options`
    say how the network runs over each image (see `InferenceOptions`). `palette`:
    RGB colour per class for the colour and overlay pictures (default: Cityscapes'). Files that
    cannot be read or decode with warnings (truncated) are reported on stderr and listed in
    the summary, not fatal; an output that cannot be written (full disk) stops with
    OutputWriteError naming the folder. Returns {"num_images", "num_predicted", "num_failed",
    "failed": [{"file", "reason"}], "kept_extension": [inputs whose outputs keep their
    extension], "links_skipped": [folders reached twice], "output", "label_format"}.
    """
    if label_format not in LABEL_FORMATS:
        raise ValueError(f"label_format must be one of {LABEL_FORMATS}, got {label_format!r}")
    if save_points:
        _check_points_supported(model)
    links_skipped: list[str] = []
    images = find_images(input, links_skipped)
    stems = output_stems([relative for _, relative in images])
    for folder in links_skipped:
        print(
            f"note: {os.path.join(input, folder)} is a folder already walked (a link to it, or "
            "a link loop): its images are predicted once",
            file=sys.stderr,
        )
    failed = []
    bar = ProgressBar(len(images), "predict", unit="images", enabled=progress)
    with eval_mode(model):
        for (path, relative), stem in zip(images, stems, strict=True):
            try:
                image = read_image_checked(path)
            except (ValueError, cv2.error) as error:
                failed.append({"file": relative, "reason": str(error)})
                print(f"\nskipped {path}: {error}", file=sys.stderr)
                bar.update()
                continue
            tensor = _to_tensor(image, transforms)
            train_ids = predict_labels(model, tensor, options).numpy()[0].astype(np.uint8)
            labels = train_ids if label_format == "trainid" else train_ids_to_label_ids(train_ids)
            write_png(os.path.join(output, label_format, stem + ".png"), labels)
            if save_color or save_overlay:
                color = color_prediction(train_ids, palette)
                if save_color:
                    write_png(os.path.join(output, "color", stem + ".png"), color)
                if save_overlay:
                    write_image(
                        os.path.join(output, "overlay", stem + ".jpg"),
                        overlay(image, color),
                        [cv2.IMWRITE_JPEG_QUALITY, 90],
                    )
            if save_points:
                write_png(
                    os.path.join(output, "points", stem + ".png"),
                    _points_picture(model, tensor, palette),
                )
            bar.update()
    return {
        "num_images": len(images),
        "num_predicted": len(images) - len(failed),
        "num_failed": len(failed),
        "failed": failed,
        "kept_extension": [
            relative for (_, relative), stem in zip(images, stems, strict=True) if stem == relative
        ],
        "links_skipped": links_skipped,
        "output": output,
        "label_format": label_format,
    }


def describe_predict_summary(summary: dict[str, Any]) -> str:
    """What a `predict_paths` run did, in a few lines: counts, failures, renamed outputs."""
    lines = [
        f"{summary['num_predicted']} of {summary['num_images']} images predicted into "
        f"{summary['output']}"
    ]
    if summary["num_failed"]:
        lines.append(
            f"{summary['num_failed']} failed: "
            + "; ".join(f"{item['file']} ({item['reason']})" for item in summary["failed"])
        )
    if summary["kept_extension"]:
        lines.append(
            "outputs named with the input's extension (their names clash otherwise): "
            + ", ".join(summary["kept_extension"])
        )
    if summary["links_skipped"]:
        lines.append(
            "folders reached twice through links, walked once: "
            + ", ".join(summary["links_skipped"])
        )
    return "\n".join(lines)
