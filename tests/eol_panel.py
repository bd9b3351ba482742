"""Drive `hil eol` as an operator does: the panel served by the real command, a real headless Chromium."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-bms12100.yaml"
SIM_SERIAL = "12100A0000001"  # what the simulated 12100 answers


def write_line(folder: Path, **fields: Any) -> Path:
    """A one-socket line on the simulated 12100 (CV-OVP only, to keep a unit short)."""
    socket = {"name": "S1", "station": str(STATION), **fields.pop("socket", {})}
    data = {
        "name": "test-line",
        "dut": "bms12100",
        "lot": "L42",
        "max_retests": 1,
        "cycle_time_s": 30,
        "out": str(folder / "runs"),
        "pytest_args": ["--hil-requirement", "CV-OVP"],
        "sockets": [socket],
        **fields,
    }
    path = folder / "line.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def browser() -> WebDriver:
    """Debian's chromium, headless, through its chromedriver."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromium-driver are installed by scripts/setup-test-system"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


@contextmanager
def panel(line: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`hil eol --line LINE --port 0`; its URL; ended with Ctrl-C (SIGINT) like an operator ends it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hil", "eol", "--line", str(line), "--port", "0"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("panel: http://127.0.0.1:"), first + proc.stdout.read()
        yield first.split(" ", 1)[1].strip(), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


class Operator:
    """What an operator does on the panel, with waits sized for the simulated unit."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.d = driver
        self.d.get(url)

    def _wait(self, timeout: float) -> WebDriverWait[WebDriver]:
        # the panel redraws a card when its state changes: an element found a moment ago may be gone
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(self.d, timeout, poll_frequency=0.2, ignored_exceptions=ignored)

    def el(self, ident: str, timeout: float = 20) -> Any:
        return self._wait(timeout).until(lambda d: d.find_element(By.ID, ident))

    def text(self, ident: str, timeout: float = 20) -> str:
        return str(self._wait(timeout).until(lambda d: d.find_element(By.ID, ident).text or False))

    def says(self, ident: str, words: str, timeout: float = 20) -> str:
        """The element's text once it contains `words` (fails with what it said instead)."""
        try:
            return str(
                self._wait(timeout).until(lambda d: words in (t := d.find_element(By.ID, ident).text) and t)
            )
        except TimeoutException:
            raise AssertionError(f"#{ident} never said {words!r}; it says {self.text_now(ident)!r}") from None

    def text_now(self, ident: str) -> str:
        try:
            return str(self.d.find_element(By.ID, ident).text)
        except (NoSuchElementException, StaleElementReferenceException):
            return "(no such element)"

    def sign_in(self, name: str) -> None:
        self.el("operator-name").send_keys(name)
        self.el("signin").click()
        WebDriverWait(self.d, 10).until(lambda d: name in d.find_element(By.ID, "who").text)

    def scan(self, serial: str, socket: str = "S1") -> None:
        box = self.el(f"serial-{socket}")
        box.clear()
        box.send_keys(serial + Keys.ENTER)  # a barcode scanner ends with Enter

    def start(self, socket: str = "S1") -> None:
        self.el(f"start-{socket}").click()

    def verdict(self, socket: str = "S1", timeout: float = 240) -> str:
        return self.text(f"verdict-{socket}", timeout)


def record_entries(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "record.jsonl").read_text().splitlines()]


def run_folders(line_dir: Path) -> list[Path]:
    runs = line_dir / "runs"
    return sorted(p for p in runs.iterdir() if p.is_dir()) if runs.exists() else []
