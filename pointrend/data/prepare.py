"""Prepare a Cityscapes download for training.

    python -m pointrend.data.prepare trainids --root=data/cityscapes   # *_labelTrainIds.png from *_labelIds.png
    python -m pointrend.data.prepare lists --root=data/cityscapes      # train.txt, val.txt, test.txt
    python -m pointrend.data.prepare check --root=data/cityscapes      # counts per split/city, problems, fixes

Each command exits with a non-zero status when something needs fixing.
"""
import os
import sys
from typing import Optional

import fire

from pointrend.data.check import check_dataset
from pointrend.data.convert import write_train_ids
from pointrend.data.layout import IMAGE_DIR, SPLITS, write_list_file


def trainids(root: str, workers: Optional[int] = None, overwrite: bool = False) -> None:
    """Write *_gtFine_labelTrainIds.png next to every *_gtFine_labelIds.png (all splits)."""
    result = write_train_ids(root, workers=workers, overwrite=overwrite)
    print(f"trainIds: {result['written']} written, {result['skipped']} already up to date, "
          f"{len(result['failed'])} failed")
    if result["failed"]:
        print("\n".join(result["failed"]), file=sys.stderr)
        sys.exit(1)


def lists(root: str, separator: str = ",", output_dir: Optional[str] = None) -> None:
    """Write <split>.txt for every split present: `image<separator>label` lines, image only for test."""
    splits = [split for split in SPLITS if os.path.isdir(os.path.join(root, IMAGE_DIR, split))]
    if not splits:
        print(f"no {IMAGE_DIR}/<split> folders under {root}: point --root at the Cityscapes root folder",
              file=sys.stderr)
        sys.exit(1)
    for split in splits:
        try:
            path = write_list_file(root, split, separator=separator, output_dir=output_dir)
        except (ValueError, FileNotFoundError) as error:
            print(f"{split}: {error}", file=sys.stderr)
            sys.exit(1)
        with open(path, encoding="utf-8") as handle:
            print(f"{split}: {sum(1 for _ in handle)} samples -> {path}")


def check(root: str, decode: bool = True, workers: Optional[int] = None) -> None:
    """Validate the dataset: counts per split and city, and every problem with its fix."""
    report = check_dataset(root, decode=decode, workers=workers)
    print(report.format())
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    fire.Fire({"trainids": trainids, "lists": lists, "check": check})
