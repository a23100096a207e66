"""The one exception family of the Modbus register maps.

Every bad input (an unknown model or item, registers of the wrong number or
outside 0..65535, a value that does not fit its register type, a word
pattern that is not a number) raises a subclass of ``ModbusMapError``. The
message says what was wrong, where (model, item, register address) and
what was expected; the same facts are kept on the exception as ``model``,
``item``, ``expected`` and ``got``.
"""


class ModbusMapError(Exception):
    """Base of every error the register maps raise.

    Attributes:
        model: the model id involved, or None.
        item: the item name involved, or None.
        expected: what was expected, or None.
        got: what was found, or None.
    """

    def __init__(self, message, model=None, item=None, expected=None, got=None):
        super().__init__(message)
        self.message = message
        self.model = model
        self.item = item
        self.expected = expected
        self.got = got


class UnknownModelError(ModbusMapError):
    """No register map has that model id."""


class UnknownItemError(ModbusMapError):
    """The model has no item of that name (or no item at that register address)."""


class RegisterError(ModbusMapError):
    """Registers given to decode are the wrong number, not ints, or outside 0..65535."""


class ValueDecodeError(ModbusMapError):
    """The registers hold no number: a float32 NaN or infinity."""


class ValueEncodeError(ModbusMapError):
    """A value does not fit the item's register type (range, NaN, not a number)."""


class PlanError(ModbusMapError):
    """A read plan cannot be made: bad register limit, or an item wider than the limit."""
