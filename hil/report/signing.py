"""Authorised, signed reports: `hil report DIR --sign KEY --authorised-by "NAME, FUNCTION"`.

Each authorisation is a revision of the report: `report-r{n}.pdf`, the PDF/A-3 report (record
embedded) with the authoriser, revision and the revision it supersedes on its first page, signed
PAdES B-B with pyHanko as an incremental update (the PDF/A-3 revision underneath stays byte for
byte as rendered). A signed revision is never overwritten; a re-issue is revision n+1.

Every authorisation is also an entry of `authorisations.jsonl` beside the record, chained like the
record itself (hil.record.Recorder): signer (certificate and --authorised-by), time, the record's
SHA-256, revision, the revision it supersedes, and the signed PDF's SHA-256. `verify_authorisations`
checks that chain and every signature (hil report --verify).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import logging
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hil.errors import ConfigError, UsageError
from hil.record import Recorder, file_sha256, read_entries

FILE = "authorisations.jsonl"
FIELD = "Authorisation"


def authorisations_path(folder: Path) -> Path:
    return folder / FILE


def report_name(revision: int) -> str:
    return f"report-r{revision}.pdf"


class SignerInfo(BaseModel):
    """Who signed, as the certificate says."""

    subject: str
    common_name: str
    issuer: str
    serial: str
    cert_sha256: str


class Authorisation(BaseModel):
    """One entry of authorisations.jsonl (the chain fields seq/prev/hash are added by the Recorder)."""

    revision: int
    supersedes: int | None
    authorised_by: str
    signer: SignerInfo
    time: str
    record_sha256: str
    report: str
    report_sha256: str


@dataclass
class _Key:
    signer: Any  # pyhanko.sign.signers.SimpleSigner
    info: SignerInfo


def _cert_info(cert: Any) -> SignerInfo:
    """From an asn1crypto certificate (pyHanko's)."""
    names = cert.subject.native
    return SignerInfo(
        subject=cert.subject.human_friendly,
        common_name=str(names.get("common_name", cert.subject.human_friendly)),
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        cert_sha256=hashlib.sha256(cert.dump()).hexdigest(),
    )


@contextlib.contextmanager
def _quiet() -> Any:
    """pyHanko imports cryptography's deprecated DSA: not the user's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with contextlib.suppress(ImportError):
            from cryptography.utils import CryptographyDeprecationWarning

            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


def load_key(key: Path, passphrase_env: str | None) -> _Key:
    """The signer of a PKCS#12 file; its passphrase from the environment variable named."""
    with _quiet():
        from pyhanko.sign import signers

    passphrase: bytes | None = None
    if passphrase_env:
        if passphrase_env not in os.environ:
            raise UsageError(f"--sign-passphrase-env: the environment variable {passphrase_env} is not set")
        passphrase = os.environ[passphrase_env].encode()
    expected = "a PKCS#12 file with a private key and its certificate (passphrase via --sign-passphrase-env)"
    if not key.is_file():
        raise ConfigError(str(key), "-", expected)
    log = logging.getLogger("pyhanko")
    level, log.level = log.level, logging.CRITICAL + 1  # its traceback would hide the one-line error
    try:
        signer = signers.SimpleSigner.load_pkcs12(pfx_file=str(key), passphrase=passphrase)
    except Exception:  # pyHanko logs and returns None on most failures, raises on some
        signer = None
    finally:
        log.setLevel(level)
    if signer is None or signer.signing_cert is None:
        raise ConfigError(str(key), "-", expected)
    return _Key(signer, _cert_info(signer.signing_cert))


def _revisions(folder: Path) -> list[dict[str, Any]]:
    path = authorisations_path(folder)
    if not path.exists():
        return []
    entries, result = read_entries(path)
    if not result.ok or result.torn_tail:
        raise UsageError(f"{path}: {result.message}; no further revision is issued on a damaged chain")
    return [e for e in entries if e.get("type") == "authorisation"]


def authorisation_text(authorised_by: str, revision: int, supersedes: int | None, signer: str) -> str:
    """What the first page says in its "Authorised by" row."""
    text = f"{authorised_by} - revision {revision}"
    text += f", supersedes revision {supersedes}" if supersedes else " (first issue)"
    return text + f"; signed digitally (PAdES) with the certificate of {signer}"


def sign_pdf(source: Path, target: Path, key: _Key, reason: str) -> None:
    """Sign `source` into `target` as an incremental update (PAdES B-B, invisible signature)."""
    with _quiet():
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=key.info.common_name,
    )
    with source.open("rb") as inf, target.open("xb") as outf:
        writer = IncrementalPdfFileWriter(inf)
        signers.PdfSigner(meta, signer=key.signer).sign_pdf(writer, output=outf)


def sign_report(folder: Path, key: _Key, authorised_by: str) -> Authorisation:
    """Render, sign and chain the next revision of the run's report; returns its entry."""
    from hil.report import document
    from hil.report.integrity import check_verdicts
    from hil.report.model import load_run

    run = load_run(folder)  # an altered record raises: nothing is signed
    check_verdicts(run.entries, run.record_path)
    previous = _revisions(folder)
    revision = int(previous[-1]["revision"]) + 1 if previous else 1
    supersedes = revision - 1 if previous else None
    target = folder / report_name(revision)
    if target.exists():
        raise UsageError(
            f"{target} exists but is not in {FILE}; move it away before issuing revision {revision}"
        )
    text = authorisation_text(authorised_by, revision, supersedes, key.info.common_name)
    with tempfile.TemporaryDirectory(prefix="hil-sign-") as tmp:
        unsigned = document.write_pdf(run, Path(tmp), text)
        sign_pdf(unsigned, target, key, f"Authorised: {authorised_by}, revision {revision}")
    entry = Authorisation(
        revision=revision,
        supersedes=supersedes,
        authorised_by=authorised_by,
        signer=key.info,
        time=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        record_sha256=run.record_sha256,
        report=target.name,
        report_sha256=file_sha256(target),
    )
    path = authorisations_path(folder)
    chain = Recorder(path, run_id=run.run_id, resume=True)
    try:
        if chain.entries == 0:
            chain.write("header", record="record.jsonl", purpose="authorisations of the run's report")
        chain.write("authorisation", **entry.model_dump(mode="json"))
    finally:
        chain.close()
    return entry


def cmd_sign(folder: Path, args: argparse.Namespace) -> int:
    """`hil report DIR --sign KEY --authorised-by "NAME, FUNCTION"`."""
    from hil.report.model import RecordAlteredError

    if not args.authorised_by or "," not in args.authorised_by:
        raise UsageError('--sign needs --authorised-by "NAME, FUNCTION"')
    key = load_key(Path(args.sign), args.sign_passphrase_env)
    try:
        entry = sign_report(folder, key, args.authorised_by.strip())
    except RecordAlteredError as exc:
        print(f"error: {exc}; an altered record is not signed", file=sys.stderr)
        return 1
    supersedes = f", supersedes revision {entry.supersedes}" if entry.supersedes else ""
    print(f"signed: {folder / entry.report} (revision {entry.revision}{supersedes}; {entry.signer.subject})")
    print(f"chain:  {authorisations_path(folder)}")
    return 0


def _check_signature(pdf: Path, entry: dict[str, Any], trust: list[Path]) -> str | None:
    """None when the PDF's signature is intact, covers the whole file and is the recorded signer's."""
    with _quiet():
        from pyhanko.keys import load_cert_from_pemder

    roots = [load_cert_from_pemder(str(p)) for p in trust]
    try:
        return _validate(pdf, entry, roots)
    except Exception as exc:  # a damaged PDF: pyHanko raises its own parse errors
        return f"the signed PDF cannot be validated ({type(exc).__name__}: {exc})"


def _validate(pdf: Path, entry: dict[str, Any], roots: list[Any]) -> str | None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    with pdf.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        sigs = reader.embedded_signatures
        if len(sigs) != 1:
            return f"{len(sigs)} signatures, expected one"
        context = ValidationContext(trust_roots=roots) if roots else ValidationContext()
        status = validate_pdf_signature(sigs[0], context)
        if not (status.intact and status.valid):
            return "the signature does not match the document (altered after signing)"
        if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            return "bytes were added after the signature"
        cert = _cert_info(status.signing_cert)
        if cert.cert_sha256 != (entry.get("signer") or {}).get("cert_sha256"):
            return f"signed by {cert.subject}, not by the certificate the authorisation names"
        if roots and not status.trusted:
            return f"the signer {cert.subject} does not chain to a --trust certificate"
    return None


def verify_authorisations(folder: Path, record_sha256: str, trust: list[Path]) -> tuple[list[str], list[str]]:
    """(lines that verified, problems) for authorisations.jsonl and every signed report it lists."""
    path = authorisations_path(folder)
    entries, result = read_entries(path)
    good: list[str] = []
    bad: list[str] = []
    if not result.ok or result.torn_tail:
        bad.append(f"{path}: ALTERED or damaged: {result.problem}")
    previous: int | None = None
    for e in (e for e in entries if e.get("type") == "authorisation"):
        n = e.get("revision")
        pdf = folder / str(e.get("report", ""))
        where = f"{path}: revision {n} (seq {e.get('seq')})"
        if n != (previous or 0) + 1 or e.get("supersedes") != previous:
            bad.append(f"{where}: revision/supersedes out of sequence after revision {previous}")
        previous = n if isinstance(n, int) else previous
        if e.get("record_sha256") != record_sha256:
            bad.append(
                f"{where}: authorised a record with SHA-256 {str(e.get('record_sha256'))[:16]}..., "
                f"not this record ({record_sha256[:16]}...)"
            )
        if not pdf.is_file():
            bad.append(f"{where}: the signed report {pdf.name} is missing")
            continue
        if file_sha256(pdf) != e.get("report_sha256"):
            bad.append(f"{pdf}: ALTERED: SHA-256 is not the one recorded in {FILE}")
            continue
        problem = _check_signature(pdf, e, trust)
        if problem:
            bad.append(f"{pdf}: signature: {problem}")
        else:
            anchor = "trusted" if trust else "not checked against a trust anchor (give --trust CERT)"
            good.append(f"{pdf}: signature intact, revision {n}, by {e['signer']['subject']}, {anchor}")
    if not previous and not bad:
        bad.append(f"{path}: no authorisation entry")
    return good, bad
