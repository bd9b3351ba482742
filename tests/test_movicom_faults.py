"""The Movicom twin's SIM-ONLY hardware faults and the heater-hysteresis flag the mutants use
(tests/mutation_movicom.py), each checked by the values a bench would see, and the generator's
mutants all valid units that name spec rows."""

from __future__ import annotations

from typing import Any

import pytest
from mutation_movicom import FLAG_ROWS, VARIANTS, eol_mutants, mutants

from hil import registry
from hil.duts.movicom_main_2.config import Behaviour, MovicomConfig
from hil.duts.movicom_main_2.sim.twin import MovicomTwin
from hil.spec import load_spec

LINK_UP = 2.0  # fixed.logic_init_s of the example configuration
SPEC = load_spec(registry.dut_family("movicom-main-2.1").spec)


def _twin(**hardware: Any) -> MovicomTwin:
    twin = MovicomTwin(MovicomConfig.model_validate({"hardware": hardware}), ideal=True)
    twin.step(LINK_UP)
    return twin


def test_a_relay_contact_that_never_opens_reads_closed_while_the_firmware_has_it_open() -> None:
    twin = _twin(relay_stuck_closed=2)
    assert twin.relays[1] is False  # allow-charging is open: no charger
    assert twin.contact_resistance_ohm(2) == pytest.approx(0.02)  # the contact is closed all the same
    assert twin.contact_resistance_ohm(3) is None
    twin.inputs.supply_v = 0.0
    twin.inputs_changed()
    assert twin.contact_resistance_ohm(2) == pytest.approx(0.02)  # welded: unpowered too
    assert _twin().contact_resistance_ohm(2) is None


def test_a_weak_output_sags_under_20_ma_the_others_hold() -> None:
    twin = _twin(weak_output=1, weak_output_extra_ohm=150.0)
    twin.inputs.output_load_a[:] = [0.02] * 4
    twin.inputs_changed()
    levels = twin.output_levels_v()
    assert levels[0] == pytest.approx(5.0 - 160.0 * 0.02)  # output 1 (discharge allowed) is high
    assert levels[1] == 0.0  # charge allowed: low (no charger)
    healthy = _twin()
    healthy.inputs.output_load_a[:] = [0.02] * 4
    healthy.inputs_changed()
    assert healthy.output_levels_v()[0] == pytest.approx(4.8)


def test_a_dead_led_stays_dark() -> None:
    twin = _twin(dead_led="DS7")
    assert twin.relays[0] is True
    assert twin.leds()["DS7"].on is False and twin.leds()["DS7"].lit(0.0) is False
    assert _twin().leds()["DS7"].on is True


def test_the_brown_out_level_moves_with_the_supply_offset() -> None:
    for offset, at_minimum in ((0.0, True), (1.0, False)):
        twin = _twin(supply_min_offset_v=offset)
        twin.inputs.supply_v = 9.0
        twin.inputs_changed()
        assert twin.running is at_minimum
    low = _twin(supply_min_offset_v=-1.0)
    low.inputs.supply_v = 8.5
    low.inputs_changed()
    assert low.running is True  # still runs below the minimum


@pytest.mark.parametrize(("hysteresis", "heater_at_7c"), [(True, True), (False, False)])
def test_heater_hysteresis_flag(hysteresis: bool, heater_at_7c: bool) -> None:
    twin = MovicomTwin(
        MovicomConfig.model_validate({"behaviour": {"heater_hysteresis": hysteresis}}), ideal=True
    )
    twin.step(LINK_UP)
    for celsius, expected in ((2.0, True), (7.0, heater_at_7c), (11.0, False)):
        for board in twin.inputs.boards:
            board.temperature_c[:] = [celsius] * len(board.temperature_c)
        twin.inputs_changed()
        assert twin.heater_on is expected, celsius
        assert twin.relays[3] is expected


@pytest.mark.parametrize("dut", sorted(VARIANTS))
def test_every_generated_mutant_is_a_valid_unit_naming_spec_rows(dut: str) -> None:
    found, skipped = mutants(SPEC, dut)
    assert len({m.name for m in found}) == len(found) > 100
    assert all(m.requirements <= set(SPEC.ids()) for m in found)
    # every behaviour flag and every hardware fault kind is generated
    assert {f"flag-{f}" for f in Behaviour.model_fields} <= {m.name for m in found}
    assert set(FLAG_ROWS) == set(Behaviour.model_fields)
    kinds = {m.changes[0][0] for m in found if m.kind == "hardware"}
    assert {
        "hardware.relay_stuck_closed",
        "hardware.weak_output",
        "hardware.dead_led",
        "hardware.temperature_offset_c",
        "hardware.termination_missing",
        "hardware.termination_always",
    } <= kinds
    assert any("MM-CAN bit rate" in line for line in skipped)
    for m in found:
        assert m.settings() != m.declared(), m.name
    eol, _ = eol_mutants(SPEC, dut)
    assert {m.name for m in found} <= {m.name for m in eol}  # nothing is proven by read-back
    assert {m.requirement for m in eol if m.kind == "parameter"} == {"MM-MODBUS"}
