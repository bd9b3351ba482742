"""What `hil report --verify` checks beyond the record's hash chain, and the re-judging of verdicts.

- Every artefact the `end` entry lists (can.asc, sim.log) must still have its recorded SHA-256.
- Every recorded verdict must follow from the recorded value, limits, U and decision rule
  (hil.measure.judge): a record edited and re-chained with correct hashes is still caught when
  its verdicts no longer follow from its numbers.
- The authorisations beside the record and the signatures of the signed reports (hil.report.signing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.measure import DecisionRule, Measurement, Verdict
from hil.record import file_sha256, read_entries
from hil.report.model import RecordAlteredError

EXIT_OK, EXIT_ALTERED, EXIT_INCOMPLETE = 0, 1, 3


class VerdictMismatchError(RecordAlteredError):
    """A recorded verdict does not follow from the recorded value, limits, U and rule."""


@dataclass(frozen=True)
class Disagreement:
    """One measurement entry whose recorded verdict is not the one its numbers give."""

    seq: int
    requirement: str
    name: str
    recorded: str
    derived: str
    why: str

    def describe(self) -> str:
        return (
            f"entry seq {self.seq} ({self.requirement} {self.name}): recorded verdict {self.recorded}, "
            f"but {self.why} gives {self.derived}"
        )


def _derive(m: Measurement) -> tuple[Verdict, str] | None:
    """The verdict the numbers give and how, or None where there is nothing to re-derive."""
    if m.verdict in (Verdict.ERROR, Verdict.INFO):
        return None
    if m.low is not None or m.high is not None:
        if m.value is not None and not m.numeric:
            return None
        try:
            rule = DecisionRule.parse(m.decision_rule or "simple")
        except ValueError:
            return Verdict.ERROR, f"the unknown decision rule {m.decision_rule!r}"
        lo = "-inf" if m.low is None else f"{m.low:g}"
        hi = "+inf" if m.high is None else f"{m.high:g}"
        value = "no value" if m.value is None else f"{m.value:g}"
        u = "" if m.uncertainty is None else f" ± {m.uncertainty:g}"
        how = f"{value}{u} {m.unit} against [{lo}, {hi}] under the {rule.name} rule".replace("  ", " ")
        return m.judged(rule).verdict, how
    if m.expected is not None:
        same = m.value == m.expected
        if isinstance(m.value, float) and math.isnan(m.value):
            same = False
        return (Verdict.PASS if same else Verdict.FAIL), f"{m.value!r} against expected {m.expected!r}"
    return None


def rejudge(entries: list[dict[str, Any]]) -> list[Disagreement]:
    """Every measurement entry whose recorded verdict differs from the one re-derived from it."""
    found = []
    for entry in entries:
        if entry.get("type") != "measurement":
            continue
        try:
            m = Measurement.from_json(entry)
        except (TypeError, ValueError, KeyError) as exc:
            found.append(
                Disagreement(
                    int(entry.get("seq", -1)),
                    str(entry.get("requirement", "?")),
                    str(entry.get("name", "?")),
                    str(entry.get("verdict")),
                    "-",
                    f"an unreadable measurement ({exc})",
                )
            )
            continue
        derived = _derive(m)
        if derived is not None and derived[0] != m.verdict:
            found.append(
                Disagreement(
                    int(entry["seq"]), m.requirement, m.name, m.verdict.value, derived[0].value, derived[1]
                )
            )
    return found


def check_verdicts(entries: list[dict[str, Any]], record: Path) -> None:
    """Raise VerdictMismatchError naming every entry whose verdict does not follow from its numbers."""
    found = rejudge(entries)
    if found:
        raise VerdictMismatchError(
            f"{record}: recorded verdict disagrees with the recorded numbers: "
            + "; ".join(d.describe() for d in found)
        )


def artifact_problems(folder: Path, end: dict[str, Any] | None) -> list[str]:
    """Each artefact listed by the end entry that is missing or no longer has its recorded hash."""
    problems = []
    for name, digest in dict((end or {}).get("artifacts") or {}).items():
        path = folder / str(name)
        if not path.is_file():
            problems.append(f"{path}: artefact listed by the end entry is missing")
        elif file_sha256(path) != digest:
            problems.append(
                f"{path}: ALTERED: SHA-256 {file_sha256(path)[:16]}... is not the {str(digest)[:16]}... "
                "recorded in the end entry"
            )
    return problems


@dataclass
class FolderVerification:
    """The outcome of verifying a run folder: an exit code and the lines that explain it."""

    code: int = EXIT_OK
    problems: list[str] = field(default_factory=list)  # altered: exit 1
    incomplete: list[str] = field(default_factory=list)  # cut short or interrupted: exit 3
    ok: list[str] = field(default_factory=list)


def verify_folder(folder: Path, trust: list[Path] | None = None) -> FolderVerification:
    """Record chain, artefacts, verdicts, authorisations and signatures of a run folder."""
    record = folder / "record.jsonl"
    entries, result = read_entries(record)
    out = FolderVerification()
    if not result.ok:
        out.problems.append(f"{record}: {result.message}")
    elif not result.complete:
        out.incomplete.append(f"{record}: {result.message}")
    else:
        out.ok.append(f"{record}: {result.message}")
    end = entries[-1] if entries and entries[-1].get("type") == "end" else None
    altered = artifact_problems(folder, end)
    out.problems += altered
    listed = sorted(dict((end or {}).get("artifacts") or {}))
    if listed and not altered:
        out.ok.append(f"artefacts {', '.join(listed)}: SHA-256 as recorded in the end entry")
    out.problems += [f"{record}: {d.describe()}" for d in rejudge(entries)]
    if (folder / "authorisations.jsonl").exists():
        from hil.report import signing

        auth_ok, auth_problems = signing.verify_authorisations(folder, result.sha256, trust or [])
        out.ok += auth_ok
        out.problems += auth_problems
    out.code = EXIT_ALTERED if out.problems else (EXIT_INCOMPLETE if out.incomplete else EXIT_OK)
    return out
