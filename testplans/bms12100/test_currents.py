"""Short circuit and the lock counters (seed §6.1, §7.5): SCP, SCP-LOCK, ID-TLOCK.

The current thresholds themselves (IC-A, IC-OCP, ID-A, ID-OCP, ID-TOCP) are served by the
generic threshold, delay and release tests; this module covers what has no threshold value.
"""

from __future__ import annotations

import pytest

from hil.duts.bms12100.bench import PRECHARGE_WAIT_S, PROBE_CURRENT_A, Bms12100Bench
from hil.measure import equals, within
from hil.uncertainty import station_uncertainty

SHORT_HOLD_S = 0.05
TRANSIENT_PULSE_A = 230.0
TRANSIENT_PULSE_S = 0.3
AUTO_RELEASE_S = 60.0


def _short(bench: Bms12100Bench) -> bool:
    """One output short circuit through the load's short mode; True if SCP responded."""
    load = bench.station.load
    load.set_short(True)
    bench.clock.sleep(SHORT_HOLD_S)
    load.set_short(False)
    load.set_input(False)
    return bench.wait_state("SCP", True, 1.0)


def _transient(bench: Bms12100Bench) -> bool:
    bench.station.load.pulse(TRANSIENT_PULSE_A, TRANSIENT_PULSE_S)
    bench.clock.sleep(TRANSIENT_PULSE_S + 0.2)
    bench.station.load.set_input(False)
    return bench.wait_state("ID-TOCP", True, 1.0)


def _connect_charger(bench: Bms12100Bench) -> None:
    bench.charge(PROBE_CURRENT_A)
    bench.clock.sleep(1.0)
    bench.idle()
    bench.clock.sleep(PRECHARGE_WAIT_S)  # the released discharge path precharges first


@pytest.mark.requirement("SCP")
def test_short_circuit(bench: Bms12100Bench, profile: str, check) -> None:
    """A short trips SCP within its firmware delay and cuts the output; released by a charge or after 60 s.

    EOL profile: the comparator and the MOSFET (the trip) and the release by a charge; the 60 s
    automatic release is a firmware timer (design, proven by read-back; audit and full run it)."""
    load = bench.station.load
    load.set_short(True)
    bench.clock.sleep(0.01)
    current = abs(bench.load_current())
    load.set_short(False)
    load.set_input(False)
    check(
        within(
            "SCP",
            "load current 10 ms into the short",
            current,
            "A",
            bench.clock.now(),
            low=0.0,
            high=1.0,
            uncertainty=station_uncertainty(bench.station, load.name, "current", current, unit="A"),
            notes="short-circuit current and delay are fixed in firmware (not in the seed)",
        )
    )
    check(equals("SCP", "SCP reported", bench.wait_state("SCP", True, 1.0), True, bench.clock.now()))
    _connect_charger(bench)
    check(equals("SCP", "released by a charge", bench.wait_state("SCP", False, 2.0), True, bench.clock.now()))
    if profile == "eol":
        return
    _short(bench)
    bench.clock.sleep(AUTO_RELEASE_S - 10.0)
    check(equals("SCP", "still protected 50 s after the short", bench.active("SCP"), True, bench.clock.now()))
    check(
        equals(
            "SCP",
            "released automatically after 60 s",
            bench.wait_state("SCP", False, 15.0),
            True,
            bench.clock.now(),
        )
    )


@pytest.mark.type_test
@pytest.mark.requirement("SCP-LOCK")
def test_short_circuit_lock(bench: Bms12100Bench, check) -> None:
    """Five consecutive shorts lock the output; only connecting a charger unlocks it."""
    bench.power_cycle()  # the lock counter starts from zero at power-on
    bench.clock.sleep(PRECHARGE_WAIT_S)
    for n in range(1, 6):
        _short(bench)
        locked = bench.active("SCP-LOCK")
        if n < 5:
            shorts = {"stimulus": {"shorts applied": n}}  # the report's timeline
            check(
                equals(
                    "SCP-LOCK",
                    f"not locked after {n} short(s)",
                    locked,
                    False,
                    bench.clock.now(),
                    data=shorts,
                )
            )
            bench.clock.sleep(AUTO_RELEASE_S + PRECHARGE_WAIT_S)  # automatic release; the next short counts
    check(
        equals(
            "SCP-LOCK",
            "locked after 5 consecutive shorts",
            bench.wait_state("SCP-LOCK", True, 2.0),
            True,
            bench.clock.now(),
            data={"stimulus": {"shorts applied": 5}},
        )
    )
    bench.clock.sleep(AUTO_RELEASE_S + 5.0)
    check(
        equals(
            "SCP-LOCK",
            "still locked after 65 s without a charger",
            bench.active("SCP-LOCK"),
            True,
            bench.clock.now(),
        )
    )
    _connect_charger(bench)
    check(
        equals(
            "SCP-LOCK",
            "unlocked by connecting a charger",
            bench.wait_state("SCP-LOCK", False, 2.0),
            True,
            bench.clock.now(),
            data={"stimulus": {"charger": "connected"}},
        )
    )


@pytest.mark.type_test
@pytest.mark.requirement("ID-TLOCK")
def test_transient_lock(bench: Bms12100Bench, spec_data, check) -> None:
    """Disabled by default: 5 transients do not lock; switched on, they do, and a charger unlocks it."""
    req = spec_data.get("ID-TLOCK")
    bench.power_cycle()  # the lock counter starts from zero at power-on
    bench.clock.sleep(PRECHARGE_WAIT_S)
    for _ in range(5):
        _transient(bench)
        bench.clock.sleep(AUTO_RELEASE_S + PRECHARGE_WAIT_S)
    check(
        equals(
            "ID-TLOCK",
            "no lock while disabled (default)",
            bench.active("ID-TLOCK"),
            False,
            bench.clock.now(),
            data={"stimulus": {"transients applied": 5, "lock": "disabled"}},
        )
    )
    _connect_charger(bench)
    bench.dut.write_setting("transient_overcurrent_protection.lock_enabled", True)
    try:
        for n in range(1, 6):
            _transient(bench)
            if n < 5:
                check(
                    equals(
                        "ID-TLOCK",
                        f"not locked after {n} transient(s)",
                        bench.active("ID-TLOCK"),
                        False,
                        bench.clock.now(),
                        data={"stimulus": {"transients applied": n, "lock": "enabled"}},
                    )
                )
                bench.clock.sleep(AUTO_RELEASE_S + PRECHARGE_WAIT_S)
        check(
            equals(
                "ID-TLOCK",
                "locked after 5 consecutive transients",
                bench.wait_state("ID-TLOCK", True, 2.0),
                True,
                bench.clock.now(),
                data={"stimulus": {"transients applied": 5}},
            )
        )
        bench.clock.sleep(AUTO_RELEASE_S + 5.0)
        check(
            equals(
                "ID-TLOCK",
                "still locked without a charger",
                bench.active("ID-TLOCK"),
                True,
                bench.clock.now(),
            )
        )
        _connect_charger(bench)
        check(
            equals(
                "ID-TLOCK",
                "unlocked by connecting a charger",
                bench.wait_state("ID-TLOCK", False, 2.0),
                True,
                bench.clock.now(),
            )
        )
    finally:
        bench.dut.write_setting("transient_overcurrent_protection.lock_enabled", bool(req.default_enabled))
