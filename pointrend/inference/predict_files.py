"""Prediction on image files: label PNGs for the Cityscapes benchmark plus pictures to look at.

Output layout (each folder mirrors the input's relative folder structure):
  <output>/trainid/<rel>/<stem>.png   trainIds 0..18 (or <output>/labelid/ with official labelIds)
  <output>/color/<rel>/<stem>.png     the dataset's palette (default: the official Cityscapes one)
  <output>/overlay/<rel>/<stem>.jpg   colour map blended over the image
  <output>/points/<rel>/<stem>.png    points chosen at each subdivision step over the coarse prediction
                                      (PNG: single-pixel points would smear in a JPEG)
"""
import os
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import paddle

from pointrend.data.classes import train_ids_to_label_ids
from pointrend.data.image_io import write_png
from pointrend.data.palette import Color
from pointrend.inference.evaluate import subdivision_steps
from pointrend.inference.modes import check_inference_options, eval_mode, predict_labels
from pointrend.inference.visualize import color_prediction, overlay, subdivision_points_picture
from pointrend.utils.progress import ProgressBar

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
LABEL_FORMATS = ("trainid", "labelid")


def find_images(input_path: str) -> List[Tuple[str, str]]:
    """(path, path relative to the input) of every image under a folder (recursively), or of one file."""
    if os.path.isfile(input_path):
        return [(input_path, os.path.basename(input_path))]
    if not os.path.isdir(input_path):
        raise FileNotFoundError(f"input {input_path} is neither an image file nor a folder")
    found = []
    for folder, subfolders, files in os.walk(input_path):
        subfolders.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                path = os.path.join(folder, name)
                found.append((path, os.path.relpath(path, input_path)))
    return found


def _read_image(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        reason = "cannot be read" if not os.access(path, os.R_OK) else "cannot be decoded (corrupt, truncated or not an image)"
        raise ValueError(reason)
    return image


def _to_tensor(image_bgr: np.ndarray, transforms: Callable) -> paddle.Tensor:
    normalised = transforms(image=image_bgr)["image"]
    return paddle.to_tensor(np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32))


def _points_picture(model: paddle.nn.Layer, image: paddle.Tensor, palette: Optional[Sequence[Color]]) -> np.ndarray:
    with subdivision_steps(model, 0):
        coarse = paddle.argmax(model(image), axis=1).numpy()[0]
    _, trace = model.inference_with_trace(image)
    return subdivision_points_picture(coarse, [{**step, "coords": step["coords"].numpy()[0]} for step in trace],
                                      palette)


def _check_points_supported(model: paddle.nn.Layer) -> None:
    if not hasattr(model, "inference_with_trace") or not getattr(model, "subdivision_steps", 0):
        raise ValueError("save_points needs a PointRend model with subdivision_steps > 0 "
                         "(the points picture shows where subdivision refined the prediction)")


def predict_paths(
    model: paddle.nn.Layer,
    input: str,
    output: str,
    transforms: Callable,
    label_format: str = "trainid",
    save_color: bool = True,
    save_overlay: bool = True,
    save_points: bool = False,
    mode: str = "whole",
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crop=None,
    stride=None,
    progress: bool = True,
    palette: Optional[Sequence[Color]] = None,
) -> Dict[str, object]:
    """Predict every image of `input` (a file, or a folder walked recursively) into `output`.

    `transforms` is the evaluation preprocessing, called as `transforms(image=bgr_uint8)["image"]`
    -> normalised [H, W, 3] float32 (e.g. `pointrend.data.build_val_transforms()`). `palette`:
    RGB colour per class for the colour and overlay pictures (default: Cityscapes'). Files that
    cannot be read are reported on stderr and listed in the summary, not fatal. Returns
    {"num_images", "num_predicted", "num_failed", "failed": [{"file", "reason"}], "output", "label_format"}.
    """
    if label_format not in LABEL_FORMATS:
        raise ValueError(f"label_format must be one of {LABEL_FORMATS}, got {label_format!r}")
    check_inference_options(mode, scales, crop, stride)
    if save_points:
        _check_points_supported(model)
    images = find_images(input)
    failed = []
    bar = ProgressBar(len(images), "predict", unit="images", enabled=progress)
    with eval_mode(model):
        for path, relative in images:
            try:
                image = _read_image(path)
            except (ValueError, cv2.error) as error:
                failed.append({"file": relative, "reason": str(error)})
                print(f"\nskipped {path}: {error}", file=sys.stderr)
                bar.update()
                continue
            tensor = _to_tensor(image, transforms)
            train_ids = predict_labels(model, tensor, mode=mode, scales=scales, flip=flip, crop=crop,
                                       stride=stride).numpy()[0].astype(np.uint8)
            stem = os.path.splitext(relative)[0]
            labels = train_ids if label_format == "trainid" else train_ids_to_label_ids(train_ids)
            write_png(os.path.join(output, label_format, stem + ".png"), labels)
            if save_color or save_overlay:
                color = color_prediction(train_ids, palette)
                if save_color:
                    write_png(os.path.join(output, "color", stem + ".png"), color)
                if save_overlay:
                    _write_jpeg(os.path.join(output, "overlay", stem + ".jpg"), overlay(image, color))
            if save_points:
                write_png(os.path.join(output, "points", stem + ".png"), _points_picture(model, tensor, palette))
            bar.update()
    return {
        "num_images": len(images),
        "num_predicted": len(images) - len(failed),
        "num_failed": len(failed),
        "failed": failed,
        "output": output,
        "label_format": label_format,
    }


def _write_jpeg(path: str, picture: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if not cv2.imwrite(path, picture, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"could not write {path}: check that the folder is writable and the disk is not full")
