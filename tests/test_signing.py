"""`hil report DIR --sign KEY --authorised-by "NAME, FUNCTION"`: PAdES-signed PDF/A-3 revisions, the
chained authorisations.jsonl, and `--verify` checking both (a self-signed certificate made here,
trusted explicitly with --trust)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hilcli import hil
from pypdf import PdfReader

from hil.record import Recorder, read_entries

PASSPHRASE_ENV = "HIL_TEST_SIGN_PASSPHRASE"


@dataclass
class Identity:
    p12: Path
    cert: Path
    name: str


def make_identity(folder: Path, name: str, passphrase: bytes) -> Identity:
    """A self-signed signing certificate and its PKCS#12 file, as a lab's test CA would issue."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HIL test lab"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    p12 = folder / f"{name.split()[-1].lower()}.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, None, serialization.BestAvailableEncryption(passphrase)
        )
    )
    pem = p12.with_suffix(".pem")
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Identity(p12, pem, name)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short EOL run with a failed requirement (a non-conforming CV-OVP trigger)."""
    from hilcli import settings_file

    base = tmp_path_factory.mktemp("signing")
    firmware = settings_file(base, "fw.yaml", "bms12100", {"cell_overvoltage_protection": {"trigger": 3700}})
    out = base / "run"
    result = hil(
        "run", "--profile", "eol", "--firmware", str(firmware), "--reports", "none", "--out", str(out),
        "--", "-k", "CV-OVP", timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-2000:]
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    base = tmp_path_factory.mktemp("keys")
    return {
        "assessor": make_identity(base, "Ada Assessor", b"correct horse"),
        "other": make_identity(base / "other", "Otto Other", b"x"),
    }


@pytest.fixture
def folder(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


@pytest.fixture(scope="module")
def signed(run_dir: Path, keys: dict[str, Identity], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run signed twice by the assessor: revision 1, then the re-issue revision 2."""
    target = tmp_path_factory.mktemp("signed") / "run"
    shutil.copytree(run_dir, target)
    with pytest.MonkeyPatch.context() as mp:
        for n in (1, 2):
            result = sign(target, keys["assessor"], "Ada Assessor, head of laboratory", mp, "correct horse")
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
            said = "revision 1;" if n == 1 else "revision 2, supersedes revision 1;"
            assert f"signed: {target / f'report-r{n}.pdf'} ({said}" in result.stdout
    return target


@pytest.fixture
def signed_copy(signed: Path, tmp_path: Path) -> Path:
    target = tmp_path / "signed"
    shutil.copytree(signed, target)
    return target


def rechain(path: Path, change: dict[str, dict[str, object]]) -> None:
    """Rewrite a chained file with some entries' fields changed (by type), every hash recomputed."""
    entries, _ = read_entries(path)
    path.unlink()
    rec = Recorder(path, run_id=entries[0]["run_id"])
    for e in entries:
        fields = {k: v for k, v in e.items() if k not in ("seq", "type", "run_id", "prev", "hash")}
        if e["type"] == "end":
            fields = {k: v for k, v in fields.items() if k not in ("entries", "record_sha256")}
        fields.update(change.get(e["type"], {}))
        rec.write(e["type"], **fields)
    rec.close()


def sign(
    folder: Path, identity: Identity, who: str, monkeypatch: pytest.MonkeyPatch, passphrase: str
) -> subprocess.CompletedProcess[str]:
    monkeypatch.setenv(PASSPHRASE_ENV, passphrase)
    return hil(
        "report", str(folder), "--sign", str(identity.p12), "--sign-passphrase-env", PASSPHRASE_ENV,
        "--authorised-by", who, timeout=300,
    )  # fmt: skip


def first_page(pdf: Path) -> str:
    return " ".join(PdfReader(pdf).pages[0].extract_text().split())


def test_sign_twice_gives_two_chained_revisions(signed: Path) -> None:
    entries, result = read_entries(signed / "authorisations.jsonl")
    assert result.ok and [e["type"] for e in entries] == ["header", "authorisation", "authorisation"]
    record_sha = hashlib.sha256((signed / "record.jsonl").read_bytes()).hexdigest()
    r1, r2 = entries[1], entries[2]
    assert (r1["revision"], r1["supersedes"], r2["revision"], r2["supersedes"]) == (1, None, 2, 1)
    for n, e in ((1, r1), (2, r2)):
        assert e["record_sha256"] == record_sha
        assert e["authorised_by"] == "Ada Assessor, head of laboratory"
        assert e["signer"]["common_name"] == "Ada Assessor"
        assert e["report"] == f"report-r{n}.pdf"
        assert e["report_sha256"] == hashlib.sha256((signed / e["report"]).read_bytes()).hexdigest()
        assert dt.datetime.fromisoformat(e["time"]).tzinfo is not None
    page = first_page(signed / "report-r2.pdf")
    assert "Authorised by Ada Assessor, head of laboratory - revision 2, supersedes revision 1" in page
    assert "certificate of Ada Assessor" in page
    assert "revision 1 (first issue)" in first_page(signed / "report-r1.pdf")


def test_signed_pdf_stays_pdfa3_with_the_record_embedded(signed: Path) -> None:
    pdf = signed / "report-r1.pdf"
    data = pdf.read_bytes()
    # an incremental update: the rendered PDF/A-3 revision, then the signature appended after its %%EOF
    assert data.count(b"%%EOF") >= 2
    original = data[: data.index(b"%%EOF") + len(b"%%EOF")]
    assert b"/ByteRange" not in original and b"/ByteRange" in data[len(original) :]
    reader = PdfReader(pdf)
    root: Any = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp) and re.search(r'pdfaid:conformance(="|>)B', xmp)
    embedded = reader.attachments["record.jsonl"][0]
    assert embedded == (signed / "record.jsonl").read_bytes()
    field = root["/AcroForm"]["/Fields"][0].get_object()
    assert field["/FT"] == "/Sig" and int(field["/F"]) & 4  # printable, as PDF/A wants of annotations


def test_verify_checks_chain_and_signatures(signed: Path, keys: dict[str, Identity]) -> None:
    trusted = hil("report", str(signed), "--verify", "--trust", str(keys["assessor"].cert))
    assert trusted.returncode == 0, trusted.stderr
    for n in (1, 2):
        assert f"report-r{n}.pdf: signature intact, revision {n}, by " in trusted.stdout
    assert trusted.stdout.count(", trusted") == 2
    untrusted = hil("report", str(signed), "--verify", "--trust", str(keys["other"].cert))
    assert untrusted.returncode == 1
    assert "does not chain to a --trust certificate" in untrusted.stderr


def test_altered_signed_pdf_is_caught_even_with_the_chain_rewritten(signed_copy: Path) -> None:
    pdf = signed_copy / "report-r1.pdf"
    data = pdf.read_bytes()
    at = data.index(b"/Producer")  # a byte of the signed revision, not of the signature itself
    pdf.write_bytes(data[:at] + b"/Produce_" + data[at + 9 :])
    plain = hil("report", str(signed_copy), "--verify")
    assert plain.returncode == 1 and f"{pdf}: ALTERED" in plain.stderr
    # the forger also rewrites authorisations.jsonl with the new hash, correctly chained
    chain = signed_copy / "authorisations.jsonl"
    (signed_copy / "report-r2.pdf").unlink()
    chain.write_bytes(b"".join(chain.read_bytes().splitlines(keepends=True)[:2]))  # revision 1 only
    rechain(chain, {"authorisation": {"report_sha256": hashlib.sha256(pdf.read_bytes()).hexdigest()}})
    forged = hil("report", str(signed_copy), "--verify")
    assert forged.returncode == 1
    assert f"{pdf}: signature: the signature does not match the document" in forged.stderr


def test_edited_authorisation_entry_is_caught(signed_copy: Path) -> None:
    chain = signed_copy / "authorisations.jsonl"
    chain.write_text(
        chain.read_text().replace("Ada Assessor, head of laboratory", "Otto Other, head of laboratory", 1)
    )
    result = hil("report", str(signed_copy), "--verify")
    assert result.returncode == 1
    assert f"{chain}: ALTERED or damaged: line 2 (seq 1): altered" in result.stderr


def test_authorisation_of_another_record_is_caught(signed_copy: Path) -> None:
    """The signed revisions beside a different (consistently re-chained) record do not verify."""
    rechain(signed_copy / "record.jsonl", {"header": {"operator": "someone else"}})
    result = hil("report", str(signed_copy), "--verify")
    assert result.returncode == 1
    assert "revision 1 (seq 1): authorised a record with SHA-256" in result.stderr
    assert "revision 2 (seq 2): authorised a record with SHA-256" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--authorised-by", "Ada Assessor, head of lab"], "{p12}: expected a PKCS#12 file"),
        (["--authorised-by", "Ada Assessor"], 'error: --sign needs --authorised-by "NAME, FUNCTION"'),
    ],
)
def test_bad_signing_input_is_one_line_exit_2(
    folder: Path, keys: dict[str, Identity], monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    p12 = keys["assessor"].p12
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong passphrase")
    result = hil("report", str(folder), "--sign", str(p12), "--sign-passphrase-env", PASSPHRASE_ENV, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected.format(p12=p12) in lines[0], result.stderr
    assert not (folder / "authorisations.jsonl").exists() and not (folder / "report-r1.pdf").exists()


def test_passphrase_variable_not_set_is_exit_2(folder: Path, keys: dict[str, Identity]) -> None:
    result = hil(
        "report", str(folder), "--sign", str(keys["assessor"].p12),
        "--sign-passphrase-env", "HIL_NOT_SET_ANYWHERE", "--authorised-by", "Ada Assessor, head of lab",
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: --sign-passphrase-env: the environment variable HIL_NOT_SET_ANYWHERE is not set"
    )


def test_altered_record_is_not_signed(
    folder: Path, keys: dict[str, Identity], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = folder / "record.jsonl"
    record.write_text(record.read_text().replace('"verdict": "fail"', '"verdict": "pass"', 1))
    result = sign(folder, keys["assessor"], "Ada Assessor, head of lab", monkeypatch, "correct horse")
    assert result.returncode == 1
    assert "ALTERED" in result.stderr and "not signed" in result.stderr
    assert not (folder / "report-r1.pdf").exists()
    assert json.dumps(result.stdout) == '""'
