"""The SCPI engine behind every simulated instrument: headers, parameters, messages, error queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from hil.sim.instruments.keysight_n8900 import SimKeysightN8900
from hil.sim.scpi import Call, ScpiEngine, ScpiError, parse_channel_list

IDN = "ACME Instruments,X-100,SN0042,1.2.3"
NO_ERROR = '0,"No error"'


@dataclass
class Device:
    """An engine with a small command tree; handlers log what they were called with."""

    engine: ScpiEngine = field(default_factory=lambda: ScpiEngine(idn=IDN))
    log: list[tuple[str, Any]] = field(default_factory=list)
    voltage: float = 0.0
    current: float = 0.0

    def __post_init__(self) -> None:
        e = self.engine
        e.add("[SOURce#]:VOLTage[:LEVel][:IMMediate]", self._set_voltage)
        e.add("[SOURce#]:VOLTage[:LEVel][:IMMediate]?", lambda c: f"{self.voltage:g}")
        e.add("[SOURce#]:CURRent[:LEVel]", self._set_current)
        e.add("[SOURce#]:CURRent[:LEVel]?", lambda c: f"{self.current:g}")
        e.add("[SOURce#]:VOLTage:PROTection[:LEVel]", lambda c: self.log.append(("ovp", c.number(0))))
        e.add("OUTPut#[:STATe]", lambda c: self.log.append(("output", (c.suffixes, c.boolean(0)))))
        e.add("MEASure[:SCALar]:VOLTage[:DC]?", lambda c: "meas-volt")
        e.add("MEASure[:SCALar]:CURRent[:DC]?", lambda c: "meas-curr")
        e.add("TRIGger:DELay", self._set_delay)
        e.add(
            "SENSe:FUNCtion", lambda c: self.log.append(("func", c.choice(0, {"VOLT": "V", "VOLTAGE": "V"})))
        )
        e.add("CHANnel:STATe", self._channels)

    def _set_voltage(self, call: Call) -> None:
        call.require(1)
        self.voltage = call.number(0, unit="V", minimum=0.0, maximum=20.0, default=1.0)
        self.log.append(("voltage", (call.suffixes, self.voltage)))

    def _set_current(self, call: Call) -> None:
        call.require(1)
        self.current = call.number(0, unit="A", minimum=0.0, maximum=5.0, default=0.1)
        self.log.append(("current", (call.suffixes, self.current)))

    def _set_delay(self, call: Call) -> None:
        call.require(1)
        self.log.append(("delay", call.number(0, unit="S", minimum=0.0, maximum=3600.0)))

    def _channels(self, call: Call) -> None:
        self.log.append(("channels", (call.boolean(0), call.channels)))

    def run(self, line: str) -> str | None:
        return self.engine.execute(line)

    def error(self) -> str:
        answer = self.engine.execute("SYST:ERR?")
        assert answer is not None
        return answer

    def errors(self) -> list[str]:
        found = []
        while (entry := self.error()) != NO_ERROR:
            found.append(entry)
        return found


@pytest.fixture
def dev() -> Device:
    return Device()


def code(entry: str) -> int:
    return int(entry.split(",", 1)[0])


# --- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "SOUR:VOLT:LEV:IMM 2.5",
        "SOURCE:VOLTAGE:LEVEL:IMMEDIATE 2.5",
        "source:voltage 2.5",
        "SoUr:VoLt 2.5",
        "VOLT 2.5",
        "VOLT:LEV 2.5",
        ":VOLT:IMM 2.5",
        "SOUR:VOLTAGE:IMM 2.5",
    ],
)
def test_short_long_and_optional_forms(dev: Device, line: str) -> None:
    assert dev.run(line) is None
    assert dev.voltage == 2.5
    assert dev.errors() == []


@pytest.mark.parametrize(
    "line", ["SOURC:VOLT 1", "VOL 1", "VOLTAGES 1", "SOUR:VOLT:LEVE 1", "FOO 1", "VOLT:IMM:LEV 1"]
)
def test_partial_or_unknown_headers_are_undefined(dev: Device, line: str) -> None:
    assert dev.run(line) is None
    errors = dev.errors()
    assert [code(e) for e in errors] == [-113]
    assert "Undefined header" in errors[0]
    assert dev.voltage == 0.0


def test_query_and_command_forms_are_separate(dev: Device) -> None:
    dev.run("VOLT 3")
    assert dev.run("VOLT?") == "3"
    assert dev.run("SOUR:VOLT:LEV:IMM?") == "3"
    assert dev.run("SYST:VERS") is None  # only the query exists
    assert [code(e) for e in dev.errors()] == [-113]
    assert dev.run("MEAS:VOLT") is None
    assert [code(e) for e in dev.errors()] == [-113]


def test_numeric_suffixes(dev: Device) -> None:
    dev.run("SOUR2:VOLT 1")
    dev.run("SOURCE3:VOLT 2")
    dev.run("VOLT 3")  # optional node left out: suffix 1
    dev.run("SOUR:VOLT 4")  # node given without a suffix: 1
    dev.run("OUTP4 ON")
    dev.run("OUTPUT OFF")
    assert dev.log == [
        ("voltage", ([2], 1.0)),
        ("voltage", ([3], 2.0)),
        ("voltage", ([1], 3.0)),
        ("voltage", ([1], 4.0)),
        ("output", ([4], True)),
        ("output", ([1], False)),
    ]
    assert dev.errors() == []


# --- parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "volts"),
    [
        ("2", 2.0),
        ("+2.50", 2.5),
        (".5", 0.5),
        ("1e1", 10.0),
        ("1.5E+0", 1.5),
        ("2.5V", 2.5),
        ("2.5 V", 2.5),
        ("2500mV", 2.5),
        ("2500 MV", 2.5),
        ("3000000uV", 3.0),
        ("4000000000nV", 4.0),
        ("0.001kV", 1.0),
    ],
)
def test_numbers_and_units_with_si_prefixes(dev: Device, text: str, volts: float) -> None:
    dev.run(f"VOLT {text}")
    assert dev.errors() == []
    assert dev.voltage == pytest.approx(volts)


def test_milli_and_mega_prefixes_on_amps_and_seconds(dev: Device) -> None:
    dev.run("CURR 250mA")
    dev.run("TRIG:DEL 20ms")
    dev.run("TRIG:DEL 0.000001MAS")  # MA: mega
    dev.run("TRIG:DEL 0.000002MEGS")
    assert dev.errors() == []
    assert dev.current == pytest.approx(0.25)
    assert [v for k, v in dev.log if k == "delay"] == pytest.approx([0.02, 1.0, 2.0])


@pytest.mark.parametrize(("word", "volts"), [("MIN", 0.0), ("MINIMUM", 0.0), ("max", 20.0), ("DEF", 1.0)])
def test_min_max_def(dev: Device, word: str, volts: float) -> None:
    dev.voltage = 7.0
    dev.run(f"VOLT {word}")
    assert dev.errors() == []
    assert dev.voltage == volts


def test_min_without_a_minimum_is_a_data_type_error(dev: Device) -> None:
    dev.run("VOLT:PROT MIN")
    assert [code(e) for e in dev.errors()] == [-104]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("VOLT 20.5", -222),
        ("VOLT -1", -222),
        ("VOLT 21000mV", -222),
        ("VOLT", -109),
        ("VOLT 1,2", -108),
        ("VOLT abc", -104),
        ("VOLT 2A", -224),
        ("VOLT 2QV", -224),
        ("OUTP MAYBE", -224),
        ("SENS:FUNC CURR", -224),
        ("OUTP", -109),
    ],
)
def test_parameter_errors(dev: Device, line: str, error: int) -> None:
    dev.voltage = 1.5
    assert dev.run(line) is None
    assert [code(e) for e in dev.errors()] == [error]
    assert dev.voltage == 1.5  # nothing was applied


def test_out_of_range_entry_names_the_value(dev: Device) -> None:
    dev.run("VOLT 25")
    assert dev.error() == '-222,"Data out of range; VOLT 25"'


def test_character_parameter(dev: Device) -> None:
    dev.run("SENS:FUNC volt")
    dev.run("SENS:FUNC VOLTAGE")
    assert dev.log == [("func", "V"), ("func", "V")]


@pytest.mark.parametrize(
    ("text", "channels"),
    [
        ("(@1)", [1]),
        ("(@1,3)", [1, 3]),
        ("(@1:4)", [1, 2, 3, 4]),
        ("(@1,3:5)", [1, 3, 4, 5]),
        ("(@ 2 , 4:3 )", [2, 4, 3]),
        ("(@101:103,121)", [101, 102, 103, 121]),
    ],
)
def test_channel_lists(text: str, channels: list[int]) -> None:
    assert parse_channel_list(text) == channels


@pytest.mark.parametrize("text", ["(1,2)", "(@)", "(@a)", "@1"])
def test_bad_channel_lists(text: str) -> None:
    with pytest.raises(ScpiError) as info:
        parse_channel_list(text)
    assert info.value.code == -102


def test_channel_list_is_taken_off_the_parameters(dev: Device) -> None:
    dev.run("CHAN:STAT ON,(@1,3:4)")
    dev.run("CHAN:STAT OFF, (@2)")
    assert dev.log == [("channels", (True, [1, 3, 4])), ("channels", (False, [2]))]
    dev.run("CHAN:STAT ON,(@x)")
    assert [code(e) for e in dev.errors()] == [-102]


# --- program messages -----------------------------------------------------------------------


def test_query_answers_are_joined_with_semicolons(dev: Device) -> None:
    assert dev.run("*IDN?") == IDN
    assert dev.run("*IDN?;*OPC?") == f"{IDN};1"
    assert dev.run("VOLT 2;VOLT?;CURR 0.5;CURR?") == "2;0.5"
    assert dev.run("VOLT 3;CURR 1") is None
    assert dev.run("  ") is None
    assert dev.errors() == []


def test_relative_path_after_a_semicolon(dev: Device) -> None:
    # the path is the header minus its last node: after SOUR:VOLT:LEV it is SOUR:VOLT:
    dev.run("SOUR:VOLT:LEV 5;PROT 6")
    assert dev.errors() == []
    assert dev.log[-1] == ("ovp", 6.0)
    assert dev.run("SYST:ERR:COUN?;NEXT?") == f"0;{NO_ERROR}"


def test_leading_colon_returns_to_the_root(dev: Device) -> None:
    assert dev.run("MEAS:VOLT?;:VOLT 4;:VOLT?") == "meas-volt;4"
    assert dev.errors() == []
    dev.run("SYST:ERR:COUN?;:NEXT?")
    assert [code(e) for e in dev.errors()] == [-113]


def test_error_stops_the_rest_of_the_message(dev: Device) -> None:
    assert dev.run("VOLT 2;FOO;VOLT 3;VOLT?") is None
    assert dev.voltage == 2.0
    assert [code(e) for e in dev.errors()] == [-113]
    assert dev.run("VOLT?;VOLT 99;CURR 1;CURR?") == "2"
    assert dev.current == 0.0
    assert [code(e) for e in dev.errors()] == [-222]


def test_quoted_semicolons_do_not_split(dev: Device) -> None:
    seen: list[list[str]] = []
    dev.engine.add("DISPlay:TEXT", lambda c: seen.append(c.args))
    dev.run('DISP:TEXT "a;b, c";VOLT 1')
    assert seen == [['"a;b, c"']]
    assert dev.voltage == 1.0


def test_relative_path_wins_over_a_root_command(dev: Device) -> None:
    dev.current = 1.25
    assert dev.run("MEAS:VOLT?;CURR?") == "meas-volt;meas-curr"


def test_n8900_compound_measurement_query() -> None:
    psu = SimKeysightN8900("charger", {"P": "1"}, seed=1)
    psu.execute("VOLT 12.5")
    answer = psu.execute("MEAS:CURR?;VOLT?")
    assert answer is not None
    assert float(answer.split(";")[1]) != 12.5  # the output is off: nothing near the setting


def test_common_command_keeps_the_path(dev: Device) -> None:
    assert dev.run("SYST:ERR:COUN?;*OPC?;NEXT?") == f"0;1;{NO_ERROR}"


# --- error queue -----------------------------------------------------------------------------


def test_error_queue_is_first_in_first_out(dev: Device) -> None:
    dev.run("FOO")
    dev.run("VOLT 30")
    dev.run("VOLT")
    assert dev.run("SYST:ERR:COUN?") == "3"
    assert dev.run("*STB?") == "4"  # error/event queue bit
    entries = dev.errors()
    assert [code(e) for e in entries] == [-113, -222, -109]
    assert entries[0] == '-113,"Undefined header; FOO"'
    assert entries[2] == '-109,"Missing parameter; VOLT"'
    assert dev.run("SYST:ERR:NEXT?") == NO_ERROR
    assert dev.run("*STB?") == "0"


def test_twenty_errors_fit(dev: Device) -> None:
    for _ in range(20):
        dev.run("FOO")
    assert dev.run("SYST:ERR:COUN?") == "20"
    assert [code(e) for e in dev.errors()] == [-113] * 20


def test_queue_overflow_replaces_the_last_entry(dev: Device) -> None:
    for _ in range(19):
        dev.run("FOO")
    dev.run("VOLT 30")  # the 20th entry
    for _ in range(5):
        dev.run("VOLT")
    assert dev.run("SYST:ERR:COUN?") == "20"
    entries = dev.errors()
    assert [code(e) for e in entries] == [-113] * 19 + [-350]
    assert entries[-1] == '-350,"Queue overflow"'
    # emptied: new errors queue again
    dev.run("VOLT")
    assert [code(e) for e in dev.errors()] == [-109]


def test_cls_clears_the_queue(dev: Device) -> None:
    for _ in range(25):
        dev.run("FOO")
    assert dev.run("*CLS") is None
    assert dev.run("SYST:ERR:COUN?") == "0"
    assert dev.error() == NO_ERROR
    assert dev.run("*STB?") == "0"


def test_smaller_queue_size() -> None:
    engine = ScpiEngine(idn=IDN, queue_size=2)
    for _ in range(3):
        engine.execute("FOO")
    assert (
        engine.execute("SYST:ERR?;ERR?;ERR?")
        == f'-113,"Undefined header; FOO";-350,"Queue overflow";{NO_ERROR}'
    )


def test_common_commands(dev: Device) -> None:
    assert dev.run("*OPC?") == "1"
    assert dev.run("*ESR?") == "0"
    assert dev.run("*TST?") == "0"
    assert dev.run("*opc") is None
    assert dev.run("*WAI") is None
    assert dev.run("SYST:VERS?") == "1999.0"
    assert dev.run("*FOO") is None
    assert [code(e) for e in dev.errors()] == [-113]


def test_commands_are_counted_queries_are_not(dev: Device) -> None:
    before = dev.engine.commands_executed
    dev.run("VOLT 1.5;:CURR 0.2")
    dev.run("VOLT?")
    dev.run("MEAS:VOLT?")
    assert dev.engine.commands_executed == before + 2
    dev.run("BOGUS 1")  # not executed: not counted
    assert dev.engine.commands_executed == before + 2


def test_listeners_hear_each_command_and_no_query() -> None:
    """A plant listening for setting changes is told once per command, even one that fails in its
    handler, and never for a query or an unknown header."""
    dev = Device()
    heard: list[int] = []
    dev.engine.listeners.append(lambda: heard.append(dev.engine.commands_executed))
    dev.engine.execute("VOLT 3.5")
    dev.engine.execute("VOLT?")
    dev.engine.execute("*IDN?")
    dev.engine.execute("NOSUCH:THING 1")
    dev.engine.execute("VOLT 1;:CURR 0.5")
    dev.engine.execute("VOLT 99")  # out of range: the handler raises after the count moved
    assert heard == [1, 2, 3, 4]
    errors = [dev.engine.next_error()[:4] for _ in range(3)]
    assert dev.voltage == 1.0 and errors == ["-113", "-222", '0,"N']
