#!/usr/bin/env bash
# The scripts KeplerMapper's pages load from CDNs (d3 6.1.1, FileSaver 2.0.2), fetched once from
# the npm registry with their licences, so that the learning-graph pages can inline them and open
# offline. Usage: envs/fetch_web_assets.sh DEST   (make env calls it with .venv/share/pipeline-web)
set -euo pipefail
dest=$1
command -v npm >/dev/null || { echo "fetch_web_assets: npm is needed to fetch d3 and FileSaver from the npm registry" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent d3@6.1.1 file-saver@2.0.2 >/dev/null)
mkdir -p "$work/d3" "$work/fs" "$dest"
tar -xzf "$work/d3-6.1.1.tgz" -C "$work/d3" package/dist/d3.min.js package/LICENSE
tar -xzf "$work/file-saver-2.0.2.tgz" -C "$work/fs" package/dist/FileSaver.min.js package/LICENSE.md
cp "$work/d3/package/dist/d3.min.js" "$dest/d3.min.js"
cp "$work/d3/package/LICENSE" "$dest/d3.LICENSE"
cp "$work/fs/package/dist/FileSaver.min.js" "$dest/FileSaver.min.js"
cp "$work/fs/package/LICENSE.md" "$dest/FileSaver.LICENSE"
echo "d3 6.1.1, FileSaver 2.0.2 -> $dest"
