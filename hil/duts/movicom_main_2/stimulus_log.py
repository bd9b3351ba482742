"""What the Movicom bench applied, and when: the `stimulus` a result declares for the report's timeline.

The bench's stimulus primitives log each level they set ("supply [V]" -> 9.0, unit in brackets, with
its nominal level) and each event ("IN_1" -> "closed") at the station time they did it; `prepare`
marks everything back at nominal. A result taken at time t then declares what was applied before t:
every level still in effect, each event since the last nominal that no earlier result declared yet,
and the nominal level of each quantity that earlier results of its requirement declared and that is
back at nominal now. So the timeline (hil.report.timeline) draws
each event once and each level as a step series that comes back to nominal between its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: a stimulus level or event text, as the report's `data["stimulus"]` holds it
Applied = float | str


@dataclass(frozen=True)
class Entry:
    """One logged stimulus: a level (`event` False), an event, or the return to nominal (`name` "")."""

    time: float
    name: str = ""
    value: Applied = ""
    event: bool = False


@dataclass
class StimulusLog:
    """The stimuli of the current test in the order they were applied (see the module docstring)."""

    entries: list[Entry] = field(default_factory=list)
    #: indices of events some result already declared
    declared: set[int] = field(default_factory=set)
    #: each level's nominal, as its primitive gave it (kept for the run)
    nominals: dict[str, float] = field(default_factory=dict)
    #: the levels each requirement's results declared so far in the run
    used: dict[str, set[str]] = field(default_factory=dict)

    def level(self, time: float, name: str, value: float, nominal: float | None = None) -> None:
        """A level set at `time`; `name` ends in its unit, e.g. "supply [V]"; `nominal` its level at
        nominal conditions (None: not known, the level is then not declared once back at nominal)."""
        self.entries.append(Entry(time, name, float(value)))
        if nominal is not None:
            self.nominals[name] = float(nominal)

    def event(self, time: float, name: str, value: str) -> None:
        """Something done at `time` that has no level, e.g. ("IN_1", "closed")."""
        self.entries.append(Entry(time, name, value, event=True))

    def nominal(self, time: float) -> None:
        """Every stimulus back at its nominal level at `time` (nothing applied beyond nominal)."""
        self.entries.append(Entry(time))

    def restart(self) -> None:
        """A new test: forget what earlier tests applied (the bench was just prepared: nominal)."""
        self.entries.clear()
        self.declared.clear()

    def before(self, time: float, requirement: str = "") -> dict[str, Applied]:
        """What a result of `requirement` taken at `time` declares (see the module docstring); the
        events it declares are not declared again."""
        levels: dict[str, Applied] = {}
        pending: dict[int, Entry] = {}
        for index, entry in enumerate(self.entries):
            if entry.time >= time:
                break
            if not entry.name:
                levels.clear()
                pending.clear()
            elif entry.event:
                if index not in self.declared:
                    pending[index] = entry
            else:
                levels[entry.name] = entry.value
        used = self.used.setdefault(requirement, set())
        for name in sorted(used - set(levels)):
            if name in self.nominals:
                levels[name] = self.nominals[name]
        used.update(levels)
        self.declared.update(pending)
        events = {e.name: e.value for e in pending.values()}
        return {**levels, **events}
