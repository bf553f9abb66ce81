"""Fetch the scripts KeplerMapper's pages load from CDNs (d3 6.1.1, FileSaver 2.0.2) once, with
their licences, so that the learning-graph pages can inline them and open offline.

The two package tarballs come from the npm registry over HTTPS with Python's standard library
(no npm needed), each checked against its pinned integrity hash (the registry's ``dist.integrity``,
SHA-512) before anything is unpacked. A configured registry is honoured: ``npm_config_registry`` /
``NPM_CONFIG_REGISTRY`` in the environment, else ``registry=`` in ``~/.npmrc``, else
https://registry.npmjs.org/.

Usage: python envs/fetch_web_assets.py DEST   (make env calls it with .venv/share/pipeline-web)
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

DEFAULT_REGISTRY = "https://registry.npmjs.org/"
# package, version, SHA-512 of the tarball (npm's dist.integrity), {member in the tarball: file in DEST}
PACKAGES = (
    (
        "d3",
        "6.1.1",
        "sha512-bJYW9wlS2uvP2EoMkcPptrUzLMHQKCbiSW+/la8iGSLZgs4KbI/f3Fch4RtnUA9PA+/nPlwyFYzTwDjX80Of8w==",
        {"package/dist/d3.min.js": "d3.min.js", "package/LICENSE": "d3.LICENSE"},
    ),
    (
        "file-saver",
        "2.0.2",
        "sha512-Wz3c3XQ5xroCxd1G8b7yL0Ehkf0TC9oYC6buPFkNnU9EnaPlifeAFCyCh+iewXTyFRcg0a6j3J7FmJsIhlhBdw==",
        {"package/dist/FileSaver.min.js": "FileSaver.min.js", "package/LICENSE.md": "FileSaver.LICENSE"},
    ),
)


def registry() -> str:
    """The npm registry to use, as npm itself would find it (environment, then ~/.npmrc)."""
    for name in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if os.environ.get(name):
            return os.environ[name].rstrip("/") + "/"
    npmrc = Path.home() / ".npmrc"
    if npmrc.is_file():
        for line in npmrc.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "registry" and value.strip():
                return value.strip().strip('"').rstrip("/") + "/"
    return DEFAULT_REGISTRY


def integrity(data: bytes) -> str:
    """npm's integrity string of a tarball: ``sha512-`` and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(name: str, version: str, expected: str, base: str) -> bytes:
    url = f"{base}{name}/-/{name}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    except OSError as error:
        raise SystemExit(f"fetch_web_assets: could not download {url}: {error}") from None
    if integrity(data) != expected:
        raise SystemExit(f"fetch_web_assets: {url} does not match its pinned integrity hash (got {integrity(data)})")
    return data


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    dest = Path(argv[0])
    dest.mkdir(parents=True, exist_ok=True)
    base = registry()
    for name, version, expected, members in PACKAGES:
        with tarfile.open(fileobj=io.BytesIO(fetch(name, version, expected, base)), mode="r:gz") as archive:
            for member, target in members.items():
                (dest / target).write_bytes(archive.extractfile(member).read())
    print(f"d3 6.1.1, FileSaver 2.0.2 -> {dest} (from {base})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
