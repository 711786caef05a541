"""Screenshot the built documentation's landing and results pages with headless Chromium.

::

    mkdocs build --strict && python scripts/docs_screenshots.py      # -> docs/screenshots/*.png

Opens ``site/index.html`` and ``site/results.html`` (``file://``, no server, no network: the site
carries its own fonts and KaTeX) in ``chromium --headless`` at 1280 px wide and writes
``docs/screenshots/landing.png`` and ``docs/screenshots/results.png``. Needs Debian's ``chromium``
(``apt-get install -y chromium``); exits 2 with one line when it is missing or a page was not built.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featuredrop.cli import OneLineParser  # noqa: E402

PAGES = {"landing": "index.html", "results": "results.html"}


def screenshot(browser: str, page: Path, out: Path, size: str) -> None:
    """One PNG of ``page`` at ``size`` (``WIDTHxHEIGHT``) into ``out``."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                        f"--window-size={size.replace('x', ',')}", f"--screenshot={out}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when both screenshots were written."""
    p = OneLineParser(prog="docs_screenshots.py", description=__doc__.split("\n")[0])
    p.add_argument("--site", type=Path, default=ROOT / "site")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--size", default="1280x2000", help="window WIDTHxHEIGHT (default %(default)s)")
    args = p.parse_args(argv)
    if not re.fullmatch(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}", args.size):
        p.error(f"--size must be WIDTHxHEIGHT in pixels (e.g. 1280x2000), got {args.size!r}")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("docs_screenshots: no chromium on PATH (apt-get install -y chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, page in PAGES.items():
        path = (args.site / page).resolve()
        if not path.is_file():
            print(f"docs_screenshots: {path} missing (mkdocs build --strict first)", file=sys.stderr)
            return 2
        screenshot(browser, path, args.out / f"{name}.png", args.size)
        print(f"{args.out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
