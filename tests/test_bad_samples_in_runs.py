"""A bad image or label met during a run, through the recipe's real commands with 0 and 2 loader
workers: one line naming the file (never a hang, never stacked Paddle tracebacks), or with
--data.on_bad_sample=skip the sample left out, counted and listed in the run folder. Each command
runs in a subprocess under a timeout, so a hang fails the test instead of blocking the suite."""

import json
import os
import subprocess
import sys
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from data_fixtures import make_index_dataset, overwrite, three_class_mask, truncate, write_mask

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEIGHT, WIDTH = 64, 128
NAMES = [f"scene_{i}" for i in range(4)]
BAD = 2  # a sample read during the run, not when the dataset is opened (that reads sample 0)
TIMEOUT = 300  # seconds; the commands take ~10 s, a hang takes forever

TINY = [
    "--model.backbone_depth=18", "--model.backbone_base_channels=8", "--model.fpn_channels=16",
    "--model.head_channels=8", "--model.point_head_fc_channels=16", "--model.train_num_points=64",
    "--model.subdivision_num_points=512", f"--data.crop_size=({HEIGHT},{WIDTH})",
    "--data.scale_range=None", "--data.batch_size=2", "--schedule.warmup_iters=1",
    "--schedule.log_interval=1", "--device=cpu",
]  # fmt: skip


def make_dataset(root: str) -> str:
    """Three classes, index masks, 4 train and 2 val pairs of JPEG images and PNG masks."""
    masks = {name: three_class_mask(HEIGHT, WIDTH) for name in NAMES}
    splits = {
        split: {"images": f"images/{split}", "masks": f"masks/{split}"}
        for split in ("train", "val")
    }
    spec = {"splits": splits}
    make_index_dataset(root, masks, "train", image_suffix=".jpg", spec=spec)
    make_index_dataset(root, dict(list(masks.items())[:2]), "val", image_suffix=".jpg", spec=spec)
    return root


def image(root: str, name: str = NAMES[BAD], split: str = "train") -> str:
    return os.path.join(root, "images", split, name + ".jpg")


def label(root: str, name: str = NAMES[BAD], split: str = "train") -> str:
    return os.path.join(root, "masks", split, name + ".png")


def _sixteen_bit(root: str) -> str:
    path = label(root)
    assert cv2.imwrite(path, three_class_mask(HEIGHT, WIDTH).astype(np.uint16) * 300)
    return path


def _colour(root: str) -> str:
    mask = np.stack([three_class_mask(HEIGHT, WIDTH) * 80] * 3, axis=-1)
    return write_mask(label(root), mask)


def _outside_classes(root: str) -> str:
    mask = three_class_mask(HEIGHT, WIDTH)
    mask[:4, :4] = 7
    return write_mask(label(root), mask)


# kind -> (damage the dataset, return the file at fault; words the error must contain)
BAD_INPUTS: dict[str, tuple[Callable[[str], str], str]] = {
    "truncated image": (lambda root: truncate(image(root)), "truncated JPEG"),
    "truncated label": (lambda root: truncate(label(root)), "truncated PNG"),
    "label of another size": (
        lambda root: write_mask(label(root), three_class_mask(HEIGHT // 2, WIDTH)),
        "does not belong together",
    ),
    "ids outside the classes": (_outside_classes, "values [7 (16 px)] outside classes"),
    "16-bit label": (_sixteen_bit, "8-bit"),
    "colour label": (_colour, "stores colours"),
    "text named .png": (lambda root: overwrite(label(root), b"just some text\n"), "text file"),
    "zero-byte image": (lambda root: overwrite(image(root), b""), "empty (0 bytes)"),
}


def run(verb: str, root: str, output_dir: str, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "recipes.semfpn_pointrend_custom", verb,
               f"--data.root={root}", f"--output_dir={output_dir}", *TINY, *flags]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def assert_one_line_naming(result: subprocess.CompletedProcess, path: str, words: str) -> str:
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Blocking queue" not in result.stderr
    assert path in errors[0] and words in errors[0], errors[0]
    return errors[0]


# Every kind with one of the worker counts, alternating: a failure takes the same path whatever
# the kind, and every kind x worker count (16 runs) would take minutes on a small machine.
KINDS_AND_WORKERS = [(kind, 2 * (i % 2)) for i, kind in enumerate(BAD_INPUTS)]


@pytest.mark.parametrize(("kind", "num_workers"), KINDS_AND_WORKERS)
def test_a_bad_training_sample_ends_training_with_one_line(tmp_path, kind, num_workers):
    root = make_dataset(str(tmp_path / "data"))
    damage, words = BAD_INPUTS[kind]
    path = damage(root)
    result = run("train", root, str(tmp_path / "run"), f"--data.num_workers={num_workers}",
                 "--schedule.iters=2", "--callbacks.evaluation=False")  # fmt: skip
    line = assert_one_line_naming(result, path, words)
    assert "--data.on_bad_sample=skip" in line


@pytest.mark.parametrize(("num_workers", "batch_size"), [(0, 1), (2, 2)])
def test_skip_mode_trains_the_whole_schedule_and_lists_the_bad_file(
    tmp_path, num_workers, batch_size
):
    """Batch 1: the batch of the bad sample has nothing left and is replaced; batch 2: it
    shrinks."""
    root = make_dataset(str(tmp_path / "data"))
    path = truncate(label(root))
    output_dir = tmp_path / "run"
    result = run("train", root, str(output_dir), f"--data.num_workers={num_workers}",
                 f"--data.batch_size={batch_size}", "--schedule.iters=4",
                 "--callbacks.evaluation=False", "--data.on_bad_sample=skip")  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (output_dir / "checkpoints" / "iter_0000004").is_dir()
    assert f"left out a bad sample: label file {path}" in result.stdout
    assert "training: " in result.stdout and "bad sample(s) left out (1 file(s))" in result.stdout
    skipped = json.loads((output_dir / "bad_samples.json").read_text())["skipped"]
    assert [(entry["path"], entry["stage"]) for entry in skipped] == [(path, "training")]
    assert "truncated PNG" in skipped[0]["cause"] and skipped[0]["count"] >= 1


@pytest.fixture(scope="module")
def bad_val_run(tmp_path_factory):
    """Training with a truncated val image: the periodic evaluation at iteration 2 fails."""
    tmp_path = tmp_path_factory.mktemp("bad_val")
    root = make_dataset(str(tmp_path / "data"))
    path = truncate(image(root, NAMES[1], "val"))
    output_dir = tmp_path / "run"
    result = run("train", root, str(output_dir), "--data.num_workers=0", "--eval.num_workers=2",
                 "--schedule.iters=4", "--schedule.eval_interval=2",
                 "--schedule.checkpoint_interval=2")  # fmt: skip
    return root, path, output_dir, result


def test_a_failing_periodic_evaluation_keeps_that_iterations_checkpoint(bad_val_run):
    _, path, output_dir, result = bad_val_run
    line = assert_one_line_naming(result, path, "truncated JPEG")
    assert "evaluation at iteration 2, whose checkpoint is saved" in line
    assert line.endswith("fix or remove the file, or set --data.on_bad_sample=skip)")
    pointer = json.loads((output_dir / "checkpoints" / "latest.json").read_text())
    assert "iter_0000002" in json.dumps(pointer)
    assert (output_dir / "checkpoints" / "iter_0000002" / "model.pdparams").is_file()


@pytest.mark.parametrize("num_workers", [0, 2])
def test_eval_names_a_bad_val_image_or_leaves_it_out_of_the_metrics(bad_val_run, num_workers):
    root, path, output_dir, _ = bad_val_run
    flags = ("--schedule.iters=4", f"--eval.num_workers={num_workers}")
    failed = run("eval", root, str(output_dir), *flags)
    assert "met by the evaluation" in assert_one_line_naming(failed, path, "truncated JPEG")

    skipped = run("eval", root, str(output_dir), *flags, "--data.on_bad_sample=skip")
    assert skipped.returncode == 0, skipped.stdout[-2000:] + skipped.stderr[-3000:]
    assert "1 images (1 bad image(s) left out of the metrics)" in skipped.stdout
    assert "evaluation of iter_0000002: 1 bad sample(s) left out (1 file(s))" in skipped.stdout
    results = json.loads((output_dir / "eval" / "iter_0000002.json").read_text())["results"]
    assert results["num_images"] == 1 and [e["path"] for e in results["skipped"]] == [path]
    entries = json.loads((output_dir / "bad_samples.json").read_text())["skipped"]
    assert (path, "evaluation of iter_0000002") in {(e["path"], e["stage"]) for e in entries}


def test_skip_mode_resumes_exactly(tmp_path):
    """Batch 1 over 4 samples for 8 iterations meets the bad sample once in each half; the run
    resumed from iteration 4 (with another worker count) ends with the same weights."""
    import paddle

    root = make_dataset(str(tmp_path / "data"))
    truncate(image(root))
    flags = ("--data.batch_size=1", "--schedule.iters=8", "--schedule.checkpoint_interval=4",
             "--callbacks.evaluation=False", "--data.on_bad_sample=skip")  # fmt: skip
    whole = run("train", root, str(tmp_path / "whole"), "--data.num_workers=0", *flags)
    assert whole.returncode == 0, whole.stdout[-2000:] + whole.stderr[-3000:]
    halfway = tmp_path / "whole" / "checkpoints" / "iter_0000004"
    resumed = run("train", root, str(tmp_path / "resumed"), "--data.num_workers=2", *flags,
                  f"--resume={halfway}")  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert "left out a bad sample" in resumed.stdout
    final = "checkpoints/iter_0000008/model.pdparams"
    expected = paddle.load(str(tmp_path / "whole" / final))
    actual = paddle.load(str(tmp_path / "resumed" / final))
    for name, value in expected.items():
        np.testing.assert_array_equal(np.asarray(actual[name]), np.asarray(value), err_msg=name)
