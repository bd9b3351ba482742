"""Where each spec row of the 12100 lives in the firmware settings (used to build mutants and checks).

The spec data names a row's settings section; these tables name the exact fields: the trip and
release values, the delay, and the on/off switch of each row.
"""

from __future__ import annotations

# Requirement ID -> (Settings path of the trip value, path of the release value or None).
THRESHOLDS: dict[str, tuple[str, str | None]] = {
    "CV-HA": ("cell_high_voltage_alarm.trigger", "cell_high_voltage_alarm.release"),
    "CV-LA": ("cell_low_voltage_alarm.trigger", "cell_low_voltage_alarm.release"),
    "CV-OVP": ("cell_overvoltage_protection.trigger", "cell_overvoltage_protection.release"),
    "CV-UVP": ("cell_undervoltage_protection.trigger", "cell_undervoltage_protection.release"),
    "PV-HA": ("pack_high_voltage_alarm.trigger", "pack_high_voltage_alarm.release"),
    "PV-LA": ("pack_low_voltage_alarm.trigger", "pack_low_voltage_alarm.release"),
    "PV-OVP": ("pack_overvoltage_protection.trigger", "pack_overvoltage_protection.release"),
    "PV-UVP": ("pack_undervoltage_protection.trigger", "pack_undervoltage_protection.release"),
    "CHG-HV": ("fixed.charger_overvoltage_v", "fixed.charger_overvoltage_v"),
    "TC-HA": ("charge_temperature.high_alarm_c", "charge_temperature.high_alarm_release_c"),
    "TC-OTP": ("charge_temperature.over_c", "charge_temperature.over_release_c"),
    "TC-LA": ("charge_temperature.low_alarm_c", "charge_temperature.low_alarm_release_c"),
    "TC-UTP": ("charge_temperature.under_c", "charge_temperature.under_release_c"),
    "TD-HA": ("discharge_temperature.high_alarm_c", "discharge_temperature.high_alarm_release_c"),
    "TD-OTP": ("discharge_temperature.over_c", "discharge_temperature.over_release_c"),
    "TD-LA": ("discharge_temperature.low_alarm_c", "discharge_temperature.low_alarm_release_c"),
    "TD-UTP": ("discharge_temperature.under_c", "discharge_temperature.under_release_c"),
    "TE-HA": ("ambient_temperature.high_alarm_c", "ambient_temperature.high_alarm_release_c"),
    "TE-OTP": ("ambient_temperature.over_c", "ambient_temperature.over_release_c"),
    "TE-LA": ("ambient_temperature.low_alarm_c", "ambient_temperature.low_alarm_release_c"),
    "TE-UTP": ("ambient_temperature.under_c", "ambient_temperature.under_release_c"),
    "TP-HA": ("power_temperature.high_alarm_c", "power_temperature.high_alarm_release_c"),
    "TP-OTP": ("power_temperature.over_c", "power_temperature.over_release_c"),
    "IC-A": ("charge_overcurrent_alarm.trigger_a", "charge_overcurrent_alarm.release_a"),
    "IC-OCP": ("charge_overcurrent_protection.trigger_a", None),
    "ID-A": ("discharge_overcurrent_alarm.trigger_a", "discharge_overcurrent_alarm.release_a"),
    "ID-OCP": ("discharge_overcurrent_protection.trigger_a", None),
    "ID-TOCP": ("transient_overcurrent_protection.trigger_a", None),
    "I-EFF-C": ("effective_charge_current.enter_ma", "effective_charge_current.exit_ma"),
    "I-EFF-D": ("effective_discharge_current.enter_ma", "effective_discharge_current.exit_ma"),
    "CELL-FAIL": ("cell_failure_alarm.trigger_diff_mv", "cell_failure_alarm.release_diff_mv"),
    "SOC-LA": ("soc_alarm.trigger_pct", None),
    "SOC-LP": ("soc_protection.trigger_pct", None),
}

# Requirement ID -> Settings path of the delay/time that `delay_s` must equal.
DELAY_PATHS: dict[str, str] = {
    "IC-OCP": "charge_overcurrent_protection.delay_ms",
    "ID-OCP": "discharge_overcurrent_protection.delay_ms",
    "ID-TOCP": "transient_overcurrent_protection.delay_ms",
    "PRE": "precharge.time_ms",
    "PM-SLEEP": "power_management.max_standby_h",
    "PM-UVSD": "cell_undervoltage_protection.shutdown_after_s",
}

# Requirement ID -> the boolean in Settings that `default_enabled` must equal.
ENABLE_PATHS: dict[str, str] = {
    "CV-HA": "cell_high_voltage_alarm.enabled",
    "CV-LA": "cell_low_voltage_alarm.enabled",
    "CV-OVP": "cell_overvoltage_protection.enabled",
    "CV-UVP": "cell_undervoltage_protection.enabled",
    "PV-HA": "pack_high_voltage_alarm.enabled",
    "PV-LA": "pack_low_voltage_alarm.enabled",
    "PV-OVP": "pack_overvoltage_protection.enabled",
    "PV-UVP": "pack_undervoltage_protection.enabled",
    **{rid: "charge_temperature.enabled" for rid in ("TC-HA", "TC-OTP", "TC-LA", "TC-UTP")},
    **{rid: "discharge_temperature.enabled" for rid in ("TD-HA", "TD-OTP", "TD-LA", "TD-UTP")},
    **{rid: "ambient_temperature.enabled" for rid in ("TE-HA", "TE-OTP", "TE-LA", "TE-UTP")},
    **{rid: "power_temperature.enabled" for rid in ("TP-HA", "TP-OTP")},
    "IC-A": "charge_overcurrent_alarm.enabled",
    "IC-OCP": "charge_overcurrent_protection.enabled",
    "ID-A": "discharge_overcurrent_alarm.enabled",
    "ID-OCP": "discharge_overcurrent_protection.enabled",
    "ID-TOCP": "transient_overcurrent_protection.enabled",
    "ID-TLOCK": "transient_overcurrent_protection.lock_enabled",
    "SCP-LOCK": "short_circuit_protection.lock_enabled",
    "BAL-CHG": "balancing.charge_enabled",
    "BAL-STBY": "balancing.standby_enabled",
    "CELL-FAIL": "cell_failure_alarm.enabled",
    "SOC-LA": "soc_alarm.enabled",
    "SOC-LP": "soc_protection.enabled",
    "PM-SLEEP": "power_management.sleep_enabled",
}
# Functions that are always on: no switch in Settings (fixed in firmware, or none given).
ALWAYS_ON = frozenset({"CHG-HV", "SCP", "BAL-HT", "BAL-LT"})

_TEMPERATURE_PROTECTIONS = ("TC-OTP", "TC-UTP", "TD-OTP", "TD-UTP", "TE-OTP", "TE-UTP", "TP-OTP")
# Twin behaviour flags that no release alternative of the spec data names, and the rows whose
# checks must fail when the flag is broken (the alternatives' own flags are in the spec data).
FLAG_ROWS: dict[str, frozenset[str]] = {
    "ic_ocp_release_on_discharge": frozenset({"IC-OCP"}),
    "ic_ocp_auto_release": frozenset({"IC-OCP"}),
    "id_ocp_release_on_charge": frozenset({"ID-OCP"}),
    "id_ocp_auto_release": frozenset({"ID-OCP"}),
    "id_tocp_release_on_charge": frozenset({"ID-TOCP"}),
    "id_tocp_auto_release": frozenset({"ID-TOCP"}),
    "scp_release_on_charge": frozenset({"SCP"}),
    "scp_auto_release": frozenset({"SCP"}),
    "soc_lp_release_on_recovery": frozenset({"SOC-LP"}),
    "temperature_release_on_recovery": frozenset(_TEMPERATURE_PROTECTIONS),
    "uvp_release_on_reboot": frozenset({"CV-UVP", "PV-UVP"}),
    "lock_release_on_charger": frozenset({"ID-TLOCK", "SCP-LOCK"}),
    "count_consecutive_trips": frozenset({"ID-TLOCK", "SCP-LOCK"}),
    "balancing_temperature_ban": frozenset({"BAL-HT", "BAL-LT"}),
    "standby_balancing_time_limit": frozenset({"BAL-STBY"}),
    "sleep_enabled_flag_respected": frozenset({"PM-SLEEP"}),
    "precharge_on_discharge_switch_on": frozenset({"PRE"}),
    "wake_on_button": frozenset({"PM-WAKE"}),
    "wake_on_charger": frozenset({"PM-WAKE"}),
    "wake_on_rs485": frozenset({"PM-WAKE"}),
}
