"""What the Movicom bench applied, and when: the `stimulus` a result declares for the report's timeline.

The bench's stimulus primitives log each level they set ("supply [V]" -> 9.0, unit in brackets) and
each event ("IN_1" -> "closed") at the station time they did it; `prepare` marks everything back at
nominal. A result taken at time t then declares what was applied before t: every level still in
effect (a level set and then undone by a return to nominal is not) and each event since the last
nominal that no earlier result declared yet, so the timeline (hil.report.timeline) draws each event
once and each level as a step series.
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

    def level(self, time: float, name: str, value: float) -> None:
        """A level set at `time`; `name` ends in its unit, e.g. "supply [V]"."""
        self.entries.append(Entry(time, name, float(value)))

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

    def before(self, time: float) -> dict[str, Applied]:
        """What a result taken at `time` declares: the levels in effect, and the events applied
        since the last nominal that no result declared yet (those are declared now)."""
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
        self.declared.update(pending)
        events = {e.name: e.value for e in pending.values()}
        return {**levels, **events}
