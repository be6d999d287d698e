"""Reading what the runs page (emr_autopilot_devkit.runs_page) produced: its HTML as an element tree, and a
PNG screenshot of it as pixels.

Both by hand on the standard library: the dev lock has no HTML parser with a tree (lxml, BeautifulSoup) and
no image library (Pillow), and each reader is a few lines for what the page and Chromium write."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})


class _Tree(HTMLParser):
    """Builds an ElementTree; an end tag that does not close the open element is an error, so a value the
    page failed to escape (a `</div>` in a reason) breaks the parse instead of passing unseen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = ET.TreeBuilder()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.builder.start(tag, {name: value or "" for name, value in attrs})
        if tag in VOID:
            self.builder.end(tag)
        else:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.builder.start(tag, {name: value or "" for name, value in attrs})
        self.builder.end(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        self.builder.end(tag)

    def handle_data(self, data: str) -> None:
        self.builder.data(data)


def parse_html(page: str) -> ET.Element:
    """The page's <html> element; fails on a mismatched or unclosed tag."""
    tree = _Tree()
    tree.feed(page)
    tree.close()
    assert tree.open == [], f"unclosed: {tree.open}"
    return tree.builder.close()


def text_of(element: ET.Element) -> str:
    """All the text inside an element, whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())


def with_class(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [el for el in root.iter(tag) if css_class in el.get("class", "").split()]


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of pixel bytes) of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's
    --screenshot writes); PNG spec sections 11.2.2 (IHDR) and 9 (filtering)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        _unfilter(kind, line, prev, bpp)
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    # One loop per filter type, not a branch per byte: a screenshot is millions of bytes.
    if kind == 2:
        line[:] = bytes((a + b) & 255 for a, b in zip(line, prev, strict=True))
    elif kind == 1:
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif kind == 3:
        for i in range(len(line)):
            line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif kind == 4:
        for i in range(len(line)):
            left, up = (line[i - bpp], prev[i]) if i >= bpp else (0, prev[i])
            up_left = prev[i - bpp] if i >= bpp else 0
            guess = left + up - up_left
            pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - up_left)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 255
