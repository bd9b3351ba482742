"""Identity of what a report covers: the DUT's serial number and the environment of the test.

ISO/IEC 17025 §7.8.2.1 e/f: the item tested is identified unambiguously, and the conditions of the
test are stated. A serial number that is empty, all zeros or not of the family's form identifies
nothing: the run stops before any stimulus. Environmental conditions are recorded as measured by
the station (a climatic chamber's readback), else as the operator states them, else "not recorded".
"""

from __future__ import annotations

import re
from typing import Any

NOT_RECORDED = "not recorded"
#: hil.family.DutFamily.serial_pattern's default
DEFAULT_SERIAL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._/-]{2,63}"
_TEMPERATURE = re.compile(r"(-?\d+(?:\.\d+)?)\s*°?\s*C\b")
_HUMIDITY = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*RH\b", re.IGNORECASE)


def serial_problem(serial: object, pattern: str) -> str | None:
    """Why `serial` does not identify a unit of a family whose serials match `pattern`; None if it does."""
    text = "" if serial is None else str(serial).strip()
    if not text:
        return "it is empty"
    if set(text) <= {"0"}:
        return f"it is zero ({text!r}): the unit's serial number was never programmed"
    if re.fullmatch(pattern, text) is None:
        return f"{text!r} does not match the family's serial pattern {pattern}"
    return None


def operator_environment(text: str) -> dict[str, Any]:
    """`--environment "23 °C, 45 %RH"` as the header's `environment` (the numbers found, and the text)."""
    env: dict[str, Any] = {"source": "stated by the operator (--environment)", "text": text.strip()}
    if found := _TEMPERATURE.search(text):
        env["temperature_c"] = float(found[1])
    if found := _HUMIDITY.search(text):
        env["humidity_pct"] = float(found[1])
    return env


def describe_environment(env: dict[str, Any] | None) -> str:
    """One line for the report: the values, and where they come from."""
    if not env:
        return f"{NOT_RECORDED} (no ambient sensor on the station and none stated with --environment)"
    parts = []
    if isinstance(env.get("temperature_c"), int | float):
        parts.append(f"{env['temperature_c']:g} °C")
    if isinstance(env.get("humidity_pct"), int | float):
        parts.append(f"{env['humidity_pct']:g} %RH")
    values = ", ".join(parts) or str(env.get("text") or NOT_RECORDED)
    source = str(env.get("source") or "")
    return f"{values} ({source})" if source else values
