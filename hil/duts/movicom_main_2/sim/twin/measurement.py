"""What the Main 2.1 / 2R firmware measures: its front end, with seeded per-channel errors.

Each channel gets a fixed error drawn once from the seed, inside the documented accuracy: Logic cell
voltage ±2 mV (BMS Logic 12: ±3 mV), Logic and external temperatures ±1 °C (Logic: ±2 °C), the current
ADC ±1 mV (S4: ADC error <= 1 mV). `ideal()` has none, to test logic at exact thresholds.
The current is (Vcs - Vref) / (volts_at_rated / rated_a), positive = charging; on the 2R the final
current is sensor 1 while it is within 90 % of its range, else sensor 2 (OUR READING). Vref outside
[vref_min_v, vref_max_v] is an ADC fault (a missing sensor; OUR READING).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hil.duts.movicom_main_2.config import MovicomConfig
from hil.duts.movicom_main_2.sim.twin.inputs import PlantInputs

SENSOR_RANGE_SHARE = 0.9  # 2R: sensor 1 is used below this share of its rated current
CELL_ERROR_V = 0.002
TEMPERATURE_ERROR_C = 1.0


@dataclass(frozen=True)
class Readings:
    """What the firmware measured at the current time (None: no reading)."""

    cell_v: tuple[tuple[float, ...] | None, ...]  # per board (None: board offline)
    temperature_c: tuple[tuple[float, ...] | None, ...]
    sensor_current_a: tuple[float, ...]
    current_a: float
    external_temperature_c: tuple[float, ...]
    humidity_percent: float | None
    adc_fault: bool

    def cells(self) -> list[float]:
        """Cell voltages of the boards that answer."""
        return [v for board in self.cell_v if board is not None for v in board]

    def temperatures(self) -> list[float]:
        """Cell temperatures of the boards that answer."""
        return [v for board in self.temperature_c if board is not None for v in board]


@dataclass(frozen=True)
class Frontend:
    """Per-channel errors of one unit (fixed at construction)."""

    cell_error_v: tuple[tuple[float, ...], ...]
    temperature_error_c: tuple[tuple[float, ...], ...]
    adc_error_v: tuple[float, ...]
    external_error_c: tuple[float, ...]

    @classmethod
    def seeded(cls, config: MovicomConfig, rng: random.Random) -> Frontend:
        """Errors drawn from `rng` inside the accuracy budgets."""
        logic, hw = config.logic, config.hardware_variant
        adc = config.fixed.adc_error_mv / 1000.0

        def draw(bound: float, n: int) -> tuple[float, ...]:
            return tuple(rng.uniform(-bound, bound) for _ in range(n))

        return cls(
            tuple(draw(CELL_ERROR_V, logic.cells_per_board) for _ in range(logic.boards)),
            tuple(draw(TEMPERATURE_ERROR_C, logic.temperatures_per_board) for _ in range(logic.boards)),
            draw(adc, len(hw.current_sensors)),
            draw(TEMPERATURE_ERROR_C, len(hw.temperature_inputs)),
        )

    @classmethod
    def ideal(cls, config: MovicomConfig) -> Frontend:
        """No errors at all."""
        logic, hw = config.logic, config.hardware_variant
        return cls(
            tuple((0.0,) * logic.cells_per_board for _ in range(logic.boards)),
            tuple((0.0,) * logic.temperatures_per_board for _ in range(logic.boards)),
            (0.0,) * len(hw.current_sensors),
            (0.0,) * len(hw.temperature_inputs),
        )

    def measure(self, config: MovicomConfig, inputs: PlantInputs) -> Readings:
        """The readings of `inputs` as this unit's firmware sees them."""
        cells: list[tuple[float, ...] | None] = []
        temps: list[tuple[float, ...] | None] = []
        for board, cell_err, temp_err in zip(
            inputs.boards, self.cell_error_v, self.temperature_error_c, strict=True
        ):
            if not board.online:
                cells.append(None)
                temps.append(None)
                continue
            cells.append(tuple(v + e for v, e in zip(board.cell_v, cell_err, strict=True)))
            temps.append(tuple(v + e for v, e in zip(board.temperature_c, temp_err, strict=True)))
        sensor_a: list[float] = []
        adc_fault = False
        sign = 1.0 if config.behaviour.current_sign else -1.0
        for s, sensor_cfg, err in zip(inputs.sensors, config.current_sensors, self.adc_error_v, strict=False):
            if not config.fixed.vref_min_v <= s.vref_v <= config.fixed.vref_max_v:
                adc_fault = True
            gain = sensor_cfg.volts_at_rated / sensor_cfg.rated_a
            sensor_a.append(sign * (s.vcs_v - s.vref_v + err) / gain + config.hardware.current_offset_a)
        current = sensor_a[0] if sensor_a else 0.0
        if len(sensor_a) == 2 and abs(sensor_a[0]) > SENSOR_RANGE_SHARE * config.current_sensors[0].rated_a:
            current = sensor_a[1]
        a = config.analog
        offset = config.hardware.temperature_offset_c  # SIM-ONLY fault: an input reading off
        ext = tuple(
            (v - a.temperature_v_at_0c) / a.temperature_v_per_c + e + offset
            for v, e in zip(inputs.temperature_v, self.external_error_c, strict=True)
        )
        humidity = None
        if config.hardware_variant.humidity_input:
            humidity = (inputs.humidity_v - a.humidity_v_offset) / a.humidity_v_per_percent
        return Readings(tuple(cells), tuple(temps), tuple(sensor_a), current, ext, humidity, adc_fault)
