"""The PDF report checked by a real PDF/A validator: Apache PDFBox Preflight (Debian's
libpdfbox2-java, installed by scripts/setup-test-system).

veraPDF, the reference PDF/A-3 validator, is not shipped by PyPI, npm or Debian (docs/reports.md
says what was checked). Preflight validates PDF/A-1b only; a PDF/A-3b file breaks some PDF/A-1b
rules on purpose, so those rules (each listed below with why PDF/A-3 allows it) are set aside and
every other rule Preflight checks must pass. A copy with one image switched to Interpolate true,
which PDF/A-3 forbids as PDF/A-1 does, must fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

JAVA_LIB = Path("/usr/share/java")
#: Preflight and what it loads (Debian packages libpdfbox2-java, libactivation-java, libjaxb-api-java)
JARS = ("preflight", "pdfbox2", "fontbox2", "xmpbox", "commons-logging", "javax.activation", "jaxb-api")
#: Preflight's PDF/A-1b error codes for rules that PDF/A-3b (ISO 19005-3, on ISO 19005-2) does not have
PDFA1_ONLY = {
    "1.2.7": "Filter on the metadata stream: PDF/A-1 forbids it, PDF/A-2/-3 do not (WeasyPrint "
    "leaves it uncompressed for PDF/A-1 only)",
    "1.2.9": "an embedded file in a file specification: PDF/A-3 allows it (the record is embedded)",
    "1.4": "cross-reference streams (PDF 1.5): PDF/A-2/-3 are based on PDF 1.7",
    "1.4.7": "the EmbeddedFiles name tree: as 1.2.9",
    "2.2.2": "transparency (the soft masks of the plots' PNGs): PDF/A-2/-3 allow it",
    "3.1.11": "no CIDSet in a subset font: PDF/A-2/-3 make CIDSet optional",
}

#: recorded results (no lab): a probed threshold and a yes/no section, so the PDF carries plots
PLAN = """
import pytest

from hil.measure import equals, within


@pytest.mark.requirement("CV-OVP")
def test_trip(check):
    probes = [(3600.0, False, 1.0), (3700.0, True, 2.0), (3650.0, True, 3.0), (3625.0, False, 4.0)]
    check(within("CV-OVP", "trip point", 3643.0, "mV", 6.0, low=3628.0, high=3672.0, uncertainty=4.0,
                 data={"probes": probes}))


@pytest.mark.requirement("PM-WAKE")
def test_wake(check):
    check(equals("PM-WAKE", "woken by RS-485", True, True, 10.0,
                 data={"stimulus": {"RS-485": "status request"}}))
"""


def preflight(pdf: Path) -> set[str]:
    """The error codes Preflight reports for `pdf` as a PDF/A-1b file (empty: valid)."""
    jars = [JAVA_LIB / f"{name}.jar" for name in JARS]
    missing = [str(j) for j in jars if not j.is_file()]
    assert not missing, f"{missing} missing: scripts/setup-test-system installs Apache PDFBox Preflight"
    result = subprocess.run(
        ["java", "-cp", ":".join(map(str, jars)), "org.apache.pdfbox.preflight.Validator_A1b", str(pdf)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    if "is a valid PDF/A-1b file" in output:
        return set()
    assert "is not a valid PDF/A-1b file" in output, output[-2000:]
    return set(re.findall(r"^(\d+(?:\.\d+)*) : ", output, re.MULTILINE))


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pdfa")
    plan = base / "plan" / "test_plan.py"
    plan.parent.mkdir()
    plan.write_text(PLAN)
    out = base / "run"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", str(plan), f"--rootdir={plan.parent}", f"--hil-out={out}"),
            *("--hil-reports=pdf", "-p", "no:cacheprovider", "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=plan.parent,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (out / "report.pdf").is_file(), run.stdout + run.stderr
    return out / "report.pdf"


def test_report_breaks_no_pdfa_rule_that_pdfa3_shares_with_pdfa1(report_pdf: Path) -> None:
    codes = preflight(report_pdf)
    assert "1.4.7" in codes  # Preflight read the file to its attachments: the embedded record
    assert codes - set(PDFA1_ONLY) == set(), {c: "a PDF/A-3 rule broken" for c in codes - set(PDFA1_ONLY)}


def test_an_interpolated_image_is_caught(report_pdf: Path, tmp_path: Path) -> None:
    raw = report_pdf.read_bytes()
    assert b"/Interpolate false" in raw, "the plots are written with Interpolate false"
    broken = tmp_path / "interpolated.pdf"
    broken.write_bytes(raw.replace(b"/Interpolate false", b"/Interpolate true ", 1))  # offsets kept
    assert "2.3.2" in preflight(broken) - set(PDFA1_ONLY)
