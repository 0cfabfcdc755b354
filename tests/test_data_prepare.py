import glob
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pointrend.data import generate_synthetic_cityscapes
from pointrend.data.check import check_dataset
from pointrend.data.convert import write_train_ids
from pointrend.data.image_io import write_png
from pointrend.data.prepare import check, lists, trainids
from pointrend.utils.progress import ProgressBar

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("pristine"))
    generate_synthetic_cityscapes(path, num_train=4, num_val=2, num_test=1, size=(48, 96), seed=1)
    return path


@pytest.fixture
def root(pristine, tmp_path):
    path = str(tmp_path / "cityscapes")
    shutil.copytree(pristine, path)
    return path


def _train_ids(root):
    return sorted(glob.glob(os.path.join(root, "gtFine", "*", "*", "*_gtFine_labelTrainIds.png")))


def test_trainids_is_idempotent_and_overwrite_rewrites(root):
    for path in _train_ids(root):
        os.remove(path)
    first = write_train_ids(root, workers=2, progress=False)
    assert (first["written"], first["skipped"], first["failed"]) == (6, 0, [])
    second = write_train_ids(root, workers=1, progress=False)
    assert (second["written"], second["skipped"]) == (0, 6)
    assert write_train_ids(root, overwrite=True, progress=False)["written"] == 6


def test_trainids_reports_unreadable_sources_and_exits_non_zero(root, capsys):
    label_ids = glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_labelIds.png"))[0]
    with open(label_ids, "wb") as handle:
        handle.write(b"broken")
    with pytest.raises(SystemExit) as exit_info:
        trainids(root, workers=1, overwrite=True)
    assert exit_info.value.code == 1
    assert label_ids in capsys.readouterr().err


def test_trainids_without_label_ids(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*_gtFine_labelIds.png files"):
        write_train_ids(str(tmp_path))


def test_lists_write_every_split_with_the_chosen_separator(root, tmp_path, capsys):
    lists(root, separator=" ", output_dir=str(tmp_path / "lists"))
    assert "train: 4 samples" in capsys.readouterr().out
    with open(tmp_path / "lists" / "train.txt") as handle:
        image, label = handle.readline().split()
    assert os.path.isfile(os.path.join(root, image)) and label.endswith("_gtFine_labelTrainIds.png")
    with open(tmp_path / "lists" / "test.txt") as handle:
        assert len(handle.readline().split()) == 1


def test_lists_stop_when_train_ids_are_missing(root, capsys):
    os.remove(_train_ids(root)[0])
    with pytest.raises(SystemExit):
        lists(root)
    assert "prepare trainids" in capsys.readouterr().err


def test_check_counts_per_split_and_city(root, capsys):
    check(root, workers=1)
    out = capsys.readouterr().out
    assert "OK: no problems found" in out
    assert any(
        line.split()[:3] == ["train", "(all", "cities)"] and line.split()[3:] == ["4", "4", "4"]
        for line in out.splitlines()
    )


def test_check_finds_every_problem_and_says_what_to_fix(root):
    images = sorted(glob.glob(os.path.join(root, "leftImg8bit", "train", "*", "*.png")))
    train_ids = _train_ids(root)
    os.remove(train_ids[0])  # trainIds not generated (labelIds still there)
    os.remove(images[1])  # label without image
    with open(images[2], "wb") as handle:
        handle.write(b"garbage")  # unreadable image
    write_png(train_ids[3], np.zeros((10, 10), dtype=np.uint8))  # size mismatch
    val_train_ids = [path for path in train_ids if "/val/" in path]
    shutil.copy(
        val_train_ids[0].replace("TrainIds", "Ids"), val_train_ids[0]
    )  # labelIds under the trainIds name
    with open(os.path.join(root, "val.txt"), "a") as handle:
        handle.write("leftImg8bit/val/x.png,gtFine/val/x.png\n")
    report = check_dataset(root, workers=2, progress=False)
    kinds = {problem.kind: problem for problem in report.problems}
    assert kinds["trainIds not generated"].fix.startswith(
        "run `python -m pointrend.data.prepare trainids"
    )
    stray = {p.path for p in report.problems if p.kind == "label without image"}
    stem = images[1][: -len("_leftImg8bit.png")].replace("leftImg8bit", "gtFine", 1)
    assert stray == {stem + "_gtFine_labelIds.png", stem + "_gtFine_labelTrainIds.png"}
    assert kinds["unreadable image"].path == images[2]
    assert kinds["size mismatch"].path == train_ids[3]
    assert kinds["label values outside 0..18 and 255"].path == val_train_ids[0]
    assert kinds["broken list file"].path.endswith("val.txt")
    text = report.format()
    assert "fix: run `python -m pointrend.data.prepare trainids" in text and "problem(s)" in text


def test_check_without_splits(tmp_path):
    report = check_dataset(str(tmp_path), progress=False)
    assert [problem.kind for problem in report.problems] == ["no splits"]


@pytest.mark.subprocess
def test_cli_exit_codes(root):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pointrend.data.prepare", *args, f"--root={root}"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )

    assert run("check").returncode == 0
    os.remove(_train_ids(root)[0])
    failed = run("check", "--decode=False")
    assert failed.returncode == 1 and "trainIds not generated" in failed.stdout
    assert run("trainids").returncode == 0
    assert run("check", "--decode=False").returncode == 0


def test_progress_bar_in_a_log_file():
    class Stream:
        def __init__(self):
            self.text = ""

        def write(self, text):
            self.text += text

        def flush(self):
            pass

    stream = Stream()
    bar = ProgressBar(20, "labels", unit="files", stream=stream, width=4)
    for _ in range(20):
        bar.update()
    bar.close()
    lines = stream.text.splitlines()
    # Not a terminal: no carriage returns, one line per tenth of the way, the last one once.
    assert "\r" not in stream.text and len(lines) == 10
    assert re.fullmatch(r"labels \[----\] 2/20, [0-9.]+ files/s, \d\d:\d\d:\d\d left", lines[0])
    assert lines[4].startswith("labels [##--] 10/20, ")
    assert re.fullmatch(
        r"labels \[####\] 20/20, [0-9.]+ files/s, done in \d\d:\d\d:\d\d", lines[-1]
    )


def test_progress_bar_on_a_terminal_redraws_one_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(3, "eval", unit="images", stream=stream, width=3)
    for _ in range(3):
        bar.update()
    text = stream.getvalue()
    assert text.startswith("\reval [#--] 1/3, ") and text.count("\n") == 1 and text.endswith("\n")
    assert "\reval [###] 3/3, " in text and "done in" in text
