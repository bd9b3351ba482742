"""The D1000 Gen2's documented codes: states, commands, BMSInfo bits, contactor sets per state.

Numbers are the vendor's (references/prohelion-d1000-gen2/Messages_and_Signals.md): a state's value
is its bit in BMSInfo (BMSStateINIT = bit 0 ... BMSStateSAFE = bit 11), an `InfoBit` is the bit of
one BMSInfo flag, a `BmsCommand` the value of BMSCommands.BMSCommand. `.signal` gives the DBC name.
Contactor sets per state are the tables of State_Machine.md.
"""

from __future__ import annotations

from enum import Enum, IntEnum

from hil.duts.prohelion_d1000_gen2.config import ChargingMethod

CONTACTORS = (1, 2, 3, 4, 5)
LOW_SIDE_SWITCHES = (1, 2, 3)
#: ContactorInfo ContactorTarget_n / ContactorState_n values. OUR READING: the DBC gives the
#: 4-bit fields no value table; 0 open and 1 closed is the obvious one.
CONTACTOR_OPEN = 0
CONTACTOR_CLOSED = 1


class BmsState(IntEnum):
    """A state of the BMS state machine; the value is its BMSState bit in BMSInfo."""

    INITIALISE = 0
    CALIBRATE = 1
    IDLE = 2
    CONNECT = 3
    PRECHARGE = 4
    ENABLED = 5
    CHARGE_INIT = 6
    CHARGE_CONNECT = 7
    CHARGE_ENABLED = 8
    CHARGE_STOPPING = 9
    DISCONNECT = 10
    SAFE = 11

    @property
    def signal(self) -> str:
        """The BMSInfo signal of this state (the DBC spells INITIALISE as INIT)."""
        return "BMSStateINIT" if self is BmsState.INITIALISE else f"BMSState{self.name}"


class BmsCommand(IntEnum):
    """BMSCommands.BMSCommand values."""

    NONE = 0
    IDLE = 1
    CONNECT = 2
    ENABLE = 4
    CHARGE_INIT = 8
    CHARGE_ENABLE = 16

    @classmethod
    def coerce(cls, value: int) -> BmsCommand:
        """An undocumented BMSCommand value is read as NONE (no valid command)."""
        try:
            return cls(value)
        except ValueError:
            return cls.NONE


class CommandType(IntEnum):
    """BMSCommands.BMSCommandType values: only a Command Update carries a command."""

    NONE = 0
    UPDATE = 1


class InfoBit(IntEnum):
    """A BMSInfo flag other than the state bits; the value is its bit position."""

    PRECHARGE_FAIL_TIMEOUT = 16
    PRECHARGE_FAIL_OVERCURRENTMAX = 17
    PRECHARGE_FAIL_OVERCURRENTPCHG = 18
    PRECHARGE_FAIL_NEGCURRENT = 19
    PRECHARGE_FAIL_STABLECURRENT = 20
    PRECHARGE_FAIL_OVERVOLTAGE = 21
    PRECHARGE_FAIL_STABLEVOLTAGE = 22
    CONTACTOR_FAULT_1 = 24
    CONTACTOR_FAULT_2 = 25
    CONTACTOR_FAULT_3 = 26
    CONTACTOR_FAULT_4 = 27
    CONTACTOR_FAULT_5 = 28
    REASON_SELFTESTFAIL = 32
    REASON_WATCHDOGFAIL = 33
    REASON_CONTACTORFAIL = 34
    REASON_HVIL = 35
    REASON_BATTVOLTAGE = 36
    REASON_PACKVOLTAGE = 37
    REASON_LOADVOLTAGE = 38
    REASON_CHARGERVOLTAGE = 39
    REASON_OVERCURRENT = 40
    REASON_NODECOUNT = 41
    REASON_CELLCOUNT = 42
    REASON_TEMPCOUNT = 43
    REASON_BJU = 44
    REASON_IO = 45
    REASON_CONTROLTIMEOUT = 46
    REASON_INTERNALCOMMS = 47
    REASON_OVERVOLT = 48
    REASON_UNDERVOLT = 49
    REASON_OVERTEMP = 50
    REASON_UNDERTEMP = 51
    REASON_PRESSURE = 52
    REASON_HUMIDITY = 53
    REASON_VOC = 54
    REASON_NOX = 55
    REASON_PRECHARGE = 56

    @property
    def signal(self) -> str:
        """The BMSInfo signal name, e.g. BMSReasonHVIL, BMSContactorFaultCONTACTOR3."""
        name = self.name
        if name.startswith("PRECHARGE_FAIL_"):
            return "BMSPrechargeFail" + name.removeprefix("PRECHARGE_FAIL_")
        if name.startswith("CONTACTOR_FAULT_"):
            return "BMSContactorFaultCONTACTOR" + name.removeprefix("CONTACTOR_FAULT_")
        return "BMSReason" + name.removeprefix("REASON_")


def contactor_fault_bit(contactor: int) -> InfoBit:
    """BMSContactorFaultCONTACTORn of contactor 1..5 (bits 24-28)."""
    if contactor not in CONTACTORS:
        raise ValueError(f"contactor must be 1..5, got {contactor}")
    return InfoBit(InfoBit.CONTACTOR_FAULT_1 + contactor - 1)


#: The start-up requirements of INITIALISE -> CALIBRATE (cell count, thermistor count, BJU present,
#: self-test passed) plus the node count, which the cell count presupposes.
STARTUP_CHECK_BITS = frozenset(
    {
        InfoBit.REASON_NODECOUNT,
        InfoBit.REASON_CELLCOUNT,
        InfoBit.REASON_TEMPCOUNT,
        InfoBit.REASON_BJU,
        InfoBit.REASON_SELFTESTFAIL,
    }
)


class HvilLoop(Enum):
    """The HVIL loop as the plant wires it (HVILInfo flags: OpenLoop, SCG, SCB; NOK for any)."""

    CLOSED = "closed"
    OPEN = "open"
    SHORT_TO_GROUND = "short_to_ground"
    SHORT_TO_BATTERY = "short_to_battery"


class LowSideStatus(Enum):
    """What a low-side switch's sense line says about its output (no DBC signal carries it)."""

    OK = "ok"
    OPEN_LOAD = "open_load"  # off, but the sense line is low: no load to the supply
    SHORT = "short"  # on, but the sense line stays high: shorted to the supply


#: Controller-commanded states: the control timeout runs and any fault leads to DISCONNECT.
COMMANDED_STATES = frozenset(
    {
        BmsState.IDLE,
        BmsState.CONNECT,
        BmsState.PRECHARGE,
        BmsState.ENABLED,
        BmsState.CHARGE_INIT,
        BmsState.CHARGE_CONNECT,
        BmsState.CHARGE_ENABLED,
        BmsState.CHARGE_STOPPING,
    }
)

_ENGAGED: dict[BmsState, frozenset[int]] = {
    BmsState.INITIALISE: frozenset(),
    BmsState.CALIBRATE: frozenset(),
    BmsState.IDLE: frozenset(),
    BmsState.CONNECT: frozenset({1}),
    BmsState.PRECHARGE: frozenset({1, 2}),
    BmsState.ENABLED: frozenset({1, 3}),
    BmsState.SAFE: frozenset(),
    BmsState.CHARGE_INIT: frozenset(),
    BmsState.CHARGE_CONNECT: frozenset({4}),
    BmsState.CHARGE_ENABLED: frozenset({4, 5}),
}


def engaged_contactors(state: BmsState, method: ChargingMethod) -> frozenset[int] | None:
    """Contactors closed in `state` (State_Machine.md); None for DISCONNECT ("unchanged").

    CHARGE_STOPPING differs by charging method: 4 only for EVSE, 4 and 5 otherwise (External).
    """
    if state is BmsState.DISCONNECT:
        return None
    if state is BmsState.CHARGE_STOPPING:
        return frozenset({4}) if method is ChargingMethod.EVSE else frozenset({4, 5})
    return _ENGAGED[state]


def balancing_allowed(state: BmsState) -> bool:
    """Balancing is enabled in ENABLED only (State_Machine.md tables)."""
    return state is BmsState.ENABLED
