"""The PDF/A-3 report laid out in parts, so that most of it can be laid out while the plan runs.

Each part is a whole HTML document that starts on a new page: the front (first page, summary,
matrix), one per tested requirement's section, and the tail. weasyprint lays each part out alone,
with the report's stylesheet given apart (parsed once per process, not once per part); their pages
are joined into one document, and every page takes its margin boxes (the running header, "Page N
of M") from the frame: N empty pages laid out with the same `@page` rules, which costs little. A
part laid out earlier (hil.report.prefetch, as each requirement finishes) is used when its HTML is
the same as the sealed record gives, so the content cannot differ.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weasyprint import Document

#: parts laid out ahead, by the SHA-256 of their stylesheet and HTML
LaidOut = dict[str, "Document"]
FRAME = "{frames}"


def part_key(html: str, style: str) -> str:
    return hashlib.sha256(style.encode() + b"\0" + html.encode()).hexdigest()


def _weasyprint() -> Any:
    with warnings.catch_warnings():  # "HarfBuzz-Subset will be required by future versions"
        warnings.simplefilter("ignore", DeprecationWarning)
        import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return weasyprint


@functools.cache
def _stylesheet(style: str) -> tuple[Any, Any]:
    """The parts' stylesheet parsed once per process (a <style> in each part is parsed with it:
    a quarter of a section's layout) and the font configuration it was parsed with."""
    weasyprint = _weasyprint()
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return weasyprint.CSS(string=style, font_config=fonts), fonts


def lay_out(html: str, base_url: str, style: str) -> Document:
    """One part (or the frame) laid out into pages, with `style` (the report's CSS) as its stylesheet."""
    sheet, fonts = _stylesheet(style)
    html_doc = _weasyprint().HTML(string=html, base_url=base_url)
    document: Document = html_doc.render(stylesheets=[sheet], font_config=fonts)
    return document


def lay_out_ahead(html: str, base_url: str, into: LaidOut, style: str) -> None:
    """Lay a part out now, to be used by `write` if the sealed record gives the same HTML."""
    key = part_key(html, style)
    if key not in into:
        into[key] = lay_out(html, base_url, style)


def _framed(page: Any, frame: Any) -> None:
    """Give `page` the margin boxes (running header, footers) of the frame's page."""
    boxes = _weasyprint().formatting_structure.boxes
    own = [child for child in page._page_box.children if not isinstance(child, boxes.MarginBox)]
    margins = [child for child in frame._page_box.children if isinstance(child, boxes.MarginBox)]
    page._page_box.children = tuple(own + margins)


def join(parts: list[str], frame: str, base_url: str, style: str, laid: LaidOut | None = None) -> Document:
    """The parts' pages in order, each framed as page N of M; `laid` parts are not laid out again."""
    ahead = laid if laid is not None else {}
    documents = [ahead.pop(part_key(html, style), None) or lay_out(html, base_url, style) for html in parts]
    pages = [page for document in documents for page in document.pages]
    frames = lay_out(frame.replace(FRAME, '<div class="frame"></div>\n' * len(pages)), base_url, style)
    if len(frames.pages) != len(pages):
        raise RuntimeError(f"the PDF frame has {len(frames.pages)} pages for {len(pages)} pages of content")
    for page, framed in zip(pages, frames.pages, strict=True):
        _framed(page, framed)
    return documents[0].copy(pages)


def write(
    parts: list[str],
    frame: str,
    *,
    base_url: str,
    style: str,
    target: Path,
    record: Path,
    description: str,
    laid: LaidOut | None = None,
) -> None:
    """Write the joined parts to `target` as PDF/A-3b with `record` embedded (AFRelationship Source)."""
    document = join(parts, frame, base_url, style, laid)
    attachment = _weasyprint().Attachment(
        filename=str(record), name="record.jsonl", description=description, relationship="Source"
    )
    document.write_pdf(str(target), pdf_variant="pdf/a-3b", attachments=[attachment], uncompressed_pdf=False)
