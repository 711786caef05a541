"""Fail on any broken internal link or missing image in the built documentation site.

::

    mkdocs build --strict && python scripts/check_docs.py            # checks site/
    python scripts/check_docs.py --site /tmp/site                      # another build folder

Reads every HTML page of the site and checks each ``href`` and ``src`` that points inside the site
(external ``http(s):``, ``mailto:`` and ``data:`` addresses are skipped): the file must exist, an
image must be a non-empty file, and a ``#fragment`` must name an ``id`` of the target page. Exit 0
when everything resolves, 1 with one line per broken reference (page, attribute, target) otherwise.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featuredrop.cli import OneLineParser  # noqa: E402

SKIP_SCHEMES = ("http", "https", "mailto", "data", "javascript", "tel")


class _Page(HTMLParser):
    """The references (tag, attribute, value) and the ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and tag in ("a", "img", "link", "script", "source", "image"):
                self.refs.append((tag, name, value))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def check_site(site: Path) -> list[str]:
    """One line per broken internal reference of the site built in ``site``."""
    pages = {p.resolve(): _parse(p) for p in sorted(site.rglob("*.html"))}
    if not pages:
        return [f"{site}: no HTML page (build the site first: mkdocs build --strict)"]
    problems: list[str] = []
    for path, page in pages.items():
        rel = path.relative_to(site.resolve())
        for tag, attr, value in page.refs:
            parts = urlsplit(value)
            if parts.scheme in SKIP_SCHEMES or parts.netloc:
                continue
            if not parts.path:
                target = path
            elif parts.path.startswith("/"):  # site-absolute (the 404 page's links)
                target = (site / unquote(parts.path).lstrip("/")).resolve()
            else:
                target = (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{rel}: {tag} {attr}={value!r}"
            if not target.is_relative_to(site.resolve()):
                problems.append(f"{where}: points outside the site")
            elif not target.is_file():
                problems.append(f"{where}: no such file")
            elif tag == "img" and target.stat().st_size == 0:
                problems.append(f"{where}: empty image")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{where}: no anchor #{parts.fragment}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when every internal link and image resolves, 1 otherwise."""
    p = OneLineParser(prog="check_docs.py", description=__doc__.split("\n")[0])
    p.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default %(default)s)")
    args = p.parse_args(argv)
    if not args.site.is_dir():
        p.error(f"--site {args.site}: not a folder (build the site first: mkdocs build --strict)")
    problems = check_site(args.site)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"check_docs: every internal link and image of {args.site} resolves")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
