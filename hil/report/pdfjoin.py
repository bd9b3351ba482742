"""PDF parts written apart (hil.report.pdfparts) joined by pypdf into one PDF/A-3b document.

The front, written last by weasyprint with the record attached, gives the catalog: XMP metadata,
OutputIntent, the embedded record (AFRelationship), the document information and the trailer ID.
The other parts give only their pages. Each page then takes its running header and footer from
the frame (written with the same `@page` rules) as two form XObjects drawn after its content: one
page with what is alike on every page, and its own "Page N of M" from N pages of numbers, in
pieces that may be laid out side by side; the named destinations, the internal
links that cross parts (the matrix to the sections) and the outline are made again for the whole
document from what each part recorded (`assemble`, which needs no frame). Objects alike in several
parts are stored once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    Fit,
    FloatObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

#: a point in a page, in PDF points from its bottom-left corner
Point = tuple[float, float]


@dataclass
class Part:
    """One part written as PDF bytes, with what the join needs of its layout (all picklable)."""

    pdf: bytes
    pages: int
    #: (anchor name, page in the part, point): every `id` of its HTML
    anchors: list[tuple[str, int, Point]] = field(default_factory=list)
    #: (page in the part, rectangle x1 y1 x2 y2, anchor name): internal links to another part
    links: list[tuple[int, tuple[float, float, float, float], str]] = field(default_factory=list)
    #: (page in the part, level, label, point, state): weasyprint's bookmarks (h1-h6)
    bookmarks: list[tuple[int, int, str, Point, str]] = field(default_factory=list)


@dataclass
class Joined:
    """The parts' pages in one writer, not framed yet."""

    writer: PdfWriter
    #: pages before each part
    offsets: list[int]


def assemble(front: Part, rest: list[Part]) -> Joined:
    """The parts' pages in one document, with the named destinations, the internal links that cross
    parts and the outline: all but the frame (so it can be done while the frame is laid out)."""
    writer = PdfWriter(clone_from=io.BytesIO(front.pdf))
    offsets = [0]
    for part in rest:
        offsets.append(len(writer.pages))
        for page in PdfReader(io.BytesIO(part.pdf)).pages:
            writer.add_page(page)
    parts = [front, *rest]
    _destinations(writer, parts, offsets)
    _links(writer, parts, offsets)
    _outline(writer, parts, offsets)
    return Joined(writer, offsets)


def finish(joined: Joined, head: bytes, frames: list[bytes], target: Path) -> None:
    """Each page framed, and the document written to `target`: `head` is one page with what every
    page carries alike (the running header, the footer's text), drawn as one form on every page;
    `frames` are the pieces of the frame with each page's own number, page for page."""
    writer = joined.writer
    numbered = [page for piece in frames for page in PdfReader(io.BytesIO(piece)).pages]
    if len(numbered) != len(writer.pages):
        raise RuntimeError(f"the PDF frame has {len(numbered)} pages for {len(writer.pages)} of content")
    common = _form(writer, PdfReader(io.BytesIO(head)).pages[0])
    for page, number in zip(writer.pages, numbered, strict=True):
        _overlay(writer, page, [common, _form(writer, number)])
    # what the parts have alike once (font subsets of the same glyphs, opaque alpha masks, colour
    # profiles) and what nothing refers to any more (the front's own outline): 7 % of the bytes
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    with target.open("wb") as fh:
        writer.write(fh)


def _form(writer: PdfWriter, framed: Any) -> Any:
    """A frame page's content (its margin boxes only) as a form XObject: it keeps its own resources
    and graphics state, so nothing on either side is renamed or parsed (pypdf's merge_page parses
    both content streams: seconds for the whole report)."""
    source = framed["/Contents"].get_object()
    form = StreamObject()
    form.set_data(source.get_data())
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject(FloatObject(v) for v in framed.mediabox),
            NameObject("/Resources"): framed["/Resources"].get_object().clone(writer),
        }
    )
    return writer._add_object(form)


def _overlay(writer: PdfWriter, page: Any, forms: list[Any]) -> None:
    """Draw `forms` over `page`. weasyprint's page content leaves its flip of the y axis in place, so
    it is put between q and Q."""
    resources = page["/Resources"].get_object()
    own = DictionaryObject(resources)  # the part's resources are shared by its pages: one copy each
    xobjects = DictionaryObject(own.get("/XObject", DictionaryObject()).get_object())
    names = [f"/HilFrame{n}" for n in range(len(forms))]
    for name, ref in zip(names, forms, strict=True):
        xobjects[NameObject(name)] = ref
    own[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = writer._add_object(own)
    before, after = StreamObject(), StreamObject()
    before.set_data(b"q\n")
    after.set_data(b"\nQ\n" + b"".join(f"{name} Do\n".encode() for name in names))
    contents = page.raw_get("/Contents")  # a reference: the stream must not be written inline
    streams = list(contents.get_object()) if isinstance(contents.get_object(), ArrayObject) else [contents]
    page[NameObject("/Contents")] = ArrayObject(
        [writer._add_object(before), *streams, writer._add_object(after)]
    )


def _destinations(writer: PdfWriter, parts: list[Part], offsets: list[int]) -> None:
    """Every anchor as a named destination (sorted, first one of a name kept), as weasyprint does."""
    seen: dict[str, ArrayObject] = {}
    for part, offset in zip(parts, offsets, strict=True):
        for name, page, (x, y) in part.anchors:
            if name not in seen:
                ref = writer.pages[offset + page].indirect_reference
                seen[name] = ArrayObject(
                    [ref, NameObject("/XYZ"), FloatObject(x), FloatObject(y), NumberObject(0)]
                )
    names = ArrayObject()
    for name in sorted(seen):
        names += [TextStringObject(name), seen[name]]
    catalog = writer.root_object
    tree = DictionaryObject(catalog.get("/Names", DictionaryObject()).get_object())
    tree[NameObject("/Dests")] = writer._add_object(DictionaryObject({NameObject("/Names"): names}))
    catalog[NameObject("/Names")] = tree


def _links(writer: PdfWriter, parts: list[Part], offsets: list[int]) -> None:
    """The internal links a part could not resolve alone, as link annotations (printable, PDF/A)."""
    for part, offset in zip(parts, offsets, strict=True):
        for page, (x1, y1, x2, y2), name in part.links:
            annotation = DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Annot"),
                    NameObject("/Subtype"): NameObject("/Link"),
                    NameObject("/Rect"): ArrayObject(FloatObject(v) for v in (x1, y1, x2, y2)),
                    NameObject("/BS"): DictionaryObject({NameObject("/W"): NumberObject(0)}),
                    NameObject("/Dest"): TextStringObject(name),
                    NameObject("/F"): NumberObject(4),
                }
            )
            target = writer.pages[offset + page]
            annots = target.get("/Annots")
            listed = ArrayObject(annots.get_object()) if annots is not None else ArrayObject()
            listed.append(writer._add_object(annotation))
            target[NameObject("/Annots")] = listed


class _Page:
    """What weasyprint's bookmark tree reads of a page: its bookmarks, in PDF points already."""

    def __init__(self, bookmarks: list[tuple[int, str, Point, str]]) -> None:
        self.bookmarks = bookmarks


def _outline(writer: PdfWriter, parts: list[Part], offsets: list[int]) -> None:
    """The bookmarks of every part as one outline, nested by weasyprint's own rule (h1 > h2 > h3)."""
    from weasyprint.anchors import make_page_bookmark_tree
    from weasyprint.matrix import Matrix

    pages: dict[int, list[tuple[int, str, Point, str]]] = {}
    for part, offset in zip(parts, offsets, strict=True):
        for page, level, label, point, state in part.bookmarks:
            pages.setdefault(offset + page, []).append((level, label, point, state))
    root: list[Any] = []
    skipped: list[int] = []
    last_by_depth: list[Any] = [root]
    previous = 0
    for number in sorted(pages):
        previous = make_page_bookmark_tree(
            _Page(pages[number]), skipped, last_by_depth, previous, number, Matrix()
        )
    writer.root_object.pop("/Outlines", None)  # the front's own, if any: the whole outline follows
    _add_outline(writer, root, None)


def _add_outline(writer: PdfWriter, tree: list[Any], parent: Any) -> None:
    """weasyprint's bookmark subtrees (label, (page, x, y), children, state) as outline items."""
    for label, (page, x, y), children, state in tree:
        item = writer.add_outline_item(
            title=label, page_number=page, parent=parent, fit=Fit.xyz(x, y, 0), is_open=state != "closed"
        )
        _add_outline(writer, children, item)
