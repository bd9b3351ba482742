"""The PDF/A-3 report written in parts, so that most of it can be written while the plan runs.

Each part is a whole HTML document that starts on a new page: the front (first page, summary,
matrix), one per tested requirement's section, and the tail. weasyprint lays each part out alone,
with the report's stylesheet given apart (parsed once per process, not once per part), and writes
it as PDF bytes (the PDF/A-3b variant, so each page is painted as in one document); the bytes and
what the join needs of the layout (anchors, cross-part links, bookmarks) pickle, so a part can be
written by another process or ahead of the seal. hil.report.pdfjoin joins them into one PDF/A-3b,
every page framed by the frame: one empty page with the running header and the footer's text, and
N empty pages with "Page N of M", written with the same `@page` rules.
A part written earlier (hil.report.prefetch, as each requirement finishes) is used when its HTML
is the same as the sealed record gives, so the content cannot differ.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import re
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.gcpause import collection_paused
from hil.report.pdfjoin import Part, assemble, finish

if TYPE_CHECKING:
    from weasyprint import Document

#: parts written ahead, by the SHA-256 of their stylesheet and HTML
Written = dict[str, Part]
FRAME = "{frames}"
PDF_VARIANT = "pdf/a-3b"
#: PDF points per CSS pixel (weasyprint's scale at zoom 1)
SCALE = 0.75


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


def lay_out(html: str, base_url: str, style: str, extra: str = "") -> Document:
    """One part (or the frame) laid out into pages, with `style` (the report's CSS) as its stylesheet,
    and `extra` CSS after it."""
    sheet, fonts = _stylesheet(style)
    sheets = [sheet, *([_weasyprint().CSS(string=extra, font_config=fonts)] if extra else [])]
    html_doc = _weasyprint().HTML(string=html, base_url=base_url)
    document: Document = html_doc.render(stylesheets=sheets, font_config=fonts)
    return document


def write_part(html: str, base_url: str, style: str, attachments: list[Any] | None = None) -> Part:
    """One part laid out and written as PDF/A-3b bytes; its anchors, the internal links it cannot
    resolve alone and its bookmarks are taken out of its pages first and kept for the join, and
    its margin boxes dropped (the frame gives every page its own). No cyclic garbage collection
    meanwhile: weasyprint's objects set off collections of the whole heap (a quarter of a
    section's CPU); the part's cycles are collected once after."""
    with collection_paused():
        return _write_part(html, base_url, style, attachments)


def _write_part(html: str, base_url: str, style: str, attachments: list[Any] | None) -> Part:
    from weasyprint.matrix import Matrix

    document = lay_out(html, base_url, style)
    boxes = _weasyprint().formatting_structure.boxes
    own = {name for page in document.pages for name in page.anchors}
    part = Part(b"", len(document.pages))
    for number, page in enumerate(document.pages):
        flip = Matrix(a=SCALE, d=-SCALE, f=page.height * SCALE)
        for name, (x, y, _, _) in page.anchors.items():
            part.anchors.append((name, number, flip.transform_point(x, y)))
        kept = []
        for link in page.links:
            kind, target, rect, _ = link
            if kind == "internal" and target not in own:
                x1, y1 = flip.transform_point(*rect[:2])
                x2, y2 = flip.transform_point(*rect[2:])
                part.links.append((number, (x1, y1, x2, y2), str(target)))
            else:
                kept.append(link)
        page.links = kept
        for level, label, (x, y), state in page.bookmarks:
            part.bookmarks.append((number, level, label, flip.transform_point(x, y), state))
        page.bookmarks = []
        # the margin boxes ("Page N of M", the running header) come from the frame
        page._page_box.children = tuple(
            c for c in page._page_box.children if not isinstance(c, boxes.MarginBox)
        )
    part.pdf = document.write_pdf(
        pdf_variant=PDF_VARIANT, attachments=attachments or [], uncompressed_pdf=False
    )
    return part


def write_ahead(html: str, base_url: str, into: Written, style: str) -> None:
    """Write a part now, to be used by `write` if the sealed record gives the same HTML."""
    key = part_key(html, style)
    if key not in into:
        into[key] = write_part(html, base_url, style)


def frame_pdf(frame: str, pages: int, base_url: str, style: str, first: int = 1, total: int = 0) -> bytes:
    """`pages` empty pages with "Page N of M" (the frame's numbers): pages `first` to
    `first + pages - 1` of `total` (all the pages if 0), so that they can be laid out in pieces side
    by side. The stylesheet's page footer takes the total from `--pages`."""
    numbers = f'@page {{ --pages: "{total or pages}"; }} @page :first {{ counter-reset: page {first}; }}'
    return _frame(frame, pages, "numbers", base_url, style, numbers)


def frame_head_pdf(frame: str, base_url: str, style: str) -> bytes:
    """One empty page with what every page carries alike: the running header, the footer's text."""
    return _frame(frame, 1, "head", base_url, style)


def _frame(frame: str, pages: int, layer: str, base_url: str, style: str, extra: str = "") -> bytes:
    """`pages` empty pages of the frame's `layer`: the stylesheet's page named so says what is on them."""
    with collection_paused():
        html = frame.replace(FRAME, f'<div class="frame {layer}"></div>\n' * pages)
        document = lay_out(html, base_url, style, extra)
        if len(document.pages) != pages:
            raise RuntimeError(f"the PDF frame has {len(document.pages)} pages for {pages} pages of content")
        data: bytes = document.write_pdf(pdf_variant=PDF_VARIANT, uncompressed_pdf=False)
    return data


def frame_pieces(pages: int, pieces: int) -> list[tuple[int, int]]:
    """(first page, pages) of each of `pieces` near-equal pieces of a frame of `pages` pages."""
    pieces = max(1, min(pieces, pages))
    size, more = divmod(pages, pieces)
    out, first = [], 1
    for n in range(pieces):
        count = size + (n < more)
        out.append((first, count))
        first += count
    return out


def part_weight(html: str) -> int:
    """What a part is expected to cost to write, for the order: its HTML's length without embedded
    images (over the 69 parts of a full 12100 report, 0.98 correlated with each part's CPU)."""
    return len(html) - sum(len(uri) for uri in _DATA_URI.findall(html))


_DATA_URI = re.compile(r'"data:[^"]*"')


def write_front(html: str, base_url: str, style: str, record: Path, description: str) -> Part:
    """The front part, with `record` embedded (AFRelationship Source): its catalog is the document's."""
    attachment = _weasyprint().Attachment(
        filename=str(record), name="record.jsonl", description=description, relationship="Source"
    )
    return write_part(html, base_url, style, [attachment])


def write(
    parts: list[str],
    frame: str,
    *,
    base_url: str,
    style: str,
    target: Path,
    record: Path,
    description: str,
    written: Written | None = None,
    processes: int = 1,
    log: Callable[[str], None] | None = None,
) -> None:
    """Write the joined parts to `target` as PDF/A-3b with `record` embedded (AFRelationship Source);
    `written` parts (by their HTML) are not written again. With `processes` > 1 the parts still to
    write are written by that many forked processes, the longest first (so the processes finish
    together), then the frame in as many pieces by them while this process joins the parts: only
    for a process with no other threads (the report worker). `log`: told when each stage is done
    (the worker's timeline)."""
    told = log or (lambda _: None)
    ahead = written if written is not None else {}
    made: dict[int, Part] = {
        n: ahead.pop(key) for n, html in enumerate(parts) if n and (key := part_key(html, style)) in ahead
    }
    todo = sorted((n for n in range(len(parts)) if n not in made), key=lambda n: -part_weight(parts[n]))
    if processes <= 1:
        for n in todo:
            made[n] = _write(parts[n], n == 0, base_url, style, record, description)
        told(f"PDF parts written: {len(todo)} of {len(parts)} after the seal")
        ordered = [made[n] for n in range(len(parts))]
        pages = sum(part.pages for part in ordered)
        head, frames = frame_head_pdf(frame, base_url, style), [frame_pdf(frame, pages, base_url, style)]
        joined = assemble(ordered[0], ordered[1:])
        told(f"PDF frame written: {pages} pages")
    else:
        context = multiprocessing.get_context("fork")  # the stylesheet and fonts are loaded once
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            futures = {
                pool.submit(_write, parts[n], n == 0, base_url, style, record, description): n for n in todo
            }
            for future in as_completed(futures):
                n = futures[future]
                made[n] = future.result()
                told(f"PDF part {n} written: {made[n].pages} page(s)")
            told(f"PDF parts written: {len(todo)} of {len(parts)} after the seal")
            ordered = [made[n] for n in range(len(parts))]
            pages = sum(part.pages for part in ordered)
            pieces = [
                pool.submit(frame_pdf, frame, count, base_url, style, first, pages)
                for first, count in frame_pieces(pages, processes)
            ]
            heading = pool.submit(frame_head_pdf, frame, base_url, style)
            joined = assemble(ordered[0], ordered[1:])  # beside the frame's pieces
            told("PDF parts assembled")
            frames = [piece.result() for piece in pieces]
            head = heading.result()
            told(f"PDF frame written: {pages} pages in {len(pieces)} pieces")
    finish(joined, head, frames, target)
    told("PDF parts joined")


def _write(html: str, first: bool, base_url: str, style: str, record: Path, description: str) -> Part:
    """A part; the first (the front's first page) with the record attached."""
    if first:
        return write_front(html, base_url, style, record, description)
    return write_part(html, base_url, style)
