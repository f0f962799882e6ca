"""Size and build time of the ZIM edition (editions/zim.py) of a mirror of the synthetic site.

    .venv/bin/python benchmarks/zim.py                        # mirror 2,000 articles, then pack the HTML edition
    .venv/bin/python benchmarks/zim.py --articles 300         # a quicker look
    .venv/bin/python benchmarks/zim.py --mirror DIR           # pack the mirror in DIR (site/, assets/); made there
                                                              # first (and kept) when DIR has none

Mirrors the synthetic site (synthetic_site.py) into a temporary directory with the HTML edition (Pagefind search
off: the ZIM leaves it out anyway), then times `build_zim` and prints the archive's size beside the size of what it
packs (the HTML edition without its search bundle, plus the images its pages use), the build's peak memory and
zimcheck's verdict.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_site import SiteProcess, config_text

from newsmirror.config import parse_config
from newsmirror.editions.zim import ZimMeta, build_zim, plan_entries
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter


def mirror(directory: Path, articles: int) -> Path:
    with SiteProcess(articles=articles) as site:
        text = config_text(site.base_url, articles).replace("[fetch]\n", "[editions]\nsearch = false\n\n[fetch]\n")
        config = parse_config(text, directory / "newsmirror.toml", directory)
        started = time.perf_counter()
        summary = run_once(config, Reporter(QUIET))
        print(f"mirrored {summary.new} articles in {time.perf_counter() - started:.1f} s ({summary.failed} failed)")
    return config.output_dir


def pack(root: Path, out: Path) -> None:
    site = root / "site"
    entries = plan_entries(root, site)
    packed = sum(len(e.content) if e.content is not None else e.source.stat().st_size for e in entries)
    pages = sum(1 for e in entries if e.front)
    meta = ZimMeta(title="Synthetic mirror", description="Benchmark mirror", language="eng", creator="newsmirror",
                   publisher="newsmirror", origins=("https://git.example.org/bench/mirror/",))
    del entries
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    build_zim(site, out, meta)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"ZIM: {pages} article pages, {packed / 1e6:.1f} MB packed -> {out.stat().st_size / 1e6:.1f} MB "
          f"in {seconds:.1f} s; peak RSS {peak / 1024:.0f} MB ({before / 1024:.0f} MB before the build)")
    if shutil.which("zimcheck"):
        result = subprocess.run(["zimcheck", "-A", str(out)], check=False, capture_output=True, text=True)
        print("zimcheck:", "pass" if result.returncode == 0 else "FAIL\n" + result.stdout[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--mirror", type=Path, help="pack the mirror in this directory (made there if missing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nm-zim-") as scratch:
        made = [d for d in (args.mirror, args.mirror and args.mirror / "mirror") if d and (d / "site").is_dir()]
        if made:
            pack(made[0], Path(scratch) / "mirror.zim")
        else:  # packed by a fresh process, so its peak memory is the build's own
            root = mirror(args.mirror or Path(scratch), args.articles)
            subprocess.run([sys.executable, __file__, "--mirror", str(root)], check=True)


if __name__ == "__main__":
    main()
