"""Contactor outputs 1–5 and their auxiliary feedback (PH-CONT).

The firmware drives each coil to its target and reads the auxiliary contact back. With
`contactorConfigTypes` NO/NO the auxiliary contact is closed when the main contact is; with NO/NC
it is open when the main contact is closed. A checked contactor (`contactorConfigAuxEnable`) whose
auxiliary contact disagrees with its target for longer than `fixed.contactor_aux_debounce_s`
(counted from the later of the target change and the start of the disagreement) is faulted:
BMSContactorFaultCONTACTORn with BMSReasonCONTACTORFAIL. So a welded contactor (commanded open,
aux says closed) and a stuck one (commanded closed, aux says open) both fault.
OUR ASSUMPTION: contactor faults latch until the BMU is reset (a welded contactor cannot be
cleared by a command); `behaviour.latch_contactor_faults = false` makes them clear when the aux
agrees again, `behaviour.check_contactor_aux = false` ignores the aux contacts altogether.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from hil.duts.prohelion_d1000_gen2.config import D1000Config
from hil.duts.prohelion_d1000_gen2.protocol.codes import CONTACTORS

_EPS = 1e-9


@dataclass
class ContactorSupervisor:
    """Targets, the time each last changed, disagreement timers and the faulted contactors."""

    targets: dict[int, bool] = field(default_factory=lambda: dict.fromkeys(CONTACTORS, False))
    changed_at: dict[int, float] = field(default_factory=lambda: dict.fromkeys(CONTACTORS, -math.inf))
    disagree_since: dict[int, float | None] = field(default_factory=lambda: dict.fromkeys(CONTACTORS, None))
    faulted: set[int] = field(default_factory=set)

    def drive(self, t: float, closed: frozenset[int]) -> None:
        """Set the coil targets: the contactors in `closed` on, the rest off."""
        for n in CONTACTORS:
            target = n in closed
            if target != self.targets[n]:
                self.targets[n] = target
                self.changed_at[n] = t

    @staticmethod
    def reads_closed(n: int, aux_closed: bool, config: D1000Config) -> bool:
        """The main contact state the firmware infers from the auxiliary contact of contactor n."""
        return aux_closed != config.aux_normally_closed(n)

    def supervise(self, t: float, aux_closed: Sequence[bool], config: D1000Config) -> set[int]:
        """Update the disagreement timers at t; returns the contactors faulted now."""
        b = config.behaviour
        debounce = config.fixed.contactor_aux_debounce_s
        current: set[int] = set()
        for n in CONTACTORS:
            checked = b.check_contactor_aux and config.aux_enabled(n)
            agrees = self.reads_closed(n, aux_closed[n - 1], config) == self.targets[n]
            if not checked or agrees:
                self.disagree_since[n] = None
                continue
            since = self.disagree_since[n]
            if since is None:
                since = self.disagree_since[n] = t
            if t - max(since, self.changed_at[n]) >= debounce - _EPS:
                current.add(n)
        if b.latch_contactor_faults:
            self.faulted |= current
        else:
            self.faulted = current
        return set(self.faulted)

    def deadline(self, config: D1000Config) -> float | None:
        """When the next pending disagreement becomes a fault (None if none is pending)."""
        debounce = config.fixed.contactor_aux_debounce_s
        times = [
            max(since, self.changed_at[n]) + debounce
            for n, since in self.disagree_since.items()
            if since is not None and n not in self.faulted
        ]
        return min(times) if times else None

    def actual(self, aux_closed: Sequence[bool], config: D1000Config) -> dict[int, bool]:
        """The state of each contactor as reported (ContactorState_n): from the aux contact where it
        is checked, else the target (the firmware has nothing better)."""
        return {
            n: (
                self.reads_closed(n, aux_closed[n - 1], config)
                if config.aux_enabled(n) and config.behaviour.check_contactor_aux
                else self.targets[n]
            )
            for n in CONTACTORS
        }
