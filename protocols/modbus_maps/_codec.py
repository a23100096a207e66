"""Model lookup and the conversion of one item between registers and a number.

``decode`` turns the registers of one item into ``(value, unit)``;
``encode`` turns a value back into registers (the simulated meter's side).
Both check everything they are given and raise ``ModbusMapError``
subclasses naming the model, the item and its register address: they
never return None for bad input and never crash on any list of ints.
"""

import math

from ._chint import DDSU666, DTSU666
from ._errors import RegisterError, UnknownItemError, UnknownModelError, ValueDecodeError, ValueEncodeError
from ._model import MeterModel, RegisterItem
from ._types import F32_MAX, int_limits, raw_to_words, words_to_raw

# Every supported model; a new one is imported from its maker's module and added here.
MODELS = (DTSU666, DDSU666)
_BY_NAME = {}
for _model in MODELS:
    _BY_NAME[_model.name] = _model


def model_names():
    """Sorted ids of the supported models, e.g. ["ddsu666", "dtsu666"]."""
    return sorted(_BY_NAME)


def get_model(name):
    """The MeterModel of a model id (case and "-"/"_" ignored: "DTSU-666" works).

    Args:
        name: model id, or a MeterModel (returned as is).

    Returns:
        MeterModel.

    Raises:
        UnknownModelError: no such model; the message lists the known ones.
    """
    if isinstance(name, MeterModel):
        return name
    key = name.lower().replace("-", "").replace("_", "") if isinstance(name, str) else None
    model = _BY_NAME.get(key)
    if model is None:
        raise UnknownModelError("unknown Modbus meter model %r; known models: %s" % (name, ", ".join(model_names())),
                                expected=model_names(), got=name)
    return model


def resolve(model, item):
    """(MeterModel, RegisterItem) from names or objects.

    Raises:
        UnknownModelError, UnknownItemError.
    """
    model = get_model(model)
    if isinstance(item, RegisterItem):
        if model.item(item.name) is not item:
            raise UnknownItemError("item %s is not an item of model %s" % (item.name, model.name),
                                   model=model.name, item=item.name)
        return model, item
    found = model.item(item) if isinstance(item, str) else None
    if found is None:
        raise UnknownItemError("model %s has no item %r; it has: %s"
                               % (model.name, item, ", ".join(model.item_names())),
                               model=model.name, item=item, expected=model.item_names(), got=item)
    return model, found


def _where(model, item):
    return "%s %s (register 0x%04X, %s)" % (model.name, item.name, item.address, item.dtype)


def decode(model, item, registers):
    """The value an item's registers hold.

    Args:
        model: model id or MeterModel.
        item: item name or RegisterItem.
        registers: the item's registers, ints 0..65535, as many as the item takes.

    Returns:
        (value, unit): value an int when the item has no decimals, else a float
        rounded to the item's decimals; unit text ("" for none).

    Raises:
        UnknownModelError, UnknownItemError: bad model or item.
        RegisterError: wrong number of registers, or one not an int 0..65535.
        ValueDecodeError: a float item holds NaN or infinity.
    """
    model, item = resolve(model, item)
    try:
        words = list(registers)
    except TypeError:
        raise RegisterError("%s: registers must be a list of ints, got %r" % (_where(model, item), registers),
                            model=model.name, item=item.name, expected="list", got=registers) from None
    if len(words) != item.registers:
        raise RegisterError("%s: needs %d register(s), got %d" % (_where(model, item), item.registers, len(words)),
                            model=model.name, item=item.name, expected=item.registers, got=len(words))
    for i, word in enumerate(words):
        if type(word) is not int or not 0 <= word <= 0xFFFF:
            raise RegisterError("%s: register %d (0x%04X) must be an int 0..65535, got %r"
                                % (_where(model, item), i, item.address + i, word),
                                model=model.name, item=item.name, expected="0..65535", got=word)
    raw = words_to_raw(item.dtype, words, model.word_order)
    if item.dtype == "f32" and (math.isnan(raw) or math.isinf(raw)):
        raise ValueDecodeError("%s: registers %s hold %s, not a number"
                               % (_where(model, item), " ".join("%04X" % w for w in words), raw),
                               model=model.name, item=item.name, expected="a finite float", got=words)
    value = raw / 10 ** item.scale_decimals
    if item.decimals == 0:
        value = int(round(value))
    else:
        value = round(value, item.decimals)
    return value, item.unit


def encode(model, item, value):
    """The registers that make ``decode`` give back ``value`` (rounded to the item's decimals).

    Args:
        model: model id or MeterModel.
        item: item name or RegisterItem.
        value: int or float in the item's unit.

    Returns:
        list of register ints 0..65535.

    Raises:
        UnknownModelError, UnknownItemError: bad model or item.
        ValueEncodeError: value not a finite number, or out of the type's range.
    """
    model, item = resolve(model, item)
    if type(value) not in (int, float) or (type(value) is float and not math.isfinite(value)):
        raise ValueEncodeError("%s: value must be a finite number, got %r" % (_where(model, item), value),
                               model=model.name, item=item.name, expected="a finite number", got=value)
    # Round in the item's resolution first, so that the register holds the
    # same number the meter's display would show.
    raw = round(value * 10 ** item.scale_decimals, item.decimals - item.scale_decimals)
    limits = int_limits(item.dtype)
    if limits is None:
        if abs(raw) > F32_MAX:
            raise ValueEncodeError("%s: %r is too large for a float32" % (_where(model, item), value),
                                   model=model.name, item=item.name, expected="|value| <= 3.4e38", got=value)
        return raw_to_words("f32", float(raw), model.word_order)
    raw = int(raw + 0.5) if raw >= 0 else -int(-raw + 0.5)
    if not limits[0] <= raw <= limits[1]:
        low, high = (x / 10 ** item.scale_decimals for x in limits)
        raise ValueEncodeError("%s: %r is out of range %g..%g" % (_where(model, item), value, low, high),
                               model=model.name, item=item.name, expected=(low, high), got=value)
    return raw_to_words(item.dtype, raw, model.word_order)
