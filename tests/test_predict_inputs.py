"""predict on awkward folders: names that clash up to the extension, truncated or fake images,
links to folders and link loops, a full disk. The summary counts what happened."""

import errno
import os

import cv2
import numpy as np
import paddle
import pytest

from pointrend.data import build_val_transforms
from pointrend.inference.predict_files import (
    OutputNameClash,
    describe_predict_summary,
    find_images,
    output_stems,
    predict_paths,
)
from pointrend.models import build_model
from pointrend.utils import output_files
from pointrend.utils.output_files import OutputWriteError


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    return build_model(
        backbone_depth=18,
        backbone_base_channels=8,
        fpn_channels=16,
        head_channels=8,
        point_head_fc_channels=16,
        subdivision_steps=1,
        subdivision_num_points=64,
    ).eval()


def write_picture(path, seed, extension=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = np.random.RandomState(seed).randint(0, 256, size=(32, 48, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(extension or path.suffix, picture)
    assert ok
    path.write_bytes(encoded.tobytes())
    return encoded.tobytes()


def predict(model, folder, output, **options):
    return predict_paths(
        model, str(folder), str(output), build_val_transforms(), progress=False, **options
    )


def test_inputs_that_differ_only_in_extension_keep_it_in_their_outputs(model, tmp_path):
    folder = tmp_path / "input"
    write_picture(folder / "a.png", 1)
    write_picture(folder / "a.jpg", 2)
    write_picture(folder / "b.png", 3)
    summary = predict(model, folder, tmp_path / "out", save_color=False)
    assert (summary["num_images"], summary["num_predicted"], summary["num_failed"]) == (3, 3, 0)
    assert summary["kept_extension"] == ["a.jpg", "a.png"]
    labels = sorted(os.listdir(tmp_path / "out" / "trainid"))
    assert labels == ["a.jpg.png", "a.png.png", "b.png"]
    assert sorted(os.listdir(tmp_path / "out" / "overlay")) == ["a.jpg.jpg", "a.png.jpg", "b.jpg"]
    overlays = [
        cv2.imread(str(tmp_path / "out" / "overlay" / f"a.{e}.jpg")) for e in ("png", "jpg")
    ]
    assert not np.array_equal(*overlays), "each input has its own overlay"
    assert "outputs named with the input's extension" in describe_predict_summary(summary)


def test_names_that_still_clash_are_refused_before_any_work(model, tmp_path):
    assert output_stems(["x.jpg", "x.png", "y.png"]) == ["x.jpg", "x.png", "y"]
    with pytest.raises(OutputNameClash, match=r"x\.jpg, x\.jpg\.png: rename one of each group"):
        output_stems(["x.jpg", "x.png", "x.jpg.png"])
    folder = tmp_path / "input"
    for seed, name in enumerate(["x.jpg", "x.png", "x.jpg.png"]):
        write_picture(folder / name, seed)
    with pytest.raises(OutputNameClash):
        predict(model, folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_and_fake_images_are_failures_counted_and_named(model, tmp_path):
    folder = tmp_path / "input"
    write_picture(folder / "good.png", 0)
    whole = write_picture(folder / "cut.jpg", 1)
    (folder / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    # Data cut short but the end marker kept: only the decoder itself can tell.
    (folder / "hollow.jpg").write_bytes(whole[: len(whole) // 2] + b"\xff\xd9")
    png = write_picture(folder / "cut.png", 2)
    (folder / "cut.png").write_bytes(png[: len(png) - 30])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("version https://git-lfs.github.com/spec/v1\n")
    os.symlink(folder / "gone.png", folder / "dangling.png")
    summary = predict(model, folder, tmp_path / "out")
    assert (summary["num_images"], summary["num_predicted"], summary["num_failed"]) == (7, 1, 6)
    reasons = {item["file"]: item["reason"] for item in summary["failed"]}
    assert reasons["hollow.jpg"] == (
        f"image file {folder / 'hollow.jpg'} is damaged: the decoder warned "
        "'Corrupt JPEG data: premature end of data segment'"
    )
    assert "truncated JPEG (the end marker is missing)" in reasons["cut.jpg"]
    assert "truncated PNG" in reasons["cut.png"]
    assert "the file is empty (0 bytes)" in reasons["empty.jpg"]
    assert "git-LFS pointer" in reasons["text.png"]
    assert "does not exist" in reasons["dangling.png"]
    assert all(str(folder / name) in reason for name, reason in reasons.items())
    assert os.listdir(tmp_path / "out" / "trainid") == ["good.png"]
    described = describe_predict_summary(summary)
    assert described.splitlines()[1].startswith("6 failed: cut.jpg (image file ")


def test_links_to_folders_are_walked_once_and_loops_end(model, tmp_path):
    folder, elsewhere = tmp_path / "input", tmp_path / "elsewhere"
    write_picture(folder / "real" / "a.png", 0)
    write_picture(elsewhere / "b.png", 1)
    os.symlink(elsewhere, folder / "linked")
    os.symlink(folder, folder / "real" / "loop")
    os.symlink(folder / "real", folder / "again")
    skipped = []
    relative = [rel for _, rel in find_images(str(folder), skipped)]
    # Real folders are walked before links, so a folder's images keep their real path.
    assert relative == [os.path.join("real", "a.png"), os.path.join("linked", "b.png")]
    assert skipped == [os.path.join("real", "loop"), "again"]
    summary = predict(model, folder, tmp_path / "out", save_color=False, save_overlay=False)
    assert summary["num_predicted"] == 2
    assert (tmp_path / "out" / "trainid" / "linked" / "b.png").is_file()


def test_a_full_disk_stops_predict_with_the_folder_and_no_half_written_file(
    model, tmp_path, monkeypatch
):
    folder = tmp_path / "input"
    write_picture(folder / "a.png", 0)

    class FullDisk:
        def __init__(self, path, mode):
            self.handle = open(path, mode)  # noqa: SIM115 - closed in __exit__

        def write(self, data):
            self.handle.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(output_files, "open", FullDisk, raising=False)
    with pytest.raises(OutputWriteError) as caught:
        predict(model, folder, tmp_path / "out")
    assert str(caught.value) == (
        f"cannot write a.png in {tmp_path / 'out' / 'trainid'}: no space left on device; "
        "free space there or choose another folder"
    )
    assert os.listdir(tmp_path / "out" / "trainid") == []
