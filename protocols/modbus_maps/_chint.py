"""Register maps of the CHINT (正泰) DTSU666 and DDSU666 meters.

Facts (addresses, types, scaling, function code, word order) are taken from
the makers' user manuals as published (DTSU666 series manual, table
"ModBus protocol address table": read 03H, write 10H, IEEE 754 floats high
word first) and checked against public integrations that read these meters
in the field. Each row is (address, our name, type, scale_decimals,
decimals, unit, maker's code, description); see ``_model.RegisterItem``.

DTSU666 sends instantaneous values as floats in fixed sub-units (0.1 V,
0.001 A, 0.1 W, 0.1 var, 0.001 for power factors, 0.01 Hz) and energy in
kWh; DDSU666 sends everything as floats in V, A, kW, kvar, Hz and kWh.
Decoded values have the resolution of the DL/T 645 formats for the same
quantity (0.1 V, 0.001 A, 0.0001 kW, 0.001, 0.01 Hz, 0.01 kWh).

Values are decoded as the meter sends them. With a current or voltage
transformer (DTSU666 ``ct_ratio``/``pt_ratio`` other than 1) check whether
your firmware reports primary or secondary values.
"""

from ._model import MeterModel, RegisterItem

_DTSU666_ROWS = (
    (0x0000, "software_version", "s16", 0, 0, "", "REV.", "software version"),
    (0x0003, "network_type", "s16", 0, 0, "", "net", "wiring: 0 three-phase four-wire, 1 three-phase three-wire"),
    (0x0006, "ct_ratio", "s16", 0, 0, "", "IrAt", "current transformer ratio, 1-9999"),
    (0x0007, "pt_ratio", "s16", 1, 1, "", "UrAt", "voltage transformer ratio, register x 0.1"),
    (0x002E, "modbus_address", "s16", 0, 0, "", "Addr", "Modbus unit id, 1-247"),
    (0x2000, "line_voltage_ab", "f32", 1, 1, "V", "Uab", "line voltage A-B"),
    (0x2002, "line_voltage_bc", "f32", 1, 1, "V", "Ubc", "line voltage B-C"),
    (0x2004, "line_voltage_ca", "f32", 1, 1, "V", "Uca", "line voltage C-A"),
    (0x2006, "voltage_a", "f32", 1, 1, "V", "Ua", "phase voltage A"),
    (0x2008, "voltage_b", "f32", 1, 1, "V", "Ub", "phase voltage B"),
    (0x200A, "voltage_c", "f32", 1, 1, "V", "Uc", "phase voltage C"),
    (0x200C, "current_a", "f32", 3, 3, "A", "Ia", "phase current A"),
    (0x200E, "current_b", "f32", 3, 3, "A", "Ib", "phase current B"),
    (0x2010, "current_c", "f32", 3, 3, "A", "Ic", "phase current C"),
    (0x2012, "active_power_total", "f32", 4, 4, "kW", "Pt", "total active power (register in 0.1 W)"),
    (0x2014, "active_power_a", "f32", 4, 4, "kW", "Pa", "active power A"),
    (0x2016, "active_power_b", "f32", 4, 4, "kW", "Pb", "active power B"),
    (0x2018, "active_power_c", "f32", 4, 4, "kW", "Pc", "active power C"),
    (0x201A, "reactive_power_total", "f32", 4, 4, "kvar", "Qt", "total reactive power (register in 0.1 var)"),
    (0x201C, "reactive_power_a", "f32", 4, 4, "kvar", "Qa", "reactive power A"),
    (0x201E, "reactive_power_b", "f32", 4, 4, "kvar", "Qb", "reactive power B"),
    (0x2020, "reactive_power_c", "f32", 4, 4, "kvar", "Qc", "reactive power C"),
    (0x202A, "power_factor_total", "f32", 3, 3, "", "PFt", "total power factor"),
    (0x202C, "power_factor_a", "f32", 3, 3, "", "PFa", "power factor A (not valid on three-wire)"),
    (0x202E, "power_factor_b", "f32", 3, 3, "", "PFb", "power factor B (not valid on three-wire)"),
    (0x2030, "power_factor_c", "f32", 3, 3, "", "PFc", "power factor C (not valid on three-wire)"),
    (0x2044, "frequency", "f32", 2, 2, "Hz", "Freq", "grid frequency"),
    (0x401E, "forward_active_total", "f32", 0, 2, "kWh", "ImpEp", "forward (import) active energy, total"),
    (0x4028, "reverse_active_total", "f32", 0, 2, "kWh", "ExpEp", "reverse (export) active energy, total"),
    (0x4032, "reactive_q1_total", "f32", 0, 2, "kvarh", "Q1Eq", "reactive energy, quadrant I"),
    (0x403C, "reactive_q2_total", "f32", 0, 2, "kvarh", "Q2Eq", "reactive energy, quadrant II"),
    (0x4046, "reactive_q3_total", "f32", 0, 2, "kvarh", "Q3Eq", "reactive energy, quadrant III"),
    (0x4050, "reactive_q4_total", "f32", 0, 2, "kvarh", "Q4Eq", "reactive energy, quadrant IV"),
)

_DDSU666_ROWS = (
    (0x0006, "modbus_address", "u16", 0, 0, "", "Addr", "Modbus unit id, 1-247"),
    (0x2000, "voltage_a", "f32", 0, 1, "V", "U", "voltage"),
    (0x2002, "current_a", "f32", 0, 3, "A", "I", "current"),
    (0x2004, "active_power_total", "f32", 0, 4, "kW", "P", "active power"),
    (0x2006, "reactive_power_total", "f32", 0, 4, "kvar", "Q", "reactive power"),
    (0x200A, "power_factor_total", "f32", 0, 3, "", "PF", "power factor"),
    (0x200E, "frequency", "f32", 0, 2, "Hz", "Freq", "grid frequency"),
    (0x4000, "forward_active_total", "f32", 0, 2, "kWh", "Ep", "active energy, total (import)"),
    (0x400A, "reverse_active_total", "f32", 0, 2, "kWh", "ExpEp", "reverse (export) active energy"),
)


def _items(rows):
    return [RegisterItem(name, address, dtype, scale, decimals, unit, code, text)
            for address, name, dtype, scale, decimals, unit, code, text in rows]


DTSU666 = MeterModel(
    "dtsu666", "CHINT DTSU666", 3,
    "three-phase four-wire DIN-rail meter, RS-485 Modbus RTU (DL/T 645 selectable)",
    "holding", "big", _items(_DTSU666_ROWS),
    sources=("CHINT DTSU666 series user manual, ModBus protocol address table (03H read, 10H write, "
             "IEEE 754 float, high word first; factory 9600 8N1, unit 1)",),
)

DDSU666 = MeterModel(
    "ddsu666", "CHINT DDSU666", 1,
    "single-phase DIN-rail meter, RS-485 Modbus RTU",
    "holding", "big", _items(_DDSU666_ROWS),
    sources=("CHINT DDSU666 user manual, Modbus register table (03H read, IEEE 754 float, high word first; "
             "factory 9600 8N1, unit 1)",),
)
