"""The CI kit (ci/): the GitLab job and the Jenkins pipeline parse, retry on exit 3 only, publish
the JUnit and the run folder, and their commands run a plan as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml
from hilcli import ROOT

GITLAB = ROOT / "ci" / "gitlab-ci.yml"
JENKINS = ROOT / "ci" / "Jenkinsfile"


def _shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One CI script line under bash from the repository root, `.venv/bin/hil` being this hil."""
    venv = ROOT / ".venv" / "bin"
    if not (venv / "hil").exists():  # a checkout without scripts/setup: the running interpreter's
        script = script.replace(".venv/bin/hil", f"{sys.executable} -m hil")
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _gitlab_job() -> tuple[dict[str, Any], dict[str, Any]]:
    data = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    return data, data["hil-bench"]


def test_gitlab_job_retries_on_bench_errors_only_and_publishes_the_run() -> None:
    data, job = _gitlab_job()
    assert data["stages"] == ["test"] and job["stage"] == "test"
    assert job["retry"] == {"max": 2, "exit_codes": [3]}
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "$HIL_OUT/junit.xml"
    assert "$HIL_OUT/" in job["artifacts"]["paths"]


def test_gitlab_job_script_runs_a_plan_and_writes_the_junit(tmp_path: Path) -> None:
    data, job = _gitlab_job()
    assert job["script"][0] == "scripts/setup"  # done already for this test run
    env = {k: str(v) for k, v in data["variables"].items()}
    env |= {
        "HIL_OUT": str(tmp_path / "hil-run"),
        "HIL_ARGS": "--requirement CV-OVP --reports none -- -k test_threshold[CV-OVP]",
        "GITLAB_USER_LOGIN": "ci-user",
    }
    result = _shell("\n".join(job["script"][1:]), env)
    assert result.returncode == 0, result.stdout + result.stderr
    suite = ET.parse(tmp_path / "hil-run" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "1"
    assert "[1/1] testplans/bms12100/test_thresholds.py::test_threshold[CV-OVP]  PASS" in result.stdout


def _balanced(text: str) -> bool:
    """Braces and parentheses balanced outside strings and comments."""
    text = re.sub(r"//[^\n]*", "", re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", "''", text))
    stack: list[str] = []
    pairs = {")": "(", "}": "{"}
    for ch in text:
        if ch in "({":
            stack.append(ch)
        elif ch in ")}" and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack


def test_jenkinsfile_is_a_declarative_pipeline_retrying_on_exit_3_only() -> None:
    text = JENKINS.read_text(encoding="utf-8")
    assert _balanced(text)
    assert re.search(r"^pipeline \{", text, re.M)
    for block in ("agent", "stages", "stage('Run')", "steps", "post", "always"):
        assert block in text
    assert "returnStatus: true" in text and "while (code == 3 &&" in text
    assert "junit allowEmptyResults: true, testResults: 'hil-run/junit.xml'" in text
    assert "archiveArtifacts artifacts: 'hil-run/**'" in text


def test_jenkinsfile_run_command_is_the_hil_command_line(tmp_path: Path) -> None:
    text = JENKINS.read_text(encoding="utf-8")
    match = re.search(r"script: '(rm -rf \"\$HIL_OUT\" && [^']+)'", text)
    assert match is not None
    env = {
        "HIL_OUT": str(tmp_path / "hil-run"),
        "HIL_STATION": "stations/sim-bms12100.yaml",
        "HIL_PROFILE": "eol",
        "HIL_ARGS": "--list --requirement CV-OVP",
    }
    result = _shell(match[1], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "CV-OVP"


def test_jenkinsfile_leaves_the_bench_probe_to_the_retried_run() -> None:
    """`hil station check` exits 3 for a bench not ready; outside the retry loop it would end the
    build, so the setup stage checks the file only and `hil run` probes the bench, retried."""
    text = JENKINS.read_text(encoding="utf-8")
    setup = text.split("stage('Setup')", 1)[1].split("stage('Run')", 1)[0]
    assert "hil station check --no-probe" in setup
