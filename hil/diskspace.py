"""Free space a run needs in its out folder, checked before the run starts.

A record cut short by a full disk is INCOMPLETE evidence: better to refuse the run up front. The
need is estimated per profile from measured run folders (record, CAN log, sim log, reports with
their plots) with a margin; `HIL_MIN_FREE_MB` overrides it (e.g. on a station that prunes old runs).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hil.errors import UsageError

#: environment variable: the free space (MB) a run needs, instead of the profile's estimate
ENV = "HIL_MIN_FREE_MB"
#: MB per profile, about 10x the largest folder measured (12100 EOL 2.7 MB with every report; full
#: runs without reports: 12100 3.5 MB, D1000 13 MB), so the reports and a re-issue fit too
NEEDED_MB = {"eol": 60, "full": 150}


def needed_bytes(profile: str) -> int:
    """Bytes a run of `profile` needs; HIL_MIN_FREE_MB when set."""
    text = os.environ.get(ENV, "").strip()
    if text:
        try:
            mb = float(text)
        except ValueError:
            raise UsageError(f"{ENV}={text!r}: expected a number of megabytes") from None
        if not mb >= 0:
            raise UsageError(f"{ENV}={text!r}: expected a number of megabytes >= 0")
        return int(mb * 1e6)
    return NEEDED_MB.get(profile, max(NEEDED_MB.values())) * 1_000_000


def check_free_space(out: Path, profile: str) -> None:
    """Raise UsageError (one line) when `out` has less free space than a run of `profile` needs."""
    need = needed_bytes(profile)
    free = shutil.disk_usage(out).free
    if free < need:
        raise UsageError(
            f"{out}: {free / 1e6:.1f} MB free, the {profile} profile needs {need / 1e6:.0f} MB "
            f"(a record cut short by a full disk is incomplete evidence; override with {ENV})"
        )
