"""Which files make up a split: images paired with masks by name, every mismatch a Problem.

An image `<images>/<rel>/<stem><image suffix>` pairs with `<masks>/<rel>/<stem><mask suffix>`.
An image without a mask, a mask without an image, two images that want the same mask (a.jpg and
a.png) and an empty split are each reported with the files involved; nothing is dropped quietly.
"""

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from pointrend.data.errors import PairingError
from pointrend.data.problems import Problem
from pointrend.data.spec import DatasetSpec, SplitSpec

_EXAMPLES = 3


@dataclass
class SplitFiles:
    """The samples of one split (masks None when unlabelled) and what is wrong with them.

    notes: files that are not part of any sample (e.g. a README among the images), for check.
    found_images: image files (or list lines) found, paired or not.
    """

    spec: DatasetSpec
    split: str
    images: list[str] = field(default_factory=list)
    masks: list[str] | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    found_images: int = 0

    def raise_if_problems(self) -> None:
        """One PairingError for the first kind of problem, with its count and first files."""
        if not self.problems:
            return
        kind = self.problems[0].kind
        same = [problem for problem in self.problems if problem.kind == kind]
        examples = "; ".join(f"{problem.path}: {problem.detail}" for problem in same[:_EXAMPLES])
        more = f" (and {len(same) - _EXAMPLES} more)" if len(same) > _EXAMPLES else ""
        others = len(self.problems) - len(same)
        tail = f"; {others} other problem(s): run {check_command(self.spec.root)}" if others else ""
        raise PairingError(
            f"split '{self.split}' of {self.spec.source}: {len(same)} x {kind}: "
            f"{examples}{more}; {same[0].fix}{tail}"
        )


def check_command(root: str) -> str:
    return f"`python -m pointrend.data.prepare check --root={root}`"


def pair_folders(spec: DatasetSpec, split: SplitSpec, labelled: bool | None = None) -> SplitFiles:
    """Walk the split's image folder (and mask folder) and pair the files by name."""
    labelled = split.masks is not None if labelled is None else labelled
    files = SplitFiles(spec, split.name)
    image_dir = os.path.join(spec.root, split.images or "")
    if not os.path.isdir(image_dir):
        files.problems.append(
            Problem(
                "missing folder",
                image_dir,
                "does not exist",
                f"create it or fix splits.{split.name}.images in {spec.source}",
            )
        )
        return files
    mask_dir = os.path.join(spec.root, split.masks) if labelled and split.masks else None
    same_folder = mask_dir is not None and os.path.realpath(mask_dir) == os.path.realpath(image_dir)
    by_key: dict[str, list[str]] = defaultdict(list)
    for path in walk_files(image_dir):
        name = os.path.basename(path).lower()
        suffix = _matching_suffix(name, spec.image_suffixes)
        if same_folder and name.endswith(spec.mask_suffix.lower()):
            continue
        if suffix is None:
            files.notes.append(
                Problem(
                    "not an image",
                    path,
                    f"name does not end with {'/'.join(spec.image_suffixes)}",
                    "move it out of the image folder, or add its ending to image_suffix",
                )
            )
            continue
        relative = os.path.relpath(path, image_dir)
        by_key[relative[: len(relative) - len(suffix)]].append(path)
    files.found_images = sum(len(paths) for paths in by_key.values())
    if not by_key:
        files.problems.append(
            Problem(
                "empty split",
                image_dir,
                f"no *{'|*'.join(spec.image_suffixes)} files",
                f"put the images there or fix splits.{split.name}.images in {spec.source}",
            )
        )
        return files
    if mask_dir is None:
        files.images = sorted(path for paths in by_key.values() for path in paths)
        return files
    _pair_with_masks(files, by_key, mask_dir, split)
    return files


def _pair_with_masks(
    files: SplitFiles, by_key: dict[str, list[str]], mask_dir: str, split: SplitSpec
) -> None:
    spec = files.spec
    if not os.path.isdir(mask_dir):
        files.problems.append(
            Problem(
                "missing folder",
                mask_dir,
                "does not exist",
                f"create it or fix splits.{split.name}.masks in {spec.source}",
            )
        )
        return
    expected = {}
    files.masks = []
    for key in sorted(by_key):
        images = sorted(by_key[key])
        mask = os.path.join(mask_dir, key + spec.mask_suffix)
        expected[os.path.normpath(mask)] = images
        if len(images) > 1:
            files.problems.append(
                Problem(
                    "two images, one mask name",
                    mask,
                    f"wanted by {' and '.join(images)}",
                    "rename or remove one image: each image needs its own mask",
                )
            )
        elif not os.path.isfile(mask):
            files.problems.append(
                Problem(
                    "image without mask",
                    images[0],
                    f"no {mask}",
                    "add the mask, or move the image out of the split",
                )
            )
        else:
            files.images.append(images[0])
            files.masks.append(mask)
    for path in walk_files(mask_dir):
        if (
            not path.lower().endswith(spec.mask_suffix.lower())
            or os.path.normpath(path) in expected
        ):
            continue
        files.problems.append(
            Problem(
                "mask without image",
                path,
                "no image of the same name",
                "add the image, or move the mask out of the split",
            )
        )


def _matching_suffix(name: str, suffixes: tuple) -> str | None:
    matching = [suffix for suffix in suffixes if name.endswith(suffix.lower())]
    return max(matching, key=len) if matching else None


def walk_files(folder: str) -> Iterator[str]:
    """Every file under `folder`, sorted, hidden ones skipped, symlinked folders followed once."""
    seen = set()
    for directory, subdirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:
            subdirs[:] = []
            continue
        seen.add(real)
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield os.path.join(directory, name)
