"""Convert official *_gtFine_labelIds.png files to *_gtFine_labelTrainIds.png."""

import glob
import os
from typing import TypedDict

from pointrend.data.classes import label_ids_to_train_ids
from pointrend.data.image_io import read_label, write_png
from pointrend.data.layout import LABEL_DIR, LABEL_ID_SUFFIX, TRAIN_ID_SUFFIX, check_root
from pointrend.data.parallel import parallel_map


def train_id_path_for(label_id_path: str) -> str:
    return label_id_path[: -len(LABEL_ID_SUFFIX)] + TRAIN_ID_SUFFIX


def convert_label_file(label_id_path: str, overwrite: bool = False) -> tuple[str, str | None]:
    """Write the trainId file next to one labelId file -> (status, error message or None).

    status is "written", "skipped" (already up to date) or "failed".
    """
    target = train_id_path_for(label_id_path)
    if (
        not overwrite
        and os.path.isfile(target)
        and os.path.getmtime(target) >= os.path.getmtime(label_id_path)
    ):
        return "skipped", None
    try:
        write_png(target, label_ids_to_train_ids(read_label(label_id_path)))
    except (ValueError, OSError) as error:
        return "failed", str(error)
    return "written", None


def _convert(job: tuple[str, bool]) -> tuple[str, str | None]:
    return convert_label_file(*job)


class TrainIdsWritten(TypedDict):
    """What `write_train_ids` did: files written, files already up to date, error messages."""

    written: int
    skipped: int
    failed: list[str]


def write_train_ids(
    root: str, workers: int | None = None, overwrite: bool = False, progress: bool = True
) -> TrainIdsWritten:
    """Convert every labelId file under root/gtFine (all splits) on `workers` processes.

    Idempotent: files whose trainId version is newer than the source are skipped unless
    `overwrite`. Returns {"written": n, "skipped": n, "failed": [error messages]}.
    """
    check_root(root)
    sources = sorted(glob.glob(os.path.join(root, LABEL_DIR, "*", "*", "*" + LABEL_ID_SUFFIX)))
    if not sources:
        raise FileNotFoundError(
            f"no *{LABEL_ID_SUFFIX} files under {os.path.join(root, LABEL_DIR)}/<split>/<city>/; "
            "extract gtFine_trainvaltest.zip into the dataset root first"
        )
    results = parallel_map(
        _convert, [(path, overwrite) for path in sources], workers, "labelIds -> trainIds", progress
    )
    failed = [error for status, error in results if status == "failed" and error is not None]
    return {
        "written": sum(status == "written" for status, _ in results),
        "skipped": sum(status == "skipped" for status, _ in results),
        "failed": failed,
    }
