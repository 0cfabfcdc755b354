"""Fixtures shared by the test files."""

import pytest

from pointrend.data import generate_synthetic_cityscapes

SYNTHETIC_SIZE = (64, 128)


@pytest.fixture(scope="session")
def synthetic_cityscapes(tmp_path_factory) -> str:
    """A synthetic Cityscapes folder (official layout and list files): 8 train, 2 val and 2
    unlabelled test images of 64x128, seed 0. Read-only: a test that changes files makes its own."""
    root = str(tmp_path_factory.mktemp("synthetic_cityscapes"))
    generate_synthetic_cityscapes(
        root, num_train=8, num_val=2, num_test=2, size=SYNTHETIC_SIZE, seed=0
    )
    return root


@pytest.fixture(autouse=True)
def isolated_download_cache(tmp_path, monkeypatch):
    """Each test downloads into its own cache: local test servers reuse ports, so two tests can
    serve different files at the same URL, and nothing may land in the user's ~/.cache."""
    import pointrend.models.pretrained as pretrained

    monkeypatch.setattr(pretrained, "DEFAULT_CACHE_DIR", str(tmp_path / "download_cache"))
