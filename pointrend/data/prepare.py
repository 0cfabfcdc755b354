"""Prepare a dataset for training.

    python -m pointrend.data.prepare describe --root=data/mine        # a starting dataset.json
    python -m pointrend.data.prepare check --root=data/mine           # counts, pairs, values
    python -m pointrend.data.prepare trainids --root=data/cityscapes  # *_labelTrainIds.png
    python -m pointrend.data.prepare lists --root=data/cityscapes     # train/val/test.txt

`describe` writes what it found, `check` also says what to fix, `trainids` converts the official
*_labelIds.png files.

`check` reads root/dataset.json, or recognises a Cityscapes layout. Each command exits with a
non-zero status when something needs fixing.
"""

import os
import sys
from typing import TYPE_CHECKING

import fire

from pointrend.data.check import CheckReport, check_dataset
from pointrend.data.convert import write_train_ids
from pointrend.data.layout import IMAGE_DIR, SPLITS, write_list_file
from pointrend.data.spec import SPEC_FILE

if TYPE_CHECKING:
    from pointrend.data.check_spec import SpecCheckReport


def trainids(root: str, workers: int | None = None, overwrite: bool = False) -> None:
    """Write *_gtFine_labelTrainIds.png next to every *_gtFine_labelIds.png (all splits)."""
    result = write_train_ids(root, workers=workers, overwrite=overwrite)
    print(
        f"trainIds: {result['written']} written, {result['skipped']} already up to date, "
        f"{len(result['failed'])} failed"
    )
    if result["failed"]:
        print("\n".join(result["failed"]), file=sys.stderr)
        sys.exit(1)


def lists(root: str, separator: str = ",", output_dir: str | None = None) -> None:
    """Write <split>.txt for every split present: `image<separator>label` lines, image only for
    test."""
    splits = [split for split in SPLITS if os.path.isdir(os.path.join(root, IMAGE_DIR, split))]
    if not splits:
        print(
            f"no {IMAGE_DIR}/<split> folders under {root}: point --root at the Cityscapes root "
            "folder",
            file=sys.stderr,
        )
        sys.exit(1)
    for split in splits:
        try:
            path = write_list_file(root, split, separator=separator, output_dir=output_dir)
        except (ValueError, FileNotFoundError) as error:
            print(f"{split}: {error}", file=sys.stderr)
            sys.exit(1)
        with open(path, encoding="utf-8") as handle:
            print(f"{split}: {sum(1 for _ in handle)} samples -> {path}")


def check(root: str, decode: bool = True, workers: int | None = None) -> None:
    """Validate the dataset: counts per split, pairing, values, class frequencies, and every fix."""
    report: CheckReport | SpecCheckReport
    if os.path.isfile(os.path.join(root, SPEC_FILE)):
        from pointrend.data.check_spec import check_spec_dataset
        from pointrend.data.errors import SpecError
        from pointrend.data.spec_parse import read_spec

        try:
            report = check_spec_dataset(read_spec(root), decode=decode, workers=workers)
        except SpecError as error:
            print(error, file=sys.stderr)
            sys.exit(1)
    else:
        report = check_dataset(root, decode=decode, workers=workers)
    print(report.format())
    if not report.ok:
        sys.exit(1)


def describe(
    root: str,
    images: str | None = None,
    masks: str | None = None,
    overwrite: bool = False,
    workers: int | None = None,
) -> None:
    """Write root/dataset.json from the folders and mask values found (classes class_0, class_1,
    ...)."""
    from pointrend.data.describe import describe_dataset

    try:
        description = describe_dataset(
            root, images=images, masks=masks, overwrite=overwrite, workers=workers
        )
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    print(description.format())


if __name__ == "__main__":
    fire.Fire({"describe": describe, "check": check, "trainids": trainids, "lists": lists})
