"""CityscapesDataset: the Cityscapes preset of SegmentationDataset, with the official layout's
file discovery (and its advice about labelIds and `prepare trainids`) or a list file."""

from collections.abc import Callable

from pointrend.data.layout import TRAIN_ID_SUFFIX, official_layout_samples, read_list_file
from pointrend.data.presets import cityscapes_spec
from pointrend.data.segmentation import SegmentationDataset


class CityscapesDataset(SegmentationDataset):
    """One split of a Cityscapes-format dataset (trainId labels).

    Reads the official folder layout, or a list file (`image<separator>label` per line, paths
    relative to `root`). `labelled=None` means: unlabelled for "test" (the official test labels
    are placeholders), labelled otherwise; with a list file it follows the file's columns.
    """

    def __init__(
        self,
        root: str,
        split: str = "train",
        transforms: Callable[..., dict] | None = None,
        list_file: str | None = None,
        separator: str = ",",
        labelled: bool | None = None,
        label_suffix: str = TRAIN_ID_SUFFIX,
    ) -> None:
        self.list_file = list_file
        self.separator = separator
        super().__init__(cityscapes_spec(root, label_suffix), split, transforms, labelled)

    def _find_samples(self, labelled: bool | None) -> tuple[list[str], list[str] | None]:
        if self.list_file is not None:
            return read_list_file(self.list_file, self.root, self.separator, labelled)
        labelled = self.split != "test" if labelled is None else labelled
        return official_layout_samples(self.root, self.split, labelled, self.spec.mask_suffix)
