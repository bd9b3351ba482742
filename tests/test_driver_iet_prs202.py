"""The PRS-202 bank (temperature emulator) against the simulated bank, through real PyVISA sockets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from pyvisa.resources import MessageBasedResource

from hil.errors import InstrumentError, LimitError
from hil.instruments.drivers.iet_prs202 import IetPrs202Bank, decode, encode
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport
from hil.sim.instruments.iet_prs202 import SimIetPrs202Bank

CHANNELS = {"T_CELL1": "5", "T_CELL2": "6", "T_AMB": "7", "T_MOS": "8"}
SETUP = ["++mode 1", "++auto 0"]
TOLERANCE = 0.0005


@pytest.fixture
def sim() -> SimIetPrs202Bank:
    return SimIetPrs202Bank("ntc", CHANNELS, seed=11)


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> IetPrs202Bank:
    limits = Limits(resistance_min=250.0, resistance_max=250_000.0)
    info = InstrumentInfo(role="ntc", model="PRS-202", resource=resource, channels=CHANNELS, limits=limits)
    return IetPrs202Bank(info, wire)


def test_resistance_string() -> None:
    assert encode(10_000.0) == "0000100000"
    assert encode(600_567.9) == "0006005679"
    assert encode(3456.78) == "0000034568"
    assert decode("0000100000") == 10_000.0
    assert decode("0010000000") == math.inf
    assert decode("0020000000") == 0.0
    with pytest.raises(ValueError):
        encode(1_000_000.0)


def test_plain_pyvisa_idn(visa: MessageBasedResource) -> None:
    assert visa.query("++ver").startswith("Prologix GPIB-ETHERNET")
    visa.write("++addr 6")
    visa.write("*IDN?")
    assert visa.query("++read eoi") == "IET Labs,PRS-202-A-7-100m-0-1,D6-0211206,D6"
    visa.write("++auto 1")
    assert visa.query("*IDN?").startswith("IET Labs,PRS-202-A-7-100m-0-1,")


def test_set_resistance(driver: IetPrs202Bank, sim: SimIetPrs202Bank, wire: RecordingTransport) -> None:
    driver.set_resistance("T_CELL1", 10_000.0)
    actual = sim.resistance(5)
    assert actual is not None
    assert abs(actual - 10_000.0) <= TOLERANCE * 10_000.0
    assert sim.resistance(6) is None  # the others still at their power-on (open) state
    assert wire.sent == [*SETUP, "++addr 5", "SOUR:DATA 0000100000", "*ESR?", "++read eoi"]


def test_get_resistance_at_resolution(driver: IetPrs202Bank, wire: RecordingTransport) -> None:
    driver.set_resistance("T_MOS", 3456.78)
    wire.sent.clear()
    assert driver.get_resistance("T_MOS") == pytest.approx(3456.8)
    assert wire.sent == ["++addr 8", "SOUR:DATA?", "++read eoi"]


def test_set_open(driver: IetPrs202Bank, sim: SimIetPrs202Bank, wire: RecordingTransport) -> None:
    driver.set_resistance("T_AMB", 5000.0)
    driver.set_open("T_AMB")
    assert sim.resistance(7) is None
    assert driver.get_resistance("T_AMB") == math.inf
    assert "SOUR:DATA 0010000000" in wire.sent
    assert sim.outputs()["7"] == "open"


def test_neutral_is_10k_everywhere(driver: IetPrs202Bank, sim: SimIetPrs202Bank) -> None:
    driver.neutral()
    for address in (5, 6, 7, 8):
        actual = sim.resistance(address)
        assert actual is not None
        assert abs(actual - 10_000.0) <= TOLERANCE * 10_000.0


def test_temperature_through_ntc_model(driver: IetPrs202Bank, sim: SimIetPrs202Bank) -> None:
    def ntc(celsius: float) -> float:
        return 10_000.0 * math.exp(3435.0 * (1 / (celsius + 273.15) - 1 / 298.15))

    driver.set_temperature("T_CELL2", -20.0, ntc)
    actual = sim.resistance(6)
    assert actual is not None
    assert abs(actual - ntc(-20.0)) <= TOLERANCE * ntc(-20.0) + 0.05


def test_limits_refused_before_sending(driver: IetPrs202Bank, wire: RecordingTransport) -> None:
    with pytest.raises(LimitError):
        driver.set_resistance("T_CELL1", 100.0)
    with pytest.raises(LimitError):
        driver.set_resistance("T_CELL1", 300_000.0)
    assert wire.sent == []


def test_beyond_the_decades_refused_before_sending(resource: str, wire: RecordingTransport) -> None:
    info = InstrumentInfo(role="ntc", model="PRS-202", resource=resource, channels=CHANNELS)
    unlimited = IetPrs202Bank(info, wire)
    with pytest.raises(LimitError):
        unlimited.set_resistance("T_CELL1", 2_000_000.0)
    assert wire.sent == []


def test_malformed_value_raises_from_event_status(driver: IetPrs202Bank, sim: SimIetPrs202Bank) -> None:
    driver.set_resistance("T_CELL1", 10_000.0)
    with pytest.raises(InstrumentError) as err:
        driver.configure_unit("T_CELL1", "SOUR:DATA 12AB")
    assert err.value.instrument == "ntc"
    assert "SOUR:DATA 12AB" in err.value.command
    assert "execution error" in err.value.detail
    actual = sim.resistance(5)
    assert actual is not None
    assert abs(actual - 10_000.0) <= TOLERANCE * 10_000.0


def test_wrong_command_raises_from_event_status(driver: IetPrs202Bank) -> None:
    with pytest.raises(InstrumentError) as err:
        driver.configure_unit("T_MOS", "SOUR:DATX 0000100000")
    assert "command error" in err.value.detail
    assert "SOUR:DATX" in str(err.value)
    driver.configure_unit("T_MOS", "SOUR:DATA 0000100000")  # *ESR? cleared the bits


def test_undriven_decades_ignored_and_short(visa: MessageBasedResource, sim: SimIetPrs202Bank) -> None:
    visa.write("++addr 5")
    visa.write("SOUR:DATA 9900100000")  # the two leading digits address decades this unit lacks
    assert visa.query("++addr") == "5"  # a round trip: the write above has been handled
    actual = sim.resistance(5)
    assert actual is not None
    assert abs(actual - 10_000.0) <= TOLERANCE * 10_000.0
    visa.write("SOUR:DATA 0020000000")
    assert visa.query("++addr") == "5"
    assert sim.resistance(5) == 0.0


def test_idn_of_each_unit(driver: IetPrs202Bank) -> None:
    assert driver.idn_of("T_AMB").split(",")[2] == "D6-0211207"


def test_reset_returns_units_to_open(driver: IetPrs202Bank, sim: SimIetPrs202Bank) -> None:
    driver.neutral()
    driver.reset()
    assert all(sim.resistance(a) is None for a in (5, 6, 7, 8))


def test_safe_state_is_neutral(driver: IetPrs202Bank, sim: SimIetPrs202Bank) -> None:
    driver.safe()
    assert all(sim.resistance(a) is not None for a in (5, 6, 7, 8))


def test_output_state_is_each_units_resistance(driver: IetPrs202Bank, wire: RecordingTransport) -> None:
    driver.set_resistance("T_CELL1", 3_000.0)
    driver.set_open("T_AMB")
    state = driver.output_state()
    assert state["T_CELL1"] == 3_000.0 and state["T_AMB"] == "open"
    assert driver.state_is_safe(state) is False  # a hot NTC is no safe state
    driver.safe()
    state = driver.output_state()
    assert set(state.values()) == {10_000.0}
    assert driver.state_is_safe(state) is True


def test_reconnect_sets_the_controller_up_again(driver: IetPrs202Bank, wire: RecordingTransport) -> None:
    driver.get_resistance("T_MOS")
    wire.reconnect()
    wire.sent.clear()
    driver.get_resistance("T_MOS")
    # a new connection: controller mode and address again before the unit is talked to
    assert wire.sent[:2] == SETUP
    assert wire.sent[2:] == ["++addr 8", "++addr 8", "SOUR:DATA?", "++read eoi"]


class _Exchanges(RecordingTransport):
    """Keeps each message the driver hands over as one unit: a write, a query or a pipeline (which a
    raw socket sends in one write)."""

    def __init__(self, inner: RecordingTransport) -> None:
        super().__init__(inner)
        self.units: list[tuple[str, ...]] = []

    def write(self, message: str) -> None:
        self.units.append(("write", message))
        super().write(message)

    def query(self, message: str) -> str:
        self.units.append(("query", message))
        return super().query(message)

    def pipeline(self, commands: Sequence[str], query: str) -> str:
        self.units.append(("pipeline", *commands, query))
        return super().pipeline(commands, query)


def test_a_setting_addresses_its_unit_in_the_same_message(
    resource: str, wire: RecordingTransport, sim: SimIetPrs202Bank
) -> None:
    """`++addr`, the setting, *ESR? and the controller's read leave as one exchange (one write on the
    controller's socket); the unit is still the one addressed after a reconnect."""
    limits = Limits(resistance_min=250.0, resistance_max=250_000.0)
    info = InstrumentInfo(role="ntc", model="PRS-202", resource=resource, channels=CHANNELS, limits=limits)
    exchanges = _Exchanges(wire)
    bank = IetPrs202Bank(info, exchanges)
    bank.set_resistance("T_AMB", 4_700.0)
    bank.neutral()
    assert exchanges.units[:2] == [("write", "++mode 1"), ("write", "++auto 0")]
    settings = exchanges.units[2:]
    assert settings[0] == ("pipeline", "++addr 7", "SOUR:DATA 0000047000", "*ESR?", "++read eoi")
    assert [unit[:2] for unit in settings[1:]] == [("pipeline", f"++addr {a}") for a in "5678"]
    for address in "5678":
        actual = sim.resistance(int(address))
        assert actual is not None and abs(actual - 10_000.0) <= TOLERANCE * 10_000.0
    exchanges.units.clear()
    wire.reconnect()
    bank.get_resistance("T_CELL1")
    assert exchanges.units[:3] == [("write", "++mode 1"), ("write", "++auto 0"), ("write", "++addr 8")]
