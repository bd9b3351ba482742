"""Index a run the moment its record is sealed; a database failure never costs the record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hil.gcpause import collection_paused

if TYPE_CHECKING:
    from hil.db.summary import Written

#: `--hil-db none` (or `hil run --db none`): do not index
DISABLED = "none"


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: say it as given
        return url


def index_sealed(folder: Path, url: str | None, written: Written | None = None) -> bool:
    """Insert the sealed run in `folder` into the database at `url` (default: beside the run folders).

    `written`: the record's entries as the recorder wrote them (`Recorder.written()`), so the
    record is not read back and verified a second time. Any failure prints one line and returns
    False: the record stays the evidence and `hil db import` indexes it later.
    """
    if url == DISABLED:
        return False
    from hil.db.store import default_url

    url = url or default_url(folder.resolve().parent)
    try:
        with collection_paused():
            from hil.db.store import ResultsDB

            db = ResultsDB(url)
            try:
                db.import_run(folder, written)
            finally:
                db.close()
        return True
    except (Exception, KeyboardInterrupt) as exc:
        detail = " ".join(str(exc).split())[:300]
        print(
            f"hil: results database {display_url(url)}: the run was not indexed ({type(exc).__name__}: "
            f"{detail}); the record is intact, index it later with `hil db import {folder}`",
            file=sys.stderr,
        )
        return False
