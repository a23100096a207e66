"""What a register map is: a meter model and its items.

A ``MeterModel`` is pure data, built once at import and never changed: the
function code its values are read with, the word and byte order of 32-bit
values, the request size limit, and its ``RegisterItem`` entries sorted by
address. Invariants, checked when a model is built (a broken table fails
at import, not on a customer's bus): item names are unique, items do not
overlap, every scale is a power of ten (so decoding divides by an exact
integer and encoding multiplies by one: no binary-fraction drift), every
item fits the request limit.

Item names are the DL/T 645 registry names where the meaning is the same
(``forward_active_total`` in kWh, ``voltage_a`` in V, ``active_power_total``
in kW, ...), so a Modbus reading and a DL/T 645 reading of one quantity
look alike downstream. Units follow the DL/T 645 registry: kW, kvar, kWh,
kvarh, V, A, Hz, and "" for a power factor or a plain number.
"""

from ._errors import ModbusMapError
from ._types import TYPES, WORD_ORDERS, width

FUNCTIONS = {"holding": 3, "input": 4}
# Modbus Application Protocol 1.1b3 §6.3, §6.4: a read of holding or input
# registers asks for 1 to 125 registers (the reply's 250 data bytes fill a
# 256-byte RTU frame with address, function, byte count and CRC).
MAX_READ_REGISTERS = 125


class RegisterItem:
    """One value of a meter: where it is and how to turn its registers into a number.

    ``value = raw / 10**scale_decimals``, then rounded to ``decimals``.

    Attributes:
        name: our item name (shared with DL/T 645 where the meaning matches).
        address: first register (0-based, as sent on the wire).
        dtype: "u16", "s16", "u32", "s32" or "f32".
        scale_decimals: the register counts units of 10**-scale_decimals of ``unit``.
        decimals: decimals of the decoded value (the meter's resolution).
        unit: "kWh", "V", ... or "".
        code: the maker's name for it (e.g. "Ua", "ImpEp").
        description: one line on what it is.
        registers: number of registers (from dtype).
    """

    def __init__(self, name, address, dtype, scale_decimals, decimals, unit, code, description):
        self.name = name
        self.address = address
        self.dtype = dtype
        self.scale_decimals = scale_decimals
        self.decimals = decimals
        self.unit = unit
        self.code = code
        self.description = description
        self.registers = width(dtype) if dtype in TYPES else 0

    @property
    def end(self):
        """Address just after the item's last register."""
        return self.address + self.registers

    @property
    def scale(self):
        """Units of ``unit`` per register count, e.g. 0.1 for a register in 0.1 V."""
        return 10.0 ** -self.scale_decimals

    def __repr__(self):
        return "RegisterItem(%r, 0x%04X, %s, %s)" % (self.name, self.address, self.dtype, self.unit or "-")


class MeterModel:
    """The register map of one meter model.

    Attributes:
        name: model id, lower case (e.g. "dtsu666").
        title: maker and model as printed (e.g. "CHINT DTSU666").
        phases: 1 or 3.
        description: one line.
        function: "holding" (read with function code 03) or "input" (04).
        function_code: 3 or 4.
        word_order: "big" (high word first, ABCD) or "little" (CDAB) for 32-bit values.
        byte_order: "big" (high byte first inside each register, the Modbus rule).
        max_registers: most registers the meter answers in one read.
        default_baud, default_parity: the factory serial settings (RTU).
        items: RegisterItem tuple, sorted by address.
        sources: where the facts come from (public datasheets and manuals).

    Raises:
        ModbusMapError: the table breaks an invariant (see the module docstring).
    """

    def __init__(self, name, title, phases, description, function, word_order, items, max_registers=125,
                 byte_order="big", default_baud=9600, default_parity="N", sources=()):
        self.name = name
        self.title = title
        self.phases = phases
        self.description = description
        self.function = function
        self.word_order = word_order
        self.byte_order = byte_order
        self.max_registers = max_registers
        self.default_baud = default_baud
        self.default_parity = default_parity
        self.sources = tuple(sources)
        self.items = tuple(sorted(items, key=lambda i: i.address))
        self._by_name = {}
        self._by_address = {}
        self._check()
        for item in self.items:
            self._by_name[item.name] = item
            self._by_address[item.address] = item

    @property
    def function_code(self):
        return FUNCTIONS[self.function]

    def _fail(self, message, item=None):
        raise ModbusMapError("model %s: %s" % (self.name, message), model=self.name, item=item)

    def _check(self):
        if self.function not in FUNCTIONS:
            self._fail("function must be \"holding\" or \"input\", got %r" % (self.function,))
        if self.word_order not in WORD_ORDERS:
            self._fail("word_order must be \"big\" or \"little\", got %r" % (self.word_order,))
        if self.byte_order != "big":
            self._fail("byte_order must be \"big\" (swapped bytes are not supported), got %r" % (self.byte_order,))
        if self.phases not in (1, 3):
            self._fail("phases must be 1 or 3, got %r" % (self.phases,))
        if not 1 <= self.max_registers <= MAX_READ_REGISTERS:
            self._fail("max_registers must be 1-%d, got %r" % (MAX_READ_REGISTERS, self.max_registers))
        names = set()
        end = -1
        previous = None
        for item in self.items:
            if item.dtype not in TYPES:
                self._fail("item %s: type must be one of %s, got %r"
                           % (item.name, ", ".join(sorted(TYPES)), item.dtype), item.name)
            if item.name in names:
                self._fail("item name %s appears twice" % item.name, item.name)
            names.add(item.name)
            if not 0 <= item.address <= 0xFFFF - item.registers + 1:
                self._fail("item %s: address 0x%X is outside 0x0000-0xFFFF" % (item.name, item.address), item.name)
            if item.address < end:
                self._fail("item %s at 0x%04X overlaps %s (0x%04X-0x%04X)"
                           % (item.name, item.address, previous.name, previous.address, end - 1), item.name)
            if not (type(item.scale_decimals) is int and 0 <= item.scale_decimals <= 9):
                self._fail("item %s: scale_decimals must be 0-9, got %r" % (item.name, item.scale_decimals), item.name)
            if not (type(item.decimals) is int and 0 <= item.decimals <= 9):
                self._fail("item %s: decimals must be 0-9, got %r" % (item.name, item.decimals), item.name)
            if item.registers > self.max_registers:
                self._fail("item %s takes %d registers, more than max_registers %d"
                           % (item.name, item.registers, self.max_registers), item.name)
            end = item.end
            previous = item

    def item(self, name):
        """The RegisterItem called ``name``, or None."""
        return self._by_name.get(name)

    def item_at(self, address):
        """The RegisterItem starting at register ``address``, or None."""
        return self._by_address.get(address)

    def item_names(self):
        """Item names in address order."""
        return [item.name for item in self.items]

    def __repr__(self):
        return "MeterModel(%r, %d phase(s), %d items)" % (self.name, self.phases, len(self.items))
