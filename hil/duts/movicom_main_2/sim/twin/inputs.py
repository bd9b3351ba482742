"""What the bench applies to a Main 2.1 / 2R: the twin's inputs, held over each step.

On a real bench these are the supply, the cell and NTC emulators behind real BMS Logic boards, the
precision source on the Hall-sensor and sensor inputs, and the relay card on the dry-contact inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.duts.movicom_main_2.config import MovicomConfig


@dataclass
class LogicBoardInputs:
    """One BMS Logic board: its cells, thermistors, and whether it answers on the internal link."""

    cell_v: list[float]
    temperature_c: list[float]
    online: bool = True


@dataclass
class SensorInputs:
    """One Hall-sensor header: output (Vcs) and reference (Vref) voltages."""

    vcs_v: float = 2.5
    vref_v: float = 2.5


@dataclass
class PlantInputs:
    """Everything the twin reads from outside (volts, °C, closed contacts, amps)."""

    supply_v: float
    boards: list[LogicBoardInputs]
    sensors: list[SensorInputs]
    temperature_v: list[float]  # Vts (2.1) / T_SENS1, T_SENS2 (2R)
    humidity_v: float = 0.0  # Vhs (2.1 only)
    contacts: list[bool] = field(default_factory=lambda: [False] * 4)  # True = dry contact closed
    output_load_a: list[float] = field(default_factory=lambda: [0.0] * 4)

    @classmethod
    def nominal(cls, config: MovicomConfig) -> PlantInputs:
        """A healthy pack at rest: mid-range cells at 25 °C, zero current, every input inactive (its
        contact open, an inverted one's closed: e.g. a battery-cover switch closed while the cover is on)."""
        hw = config.hardware_variant
        a = config.analog
        logic = config.logic
        boards = [
            LogicBoardInputs([3.30] * logic.cells_per_board, [25.0] * logic.temperatures_per_board)
            for _ in range(logic.boards)
        ]
        humidity_v = a.humidity_v_offset + 40.0 * a.humidity_v_per_percent if hw.humidity_input else 0.0
        return cls(
            supply_v=hw.supply.nominal_v,
            boards=boards,
            sensors=[SensorInputs() for _ in hw.current_sensors],
            temperature_v=[
                a.temperature_v_at_0c + 25.0 * a.temperature_v_per_c for _ in hw.temperature_inputs
            ],
            humidity_v=humidity_v,
            contacts=[a.inverted for a in config.inputs],
        )

    def check(self, config: MovicomConfig) -> None:
        """Refuse inputs that do not fit the configured assembly (a wiring mistake in the plant)."""
        logic = config.logic
        if len(self.boards) != logic.boards:
            raise ValueError(f"{logic.boards} Logic boards configured, {len(self.boards)} given")
        for i, b in enumerate(self.boards, 1):
            if len(b.cell_v) != logic.cells_per_board or len(b.temperature_c) != logic.temperatures_per_board:
                raise ValueError(
                    f"Logic {i}: {logic.cells_per_board} cells and "
                    f"{logic.temperatures_per_board} temperatures"
                )
        hw = config.hardware_variant
        if len(self.sensors) != len(hw.current_sensors) or len(self.temperature_v) != len(
            hw.temperature_inputs
        ):
            raise ValueError(
                f"{hw.id}: {len(hw.current_sensors)} current sensor(s), "
                f"{len(hw.temperature_inputs)} temperature input(s)"
            )
        if len(self.contacts) != 4 or len(self.output_load_a) != 4:
            raise ValueError("4 contacts and 4 output loads")
