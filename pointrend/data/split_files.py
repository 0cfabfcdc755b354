"""The files of one split of any dataset spec: a list file or image/mask folders."""

from pointrend.data.list_file import read_pairs_list
from pointrend.data.pairing import SplitFiles, pair_folders
from pointrend.data.spec import DatasetSpec


def split_files(spec: DatasetSpec, split: str, labelled: bool | None = None) -> SplitFiles:
    """Images (and masks) of `split` with every pairing problem found; raises SpecError for a
    split the spec does not have."""
    split_spec = spec.split(split)
    if split_spec.list_file is not None:
        return read_pairs_list(spec, split_spec, labelled)
    return pair_folders(spec, split_spec, labelled)
