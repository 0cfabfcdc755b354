"""`python -m pointrend.convert SOURCE FILE --out DIR`: another codebase's checkpoint as a
checkpoint directory of this package (see `pointrend.train.converted_checkpoint`), which the
recipes' eval / predict / export take with `--checkpoint=DIR` and `pointrend.load_checkpoint`
loads. Sources: `pointrend.convert.sources.SOURCES`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pointrend.config.recipe import ModelConfig
from pointrend.convert.sources import SOURCES
from pointrend.inference.normalization import Normalization
from pointrend.train.checkpoint import INFO_FILE, MODEL_FILE, CheckpointError
from pointrend.train.converted_checkpoint import check_output_directory, write_converted_checkpoint
from pointrend.utils.downloads import file_sha256

BYTES_PER_MB = 1 << 20


class ConversionError(RuntimeError):
    """The file cannot be converted: missing, unreadable, or not a model of the named source."""


def recorded_model_config(model_config: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """Every ModelConfig field: the converted network's settings over the defaults, no
    `pretrained` (the converted weights replace it)."""
    fields = {field.name for field in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(model_config) - fields)
    if unknown:
        raise ConversionError(
            f"{origin}: the converted network needs settings the recipes do not have "
            f"({', '.join(unknown)}); add them to ModelConfig"
        )
    return {**dataclasses.asdict(ModelConfig()), **model_config, "pretrained": None}


def describe_model(config: Mapping[str, Any]) -> str:
    if config.get("arch") == "stdc":
        head = " + PointRend" if config["point_head"] else ""
        return f"{config['stdc_variant'].upper()}-Seg{head}, {config['num_classes']} classes"
    head = "PointRend" if config["point_head"] else "Semantic FPN"
    layout = (
        f", PaddleSeg layout, output stride {config['output_stride']}"
        if config.get("fpn_layout") == "paddleseg"
        else ""
    )
    return (
        f"ResNet-{config['backbone_depth']} (width {config['backbone_base_channels']}, "
        f"{config['norm']}) {head}, FPN {config['fpn_channels']}, {config['num_classes']} classes"
        f"{layout}"
    )


def describe_normalization(normalization: Normalization) -> str:
    order = "RGB" if normalization.to_rgb else "BGR"
    scale = "0-1" if normalization.max_pixel_value == 255.0 else "0-255"
    return (
        f"{order} input, mean {list(normalization.mean)}, std {list(normalization.std)} "
        f"on the {scale} scale"
    )


def convert_checkpoint(source: str, path: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Convert `path` (a checkpoint of codebase `source`) into the checkpoint directory `out`.
    Returns what was written: {"directory", "model", "normalization", "tensors"}. Every problem
    that can be known before converting (unknown source, missing file, occupied `out`) is
    reported first; all are one-line ConversionError / CheckpointError."""
    if source not in SOURCES:
        raise ConversionError(f"unknown source {source!r}; known: {', '.join(sorted(SOURCES))}")
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        check_output_directory(out)
    except CheckpointError as error:
        raise CheckpointError(f"--out {error}") from None
    try:
        converted = SOURCES[source](path)
    except (ValueError, OSError, EOFError) as error:
        raise ConversionError(str(error).splitlines()[0] if str(error) else repr(error)) from error
    model_config = recorded_model_config(converted.model_config, str(path))
    normalization = Normalization.from_settings(converted.normalization, f"{source} source")
    weights = {name: tensor.numpy() for name, tensor in converted.network.state_dict().items()}
    record = {
        "source": source,
        "file": path.name,
        "sha256": file_sha256(path),
        "tensors": len(weights),
    }
    recipe = {"model": model_config, "data": normalization.as_dict()}
    write_converted_checkpoint(out, weights, recipe, record)
    return {
        "directory": out,
        "model": model_config,
        "normalization": normalization,
        "tensors": len(weights),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pointrend.convert",
        description="Convert a published checkpoint into a checkpoint directory of this package.",
    )
    parser.add_argument("source", help=f"the codebase that wrote FILE: {', '.join(SOURCES)}")
    parser.add_argument("file", help="the checkpoint file (e.g. detectron2's model_final_*.pkl)")
    parser.add_argument("--out", required=True, help="the checkpoint directory to write")
    args = parser.parse_args(argv)
    try:
        written = convert_checkpoint(args.source, args.file, args.out)
    except (ConversionError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    directory = written["directory"]
    size = (directory / MODEL_FILE).stat().st_size / BYTES_PER_MB
    print(f"converted {args.source} checkpoint {args.file} into {directory}/")
    print(f"  {MODEL_FILE}: {written['tensors']} tensors, {size:.1f} MB")
    print(
        f"  {INFO_FILE}: {describe_model(written['model'])}; "
        f"{describe_normalization(written['normalization'])}"
    )
    print(
        f"use it: python -m recipes.semfpn_pointrend_cityscapes predict --input=IMAGES "
        f"--checkpoint={directory}  (or eval / export; in Python pointrend.load_checkpoint)"
    )
