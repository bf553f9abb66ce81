"""envs/fetch_web_assets.py: the registry it uses and the integrity check before unpacking."""

from __future__ import annotations

import importlib.util
import io
import tarfile

import pytest
from conftest import REPO

spec = importlib.util.spec_from_file_location("fetch_web_assets", REPO / "envs/fetch_web_assets.py")
assets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(assets)


def test_a_configured_registry_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("npm_config_registry", raising=False)
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    assert assets.registry() == assets.DEFAULT_REGISTRY
    (tmp_path / ".npmrc").write_text("fund=false\nregistry=https://mirror.example/npm\n")
    assert assets.registry() == "https://mirror.example/npm/"
    monkeypatch.setenv("npm_config_registry", "https://other.example/")
    assert assets.registry() == "https://other.example/"


def test_a_tarball_that_differs_from_its_pinned_hash_is_refused(tmp_path, monkeypatch):
    # a registry on disk (file:// URLs) serving a d3 tarball whose content is not the pinned one
    folder = tmp_path / "registry" / "d3" / "-"
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = b"not d3"
        info = tarfile.TarInfo("package/dist/d3.min.js")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    (folder / "d3-6.1.1.tgz").write_bytes(buffer.getvalue())
    monkeypatch.setenv("npm_config_registry", (tmp_path / "registry").as_uri())
    with pytest.raises(SystemExit, match="does not match its pinned integrity hash"):
        assets.main([str(tmp_path / "dest")])
    assert not (tmp_path / "dest" / "d3.min.js").exists()
    assert assets.integrity(b"") == "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
