"""Look at the reports as a reader does: build them, open them in headless Chromium at 1400 px,
and save a screenshot of every figure and table.

    python tools/screenshots.py                 # into build/screenshots/
    python tools/screenshots.py --out DIR       # elsewhere
    python tools/screenshots.py --docs          # also refresh the PNGs under docs/img/

What it builds (with this checkout's `python -m simulator`):
  tpu_v1 on resnet50 (`run --report`), eie on eie_benchmarks (`run --report`), tpu_v1 vs
  edge_32x32 on resnet50 (`compare --report`) and the bundled sweep `tpu_sram_pe`
  (`sweep` + `sweep-report --plots`; the sweep PNGs are copied as they are).

How: each page is loaded twice by `chromium --headless`, once with `--dump-dom` and a small
script that records the page height and the box of every figure and table, once with
`--screenshot` at 1400 px x the page height; the boxes are then cut out of the full-page
screenshot with Pillow (a matplotlib dependency). Needs Chromium (`apt-get install chromium`)
and the plots extra. A maintainer tool: the test suite never starts a browser.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH_PX = 1400
#: the figures that docs/reports.md shows, copied into docs/img/ by --docs
DOCS_SHOTS = ("resnet50_tpu_v1-fig-roofline", "resnet50_tpu_v1-fig-latency",
              "resnet50_tpu_v1-fig-utilization", "resnet50_tpu_v1-layers",
              "eie_benchmarks_eie-fig-roofline", "compare-fig-compare_bars",
              "sweep-resnet50_heatmap")

_MEASURE_JS = """<script>
window.addEventListener('load', function () {
  var parts = [];
  document.querySelectorAll('figure[id], div.scroll').forEach(function (el, i) {
    var r = el.getBoundingClientRect();
    var id = el.id || (el.querySelector('table[id]') || {}).id || ('table' + i);
    parts.push({id: id, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height});
  });
  var pre = document.createElement('pre');
  pre.id = 'npusim-measure';
  pre.textContent = JSON.stringify({height: document.documentElement.scrollHeight,
                                    parts: parts});
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("screenshots: no Chromium found (apt-get install -y chromium)")


def _browser(args: list[str]) -> str:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--force-device-scale-factor=1", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"screenshots: chromium failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def measure(page: Path) -> dict:
    """Page height and the boxes of its figures and scrolling tables, at WIDTH_PX."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(page.read_text(encoding="utf-8").replace("</body>",
                                                                 _MEASURE_JS + "</body>"),
                        encoding="utf-8")
        dom = _browser(["--dump-dom", f"--window-size={WIDTH_PX},1000", copy.as_uri()])
    found = re.search(r'<pre id="npusim-measure">(.*?)</pre>', dom, re.S)
    if not found:
        sys.exit(f"screenshots: could not measure {page}")
    import html
    return json.loads(html.unescape(found.group(1)))


def shoot(page: Path, out_dir: Path, prefix: str) -> list[Path]:
    """The whole page as `<prefix>-page.png`, and each figure / table cut out of it."""
    from PIL import Image

    boxes = measure(page)
    height = min(int(boxes["height"]) + 20, 30000)
    full = out_dir / f"{prefix}-page.png"
    _browser([f"--screenshot={full}", f"--window-size={WIDTH_PX},{height}", page.as_uri()])
    written = [full]
    with Image.open(full) as image:
        for part in boxes["parts"]:
            left, top = max(int(part["x"]) - 8, 0), max(int(part["y"]) - 8, 0)
            right = min(int(part["x"] + part["w"]) + 8, image.width)
            bottom = min(int(part["y"] + part["h"]) + 8, image.height)
            if right - left < 20 or bottom - top < 20:
                continue
            path = out_dir / f"{prefix}-{part['id']}.png"
            image.crop((left, top, right, bottom)).save(path, optimize=True)
            written.append(path)
    return written


def npusim(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT, check=True)


def build(out_dir: Path) -> list[Path]:
    """Build the reports into `out_dir/build` and screenshot them into `out_dir`."""
    work = out_dir / "build"
    work.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    for arch, workload in (("tpu_v1", "resnet50"), ("eie", "eie_benchmarks")):
        report = work / f"{workload}_{arch}"
        npusim("run", arch, workload, "--report", str(report), "-q")
        shots += shoot(report / "report.html", out_dir, f"{workload}_{arch}")
    npusim("compare", "tpu_v1", "edge_32x32", "--workload", "resnet50", "--report",
           str(work / "compare"), "-q")
    shots += shoot(work / "compare" / "compare.html", out_dir, "compare")
    store = work / "tpu_sram_pe.sqlite"
    npusim("sweep", "tpu_sram_pe", "-o", str(store), "-q")
    plots = work / "sweep_plots"
    subprocess.run([sys.executable, "-m", "simulator", "sweep-report", str(store), "--plots",
                    str(plots)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for png in sorted(plots.glob("*.png")):
        target = out_dir / f"sweep-{png.name}"
        shutil.copyfile(png, target)
        shots.append(target)
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "screenshots"),
                        help="where the screenshots go (default: build/screenshots)")
    parser.add_argument("--docs", action="store_true",
                        help=f"also copy {len(DOCS_SHOTS)} of them into docs/img/")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = build(out_dir)
    print(f"{len(shots)} screenshots in {out_dir}")
    if args.docs:
        img = ROOT / "docs" / "img"
        img.mkdir(parents=True, exist_ok=True)
        by_stem = {p.stem: p for p in shots}
        for stem in DOCS_SHOTS:
            if stem in by_stem:
                shutil.copyfile(by_stem[stem], img / f"{stem}.png")
                print(f"docs/img/{stem}.png")
            else:
                print(f"screenshots: {stem} was not produced", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
