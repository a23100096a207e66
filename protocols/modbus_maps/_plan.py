"""Read plans: which requests fetch a set of items, and decoding their replies.

A plan groups the wanted items, in address order, into as few requests as
the rules allow:

* a request covers registers ``address .. address + count - 1`` with
  ``count <= max_registers`` (the model's limit unless a lower one is given;
  never above the Modbus limit of 125, MODBUS Application Protocol §6.3);
* by default only items that touch (one ends where the next starts) share a
  request. ``max_gap`` lets a request span up to that many unmapped
  registers between items: fewer round trips on a slow line, but only for
  meters that answer reserved registers instead of refusing the whole read
  with exception 02 (illegal data address).

Every item is read whole by exactly one request; the plan is deterministic
for a given (model, items, limits).
"""

from ._codec import decode, get_model, resolve
from ._errors import PlanError, RegisterError
from ._model import MAX_READ_REGISTERS


class ReadRequest:
    """One read request of a plan.

    Attributes:
        function: "holding" or "input"; function_code: 3 or 4.
        address: first register; count: number of registers.
        items: the RegisterItems it fetches, in address order.
    """

    def __init__(self, function, function_code, address, count, items):
        self.function = function
        self.function_code = function_code
        self.address = address
        self.count = count
        self.items = tuple(items)

    def __eq__(self, other):
        return (isinstance(other, ReadRequest) and self.function_code == other.function_code
                and self.address == other.address and self.count == other.count
                and [i.name for i in self.items] == [i.name for i in other.items])

    def __repr__(self):
        return "ReadRequest(fc %d, 0x%04X, count %d, %s)" % (self.function_code, self.address, self.count,
                                                           ", ".join(i.name for i in self.items))


def plan_reads(model, items=None, max_registers=None, max_gap=0):
    """Group items into few read requests.

    Args:
        model: model id or MeterModel.
        items: item names (or RegisterItems); None for every item of the model.
            Duplicates are read once.
        max_registers: most registers per request, 1-125; None for the model's limit.
        max_gap: most unmapped registers a request may span between two items (0-125).

    Returns:
        list of ReadRequest, in address order.

    Raises:
        UnknownModelError, UnknownItemError: bad model or item name.
        PlanError: a limit out of range, or an item wider than ``max_registers``.
    """
    model = get_model(model)
    limit = model.max_registers if max_registers is None else max_registers
    if type(limit) is not int or not 1 <= limit <= MAX_READ_REGISTERS:
        raise PlanError("max_registers must be an int 1-%d, got %r" % (MAX_READ_REGISTERS, max_registers),
                        model=model.name, expected=(1, MAX_READ_REGISTERS), got=max_registers)
    if type(max_gap) is not int or not 0 <= max_gap <= MAX_READ_REGISTERS:
        raise PlanError("max_gap must be an int 0-%d, got %r" % (MAX_READ_REGISTERS, max_gap),
                        model=model.name, expected=(0, MAX_READ_REGISTERS), got=max_gap)
    if items is None:
        wanted = list(model.items)
    else:
        if isinstance(items, str):
            items = [items]
        seen = {}
        for name in items:
            item = resolve(model, name)[1]
            seen[item.name] = item
        wanted = sorted(seen.values(), key=lambda i: i.address)
    requests = []
    group = []
    for item in wanted:
        if item.registers > limit:
            raise PlanError("model %s item %s takes %d registers, more than max_registers %d"
                            % (model.name, item.name, item.registers, limit),
                            model=model.name, item=item.name, expected=limit, got=item.registers)
        if group and item.address - group[-1].end <= max_gap and item.end - group[0].address <= limit:
            group.append(item)
            continue
        if group:
            requests.append(_request(model, group))
        group = [item]
    if group:
        requests.append(_request(model, group))
    return requests


def _request(model, group):
    return ReadRequest(model.function, model.function_code, group[0].address,
                       group[-1].end - group[0].address, group)


def decode_block(model, request, registers):
    """Decode every item of a request from the registers its reply carried.

    Args:
        model: model id or MeterModel (the one the plan was made for).
        request: a ReadRequest from ``plan_reads``.
        registers: the reply's registers, exactly ``request.count`` of them.

    Returns:
        dict item name -> (value, unit), in address order.

    Raises:
        RegisterError: wrong number of registers, or a bad register value.
        ValueDecodeError: an item holds NaN or infinity (the message names it).
    """
    model = get_model(model)
    words = list(registers)
    if len(words) != request.count:
        raise RegisterError("%s read at 0x%04X: expected %d registers, got %d"
                            % (model.name, request.address, request.count, len(words)),
                            model=model.name, expected=request.count, got=len(words))
    out = {}
    for item in request.items:
        offset = item.address - request.address
        out[item.name] = decode(model, item, words[offset:offset + item.registers])
    return out


