"""A small SCPI (IEEE 488.2 / SCPI-1999) command engine for simulated instruments.

A simulated instrument declares its command tree with patterns written as in programming
manuals, e.g. ``[SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]``: bracketed nodes are
optional, upper-case letters are the short form, ``#`` accepts a numeric suffix. Unknown headers,
bad parameters and out-of-range values go to the error queue as on the real instrument.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# SCPI-1999 standard error numbers used by the simulated instruments.
NO_ERROR = (0, "No error")
COMMAND_ERROR = -100
SYNTAX_ERROR = -102
DATA_TYPE_ERROR = -104
PARAMETER_NOT_ALLOWED = -108
MISSING_PARAMETER = -109
UNDEFINED_HEADER = -113
EXECUTION_ERROR = -200
SETTINGS_CONFLICT = -221
DATA_OUT_OF_RANGE = -222
ILLEGAL_PARAMETER_VALUE = -224
QUEUE_OVERFLOW = -350

_MESSAGES = {
    COMMAND_ERROR: "Command error",
    SYNTAX_ERROR: "Syntax error",
    DATA_TYPE_ERROR: "Data type error",
    PARAMETER_NOT_ALLOWED: "Parameter not allowed",
    MISSING_PARAMETER: "Missing parameter",
    UNDEFINED_HEADER: "Undefined header",
    EXECUTION_ERROR: "Execution error",
    SETTINGS_CONFLICT: "Settings conflict",
    DATA_OUT_OF_RANGE: "Data out of range",
    ILLEGAL_PARAMETER_VALUE: "Illegal parameter value",
    QUEUE_OVERFLOW: "Queue overflow",
}

_SI_PREFIX = {"": 1.0, "M": 1e-3, "U": 1e-6, "N": 1e-9, "K": 1e3, "MA": 1e6, "MEG": 1e6}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)$")


class ScpiError(Exception):
    """Raised by a command handler; becomes an entry in the instrument's error queue."""

    def __init__(self, code: int, detail: str = "", text: str = "") -> None:
        self.code = code
        self.detail = detail
        self.text = text  # an instrument's own message text where the standard table has none
        super().__init__(f"{code},{detail}")

    def entry(self) -> str:
        text = self.text or _MESSAGES.get(self.code, "Error")
        if self.detail:
            text = f"{text}; {self.detail}"
        return f'{self.code},"{text}"'


@dataclass(frozen=True)
class _Node:
    short: str
    long: str
    optional: bool
    suffix: bool

    def match(self, token: str) -> int | None:
        """Return the numeric suffix (1 if absent) when the token names this node, else None."""
        upper = token.upper()
        number = 1
        if self.suffix:
            m = re.match(r"^([A-Z]+)(\d*)$", upper)
            if not m:
                return None
            upper, digits = m.group(1), m.group(2)
            number = int(digits) if digits else 1
        return number if upper in (self.short, self.long) else None


def _parse_pattern(pattern: str) -> tuple[_Node, ...]:
    nodes: list[_Node] = []
    for m in re.finditer(r"(\[)?:?([A-Za-z*]+)(#)?(\])?", pattern):
        word = m.group(2)
        short = "".join(c for c in word if c.isupper() or c == "*")
        nodes.append(_Node(short, word.upper(), bool(m.group(1)), bool(m.group(3))))
    return tuple(nodes)


def _match(nodes: tuple[_Node, ...], tokens: list[str]) -> list[int] | None:
    """Match header tokens against pattern nodes; returns the numeric suffixes of matched nodes."""
    if not nodes:
        return [] if not tokens else None
    node, rest = nodes[0], nodes[1:]
    if tokens:
        number = node.match(tokens[0])
        if number is not None:
            tail = _match(rest, tokens[1:])
            if tail is not None:
                return [number, *tail] if node.suffix else tail
    if node.optional:
        tail = _match(rest, tokens)
        if tail is not None:
            return [1, *tail] if node.suffix else tail
    return None


def parse_channel_list(text: str) -> list[int]:
    """Expand a SCPI channel list such as ``(@1,3:5)`` into channel numbers."""
    m = re.fullmatch(r"\(@([\d,:\s]+)\)", text.strip())
    if not m:
        raise ScpiError(SYNTAX_ERROR, f"bad channel list {text}")
    channels: list[int] = []
    for part in m.group(1).split(","):
        lo, _, hi = part.strip().partition(":")
        start, stop = int(lo), int(hi or lo)
        step = 1 if stop >= start else -1
        channels.extend(range(start, stop + step, step))
    return channels


@dataclass
class Call:
    """One parsed program message unit handed to a handler."""

    header: str
    args: list[str]
    suffixes: list[int]
    channels: list[int] | None = None

    def require(self, count: int) -> None:
        if len(self.args) < count:
            raise ScpiError(MISSING_PARAMETER, self.header)
        if len(self.args) > count:
            raise ScpiError(PARAMETER_NOT_ALLOWED, self.header)

    def number(
        self,
        index: int = 0,
        *,
        unit: str = "",
        minimum: float | None = None,
        maximum: float | None = None,
        default: float | None = None,
    ) -> float:
        """A numeric parameter: plain, with an SI-prefixed unit, or MINimum/MAXimum/DEFault."""
        if index >= len(self.args):
            raise ScpiError(MISSING_PARAMETER, self.header)
        text = self.args[index].strip()
        word = text.upper()
        if word in ("MIN", "MINIMUM") and minimum is not None:
            return minimum
        if word in ("MAX", "MAXIMUM") and maximum is not None:
            return maximum
        if word in ("DEF", "DEFAULT") and default is not None:
            return default
        m = _NUMBER.match(text)
        if not m:
            raise ScpiError(DATA_TYPE_ERROR, f"{self.header} expects a number, got {text!r}")
        value = float(m.group(1))
        suffix = m.group(2).upper()
        if suffix:
            u = unit.upper()
            if not u or not suffix.endswith(u):
                raise ScpiError(ILLEGAL_PARAMETER_VALUE, f"unit {m.group(2)!r}")
            prefix = suffix[: len(suffix) - len(u)]
            if prefix not in _SI_PREFIX:
                raise ScpiError(ILLEGAL_PARAMETER_VALUE, f"unit {m.group(2)!r}")
            value *= _SI_PREFIX[prefix]
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ScpiError(DATA_OUT_OF_RANGE, f"{self.header} {text}")
        return value

    def boolean(self, index: int = 0) -> bool:
        """ON/OFF/1/0."""
        if index >= len(self.args):
            raise ScpiError(MISSING_PARAMETER, self.header)
        word = self.args[index].strip().upper()
        if word in ("ON", "1"):
            return True
        if word in ("OFF", "0"):
            return False
        raise ScpiError(ILLEGAL_PARAMETER_VALUE, f"{self.header} expects ON|OFF, got {word}")

    def choice(self, index: int, options: dict[str, str]) -> str:
        """A character parameter; `options` maps accepted spellings (short and long) to a value."""
        if index >= len(self.args):
            raise ScpiError(MISSING_PARAMETER, self.header)
        word = self.args[index].strip().upper()
        if word not in options:
            raise ScpiError(ILLEGAL_PARAMETER_VALUE, f"{self.header} {word}")
        return options[word]


Handler = Callable[[Call], str | None]


@dataclass
class _Command:
    nodes: tuple[_Node, ...]
    query: bool
    handler: Handler


@dataclass
class ScpiEngine:
    """Command table plus error queue; `execute(line)` returns the response text or None."""

    idn: str
    queue_size: int = 20
    _commands: list[_Command] = field(default_factory=list)
    _errors: deque[str] = field(default_factory=deque)
    #: commands (not queries) executed so far: a plant reads the settings again only when it moved
    commands_executed: int = field(default=0, init=False)
    #: called with no argument after the count moves (a plant marks the instrument to read again)
    listeners: list[Callable[[], None]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.add("*IDN?", lambda c: self.idn)
        self.add("*CLS", lambda c: self._errors.clear())
        self.add("*OPC?", lambda c: "1")
        self.add("*OPC", lambda c: None)
        self.add("*WAI", lambda c: None)
        self.add("*ESR?", lambda c: "0")
        self.add("*STB?", lambda c: "4" if self._errors else "0")
        self.add("*TST?", lambda c: "0")
        self.add("SYSTem:ERRor[:NEXT]?", lambda c: self.next_error())
        self.add("SYSTem:ERRor:COUNt?", lambda c: str(len(self._errors)))
        self.add("SYSTem:VERSion?", lambda c: "1999.0")

    def count_command(self) -> None:
        """A command (not a query) ran: move the count and tell the listeners. Instruments that
        answer their own line protocol instead of SCPI call this for each accepted setting."""
        self.commands_executed += 1
        for listener in self.listeners:
            listener()

    def add(self, pattern: str, handler: Handler) -> None:
        """Register a command; a pattern ending in '?' is a query."""
        query = pattern.endswith("?")
        self._commands.append(_Command(_parse_pattern(pattern.rstrip("?")), query, handler))

    def push_error(self, entry: str) -> None:
        if len(self._errors) >= self.queue_size:
            self._errors[-1] = f'{QUEUE_OVERFLOW},"{_MESSAGES[QUEUE_OVERFLOW]}"'
            return
        self._errors.append(entry)

    def next_error(self) -> str:
        return self._errors.popleft() if self._errors else f'{NO_ERROR[0]},"{NO_ERROR[1]}"'

    def execute(self, line: str) -> str | None:
        """Run one program message (units separated by ';'); join query answers with ';'."""
        answers: list[str] = []
        path: list[str] = []
        for unit in _split_units(line):
            unit = unit.strip()
            if not unit:
                continue
            try:
                answer, path = self._execute_unit(unit, path)
            except ScpiError as exc:
                self.push_error(exc.entry())
                break  # the rest of the message is not executed after an error
            if answer is not None:
                answers.append(answer)
        return ";".join(answers) if answers else None

    def _execute_unit(self, unit: str, path: list[str]) -> tuple[str | None, list[str]]:
        """Run one message unit against the current path; returns its answer and the new path."""
        header, _, rest = unit.partition(" ")
        query = header.endswith("?")
        bare = header.rstrip("?")
        args = _split_args(rest)
        channels = None
        if args and args[-1].strip().startswith("(@"):
            channels = parse_channel_list(args.pop())
        common = bare.startswith("*")
        if common:
            # a common command is outside the tree: it neither uses nor changes the path
            candidates = [[bare.upper()]]
        else:
            tokens = [t for t in bare.lstrip(":").split(":") if t]
            # SCPI-1999 6.2.4: after ';' a header is relative to the current path; that reading
            # is tried first, the root only as a lenient fallback; a leading ':' means the root
            candidates = [tokens] if bare.startswith(":") or not path else [path + tokens, tokens]
        for candidate in candidates:
            for command in self._commands:
                if command.query != query:
                    continue
                suffixes = _match(command.nodes, candidate)
                if suffixes is None:
                    continue
                call = Call(header, args, suffixes, channels)
                if not query:  # before the handler: one that raises half-way may have changed settings
                    self.count_command()
                return command.handler(call), path if common else candidate[:-1]
        raise ScpiError(UNDEFINED_HEADER, header)


def _split_units(line: str) -> list[str]:
    units: list[str] = []
    current: list[str] = []
    quoted = ""
    for ch in line.strip():
        if quoted:
            quoted = "" if ch == quoted else quoted
        elif ch in "\"'":
            quoted = ch
        elif ch == ";":
            units.append("".join(current))
            current = []
            continue
        current.append(ch)
    units.append("".join(current))
    return units


def _split_args(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    args: list[str] = []
    current: list[str] = []
    depth, quoted = 0, ""
    for ch in text:
        if quoted:
            quoted = "" if ch == quoted else quoted
        elif ch in "\"'":
            quoted = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    args.append("".join(current).strip())
    return args
