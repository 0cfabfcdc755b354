"""URL downloads: cached by URL, checked against a given checksum, re-verified against the one
recorded at download on every later use; crafted weights behind a URL never run. All URLs are
file:// or a local http.server, nothing goes to the internet."""

import functools
import hashlib
import http.server
import json
import re
import threading

import numpy as np
import paddle
import pytest
from test_model_pretrained import as_paddleclas, save, tiny_resnet
from test_safe_loading import gadgets, write_crafted

from pointrend.app.build import build_network
from pointrend.config.recipe import ModelConfig
from pointrend.models import ResNet, load_pretrained_backbone
from pointrend.utils.downloads import RECORD_FILE, DownloadError, cache_entry, cached_download
from pointrend.utils.safe_pickle import UnsafePickleError


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        QuietHandler.requests += 1
        super().do_GET()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_two_urls_with_the_same_file_name_are_cached_apart(tmp_path, server):
    base, served = server
    for folder, content in (("a", b"first"), ("b", b"second")):
        (served / folder).mkdir()
        (served / folder / "weights.pdparams").write_bytes(content)
    cache = tmp_path / "cache"
    first = cached_download(f"{base}/a/weights.pdparams", cache)
    second = cached_download(f"{base}/b/weights.pdparams", cache)
    assert first != second and first.name == second.name == "weights.pdparams"
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")
    record = json.loads((first.parent / RECORD_FILE).read_text())
    assert record == {"url": f"{base}/a/weights.pdparams", "sha256": sha(b"first"), "size": 5}


def test_a_cached_download_is_used_without_the_network_and_reverified(tmp_path, server):
    base, served = server
    (served / "w.pkl").write_bytes(b"weights")
    url, cache = f"{base}/w.pkl", tmp_path / "cache"
    path = cached_download(url, cache, sha256=sha(b"weights").upper())
    before = QuietHandler.requests
    assert cached_download(url, cache) == path and QuietHandler.requests == before
    path.write_bytes(b"tampered")
    with pytest.raises(
        DownloadError,
        match=r"changed since it was downloaded \(recorded "
        rf"{sha(b'weights')}, now {sha(b'tampered')}\); "
        r"delete .* to download it again",
    ):
        cached_download(url, cache)
    path.write_bytes(b"weights")
    with pytest.raises(
        DownloadError,
        match=r"sha256 mismatch for .*w\.pkl \(downloaded from "
        r".*\): got .*, expected 00+; delete",
    ):
        cached_download(url, cache, sha256="0" * 64)


def test_a_download_with_the_wrong_checksum_is_discarded(tmp_path, server):
    base, served = server
    (served / "w.pkl").write_bytes(b"weights")
    url, cache = f"{base}/w.pkl", tmp_path / "cache"
    with pytest.raises(
        DownloadError,
        match=r"sha256 mismatch for http://.*w\.pkl: got "
        rf"{sha(b'weights')}, expected 11+; the download "
        r"was discarded",
    ):
        cached_download(url, cache, sha256="1" * 64)
    assert list(cache_entry(url, cache).iterdir()) == []


def test_a_file_without_its_record_is_downloaded_again(tmp_path, server):
    base, served = server
    (served / "w.pkl").write_bytes(b"weights")
    url, cache = f"{base}/w.pkl", tmp_path / "cache"
    path = cached_download(url, cache)
    (path.parent / RECORD_FILE).unlink()
    path.write_bytes(b"cut sho")  # as if killed between the two renames
    assert cached_download(url, cache).read_bytes() == b"weights"


def test_missing_sources_are_one_line_errors(tmp_path, server):
    base, _ = server
    with pytest.raises(
        DownloadError, match=r"^cannot download http://.*/none\.pkl: File not found$"
    ):
        cached_download(f"{base}/none.pkl", tmp_path / "cache")
    missing = (tmp_path / "none.pdparams").as_uri()
    with pytest.raises(DownloadError, match=r"^cannot download file://.*none\.pdparams: "):
        cached_download(missing, tmp_path / "cache")


def test_pretrained_weights_by_url_load_and_are_cached_by_url(tmp_path, server):
    base, served = server
    source = tiny_resnet("vd")
    save(as_paddleclas(source), served / "weights.pdparams")
    target = ResNet(18, stem="vd", base_channels=8)
    load_pretrained_backbone(target, f"{base}/weights.pdparams", cache_dir=str(tmp_path / "c"))
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name].numpy(), value.numpy())


@pytest.mark.parametrize("global_name", ["posix.system", "builtins.exec", "subprocess.Popen"])
def test_crafted_pretrained_weights_behind_a_url_are_refused(tmp_path, server, global_name):
    base, served = server
    marker = tmp_path / "executed"
    write_crafted("pdparams", served / "weights.pdparams", gadgets(marker)[global_name])
    config = ModelConfig(
        backbone_depth=18,
        backbone_base_channels=8,
        fpn_channels=16,
        head_channels=8,
        point_head_fc_channels=16,
        pretrained=f"{base}/weights.pdparams",
    )
    paddle.seed(0)
    with pytest.raises(UnsafePickleError, match=f"refused to load '{global_name}'"):
        build_network(config)
    assert not marker.exists()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from pointrend.data import generate_synthetic_cityscapes

    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_cityscapes(root, num_train=2, num_val=1, size=(64, 128))
    return root


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p.write_bytes(b""), r"zero\.pdparams: not a readable pickle"),
        (
            lambda p: p.write_bytes(b"\x80\x04\x95\x10\x00"),
            r"zero\.pdparams: not a readable pickle",
        ),
        (lambda p: None, r"pretrained weights not found: .*zero\.pdparams"),
        (lambda p: paddle.save({"w": paddle.ones([2])}, str(p)), r"no tensor names match"),
        (
            lambda p: write_crafted("pdparams", p, gadgets(p.parent / "ran")["posix.system"]),
            r"refused to load 'posix\.system'",
        ),
    ],
)
def test_unusable_pretrained_files_are_one_line_errors_on_the_command_line(
    tmp_path, tiny_data, capsys, make, expected
):
    from test_trainer import tiny_recipe

    from pointrend.app.cli import RecipeCommands, run_cli

    weights = tmp_path / "zero.pdparams"
    make(weights)
    recipe = tiny_recipe(tiny_data, str(tmp_path / "run"))
    with pytest.raises(SystemExit) as stop:
        run_cli(RecipeCommands(recipe), ["train", f"--model.pretrained={weights}"])
    error = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 1 and len(error) == 1 and error[0].startswith("error: ")
    assert re.search(expected, error[0]), error[0]
    assert not (tmp_path / "ran").exists()
