"""The CANopen node's network on the simulated lab: canopen's own `Network`, on virtual time.

`canopen.Network` sends through a python-can bus and runs its periodic sends (the NMT heartbeat)
as wall-time tasks. On the lab the node's frames go to the lab's CAN hub at the lab's time, and a
periodic send is a `VirtualTask` the plant fires from its step, so heartbeats follow virtual time.
Frames from bus clients reach the library through `Network.notify` (SDO server, NMT, SYNC).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import canopen

from hil.sim.plant import CanPublish

_EPS = 1e-9


@dataclass
class VirtualTask:
    """One periodic message, sent by `VirtualNetwork.fire` at `due`, then every `period` s."""

    can_id: int
    data: bytes
    period: float
    due: float
    stopped: bool = False

    def update(self, data: Any) -> None:
        """New data from the next send on (what canopen's task offers)."""
        self.data = bytes(data)

    def stop(self) -> None:
        """No more sends."""
        self.stopped = True


class VirtualNetwork(canopen.Network):
    """A `canopen.Network` whose sends are published on the lab's CAN at the lab's time."""

    def __init__(self, publish: CanPublish, now: Callable[[], float]) -> None:
        super().__init__()
        self._publish = publish
        self._now = now
        self.tasks: list[VirtualTask] = []

    def send_message(self, can_id: int, data: Any, remote: bool = False) -> None:
        del remote
        self._publish(self._now(), can_id, bytes(data))

    def send_periodic(  # type: ignore[override]
        self, can_id: int, data: Any, period: float, remote: bool = False
    ) -> VirtualTask:
        del remote
        task = VirtualTask(can_id, bytes(data), period, self._now() + period)
        self.tasks.append(task)
        return task

    def next_due(self) -> float | None:
        """When the next periodic send is due (None: none running)."""
        self.tasks = [task for task in self.tasks if not task.stopped]
        return min((task.due for task in self.tasks), default=None)

    def fire(self, t: float) -> None:
        """Send every periodic message due by `t`, each at its own due time."""
        for task in sorted(self.tasks, key=lambda k: k.due):
            while not task.stopped and task.due <= t + _EPS:
                self._publish(task.due, task.can_id, task.data)
                task.due += task.period
