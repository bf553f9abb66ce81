"""KeplerMapper pages that open offline.

KeplerMapper 2.1.0's page template loads d3 6.1.1 and FileSaver from CDNs, and a font and an icon
from the web: on an offline cluster node the page opens blank. Here each page gets both scripts
inlined, with their licences, from the copies that ``make env`` fetched from the npm registry into
``<venv>/share/pipeline-web`` (``envs/fetch_web_assets.py``); the font and the icon are dropped
(the page falls back to the browser's monospace font).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

ASSETS = Path(sys.prefix) / "share" / "pipeline-web"
SCRIPTS = {  # the template's script tag -> (file, licence)
    "https://cdnjs.cloudflare.com/ajax/libs/d3/6.1.1/d3.js": ("d3.min.js", "d3.LICENSE"),
    "https://cdn.jsdelivr.net/npm/file-saver@2.0.2/dist/FileSaver.min.js": ("FileSaver.min.js", "FileSaver.LICENSE"),
}
# what the template loads from the web besides the scripts: the icon and the font stylesheet
DROPPED = (
    re.compile(r'\s*<link rel="icon"[^>]*>'),
    re.compile(r"\s*<link href='https://fonts\.googleapis\.com[^>]*>"),
)
# a reference to anything remote: src/href attributes, CSS url() and @import
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']?(?:https?:)?//""", re.I)


# Run after KeplerMapper's own script: its force layout (strong repulsion, animated) leaves the
# many small trees of a learning graph spread far apart and crossing, and a page captured before
# the animation ends shows that. Settle a gentler layout before the first paint and fit it to
# the canvas; dragging a node restarts the simulation with these forces.
SETTLE_LAYOUT = """<script>
simulation.force('charge', d3.forceManyBody().strength(-40).distanceMax(150));
simulation.force('link').distance(6).strength(1);
simulation.force('x', d3.forceX(width / 2).strength(0.05)).force('y', d3.forceY(height / 2).strength(0.05));
simulation.stop();
for (var i = 0; i < 600; i++) simulation.tick();
(function fit() {
  var nodes = simulation.nodes();
  if (!nodes.length) return;
  var x0 = d3.min(nodes, d => d.x), x1 = d3.max(nodes, d => d.x);
  var y0 = d3.min(nodes, d => d.y), y1 = d3.max(nodes, d => d.y);
  var k = Math.min((width - 2 * padding) / Math.max(x1 - x0, 1), (height - 2 * padding) / Math.max(y1 - y0, 1));
  nodes.forEach(function (d) {
    d.x = padding + (d.x - x0) * k + (width - 2 * padding - (x1 - x0) * k) / 2;
    d.y = padding + (d.y - y0) * k + (height - 2 * padding - (y1 - y0) * k) / 2;
  });
})();
ticked();
</script>
"""


def require_assets() -> Path:
    """The folder of the fetched scripts; a clear error when ``make env`` has not fetched them."""
    missing = [name for pair in SCRIPTS.values() for name in pair if not (ASSETS / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the offline copies of KeplerMapper's scripts are missing from {ASSETS} ({', '.join(missing)}): "
            "run `make env` (it fetches them with envs/fetch_web_assets.py)"
        )
    return ASSETS


def self_contained(html: str) -> str:
    """A KeplerMapper page with its CDN scripts inlined (licences first, as comments), its web
    font and icon dropped, and its layout settled before the first paint. Raises ValueError if the template changed and a remote reference
    is left."""
    require_assets()
    for url, (script, licence) in SCRIPTS.items():
        tag = f'<script src="{url}"></script>'
        if tag not in html:
            raise ValueError(f"the KeplerMapper page does not load {url} as expected: the template changed")
        notice = (ASSETS / licence).read_text().replace("*/", "* /")
        inline = f"<script>/* {script}, inlined for offline use. Licence:\n{notice}\n*/\n{(ASSETS / script).read_text()}</script>"
        html = html.replace(tag, inline)
    for pattern in DROPPED:
        html = pattern.sub("", html)
    if "</body>" not in html:
        raise ValueError("the KeplerMapper page has no </body>: the template changed")
    html = html.replace("</body>", SETTLE_LAYOUT + "</body>", 1)
    left = remote_references(html)
    if left:
        raise ValueError(f"the page still references remote resources: {left[:3]}")
    return html


def remote_references(html: str) -> list[str]:
    """The remote references (src/href to http(s) or protocol-relative URLs, CSS url() and
    @import of them) a page holds."""
    return [html[m.start() : m.end() + 40] for m in REMOTE.finditer(html)]


def write_page(kepler_graph: dict, epoch: np.ndarray, path: Path, title: str) -> Path:
    """One learning graph as a self-contained KeplerMapper page, nodes coloured by the mean
    training time (``epoch``: each point's epoch) of their points."""
    import kmapper

    html = kmapper.KeplerMapper(verbose=0).visualize(
        kepler_graph, color_values=np.asarray(epoch, dtype=np.float64), color_function_name="epoch",
        title=title, save_file=False,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(self_contained(html), encoding="utf-8")
    return path
