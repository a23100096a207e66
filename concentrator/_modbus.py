"""Reading Modbus meters through pymodbus: the thin adapter of the Modbus read path.

``ModbusLine`` owns one pymodbus sync client: Modbus TCP for a
``tcp://HOST:PORT`` URL, RTU framing over pyserial for anything else (a
serial port, a pty path, ``socket://HOST:PORT`` for an RTU-over-TCP serial
gateway). ``read_modbus`` and ``read_modbus_items`` plan the requests with
``protocols.modbus_maps`` (contiguous items share one request), move the
registers, and decode them with the same map the simulated meter encodes
with. Results are ``Reading`` objects (std "modbus", di = the item's first
register address, 4 hex digits in ``as_dict``, as READING_V1 wants).

Errors are translated at this boundary, so callers see only the
concentrator family:

* no reply in time (a dead unit, a wrong unit id or rate) -> ``ReplyTimeout``
  after ``retries`` more attempts, as for DL/T 645 (M-09 acquisition failure);
* an exception reply -> ``ModbusExceptionReply`` (an ``AbnormalReply``): the
  meter's answer, never retried;
* a reply that holds no number (NaN), has the wrong register count, or
  answers for another unit -> ``BadReply``;
* a port that cannot be opened or a lost connection -> ``LineError``;
* an unknown model or item -> ``ConcentratorError``.
"""

import time

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from protocols.modbus_maps import FUNCTIONS, ModbusMapError, decode_block, get_model, plan_reads

from ._errors import AbnormalReply, BadReply, ConcentratorError, LineError, ReplyTimeout
from ._reader import Reading

DEFAULT_MODBUS_TIMEOUT_S = 1.0
# Modbus over Serial Line V1.02 §2.5.1: unit ids 1-247 answer; 0 is broadcast (no reply).
MIN_UNIT = 1
MAX_UNIT = 247
EXCEPTION_MEANINGS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                      4: "server device failure", 5: "acknowledge", 6: "server device busy",
                      8: "memory parity error", 10: "gateway path unavailable",
                      11: "gateway target device failed to respond"}
_PARITIES = ("N", "E", "O")


class ModbusExceptionReply(AbnormalReply):
    """The meter answered a Modbus exception reply (MODBUS Application Protocol §7).

    Attributes:
        unit: the unit id asked; function_code: the request's function code;
        exception_code: the code (1-255); meaning: its text;
        address: the meter's 12-digit address when the caller gave one, else None;
        error_bits, meanings: the code and [meaning], like a DL/T 645 abnormal reply;
        frame: None (no DL/T 645 frame).
    """

    def __init__(self, message, unit, function_code, exception_code, address=None):
        ConcentratorError.__init__(self, message)
        self.frame = None
        self.unit = unit
        self.function_code = function_code
        self.exception_code = exception_code
        self.meaning = EXCEPTION_MEANINGS.get(exception_code, "unknown exception code")
        self.address = address
        self.error_bits = exception_code
        self.meanings = [self.meaning]


class ModbusReading(Reading):
    """A ``Reading`` of a Modbus meter: std "modbus", di = first register address.

    Extra attributes: unit_id (Modbus unit id), model (model id).
    """

    def __init__(self, address, unit_id, model, item, value, unit, frames, elapsed_s):
        super().__init__(address, "modbus", item.address, item.name, value, unit, frames, elapsed_s)
        self.unit_id = unit_id
        self.model = model

    def as_dict(self):
        return {"address": self.address, "std": "modbus", "di": "%04X" % self.di, "name": self.name,
                "value": self.value, "unit": self.unit, "frames": self.frames,
                "elapsed_ms": round(self.elapsed_s * 1000, 1), "unit_id": self.unit_id, "model": self.model}


class ModbusLine:
    """A master's end of one Modbus line (RTU bus or Modbus TCP device/gateway).

    Args:
        url: ``tcp://HOST:PORT`` for Modbus TCP; otherwise a pyserial URL or
            path, read with RTU framing (a serial port, a pty, ``socket://``).
        baud, parity: serial settings (8 data bits, 1 stop bit); ignored on TCP.
            CHINT meters leave the factory at 9600 8N1.
        timeout_s: how long to wait for each reply.

    Use as a context manager, or call ``open()`` and ``close()``.

    Raises:
        LineError: a bad URL or settings (here), or the port cannot be opened (``open``).
    """

    def __init__(self, url, baud=9600, parity="N", timeout_s=DEFAULT_MODBUS_TIMEOUT_S):
        if parity not in _PARITIES:
            raise LineError("parity must be one of %s, got %r" % (", ".join(_PARITIES), parity))
        if not timeout_s > 0:
            raise LineError("timeout_s must be > 0, got %r" % (timeout_s,))
        self.url = url
        self.baud = baud
        self.parity = parity
        self.timeout_s = timeout_s
        if url.startswith("tcp://"):
            host, _, port = url[len("tcp://"):].rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise LineError("Modbus TCP URL must be tcp://HOST:PORT, got %r" % url)
            self.transport = "tcp"
            # pymodbus retries are ours to count (read_modbus retries=), so it gets none.
            self._client = ModbusTcpClient(host, port=int(port), timeout=timeout_s, retries=0)
        else:
            self.transport = "rtu"
            self._client = ModbusSerialClient(port=url, framer=FramerType.RTU, baudrate=baud, bytesize=8,
                                              parity=parity, stopbits=1, timeout=timeout_s, retries=0)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def _where(self):
        return self.url if self.transport == "tcp" else "%s at %d baud, 8%s1" % (self.url, self.baud, self.parity)

    def open(self):
        """Connect (TCP) or open the serial port. Returns self.

        Raises:
            LineError: it cannot be opened.
        """
        try:
            ok = self._client.connect()
        except (ModbusException, OSError, ValueError) as exc:
            raise LineError("cannot open Modbus line %s: %s" % (self._where(), exc)) from exc
        if not ok:
            raise LineError("cannot open Modbus line %s" % self._where())
        return self

    def close(self):
        self._client.close()

    def read_registers(self, unit, function, address, count, meter=None):
        """One read request: ``count`` registers from ``address`` of unit ``unit``.

        Args:
            unit: Modbus unit id 1-247.
            function: "holding" (03) or "input" (04).
            address, count: first register and number of registers (1-125).
            meter: the meter's 12-digit address, for messages and errors.

        Returns:
            list of register ints.

        Raises:
            ReplyTimeout, ModbusExceptionReply, BadReply, LineError (see the module docstring).
        """
        who = "unit %d%s on %s" % (unit, " (meter %s)" % meter if meter else "", self.url)
        what = "read %s registers 0x%04X count %d" % (function, address, count)
        call = self._client.read_holding_registers if function == "holding" else self._client.read_input_registers
        try:
            reply = call(address, count=count, device_id=unit)
        except ConnectionException as exc:
            raise LineError("Modbus line %s failed during %s of %s: %s" % (self._where(), what, who, exc)) from exc
        except ModbusIOException as exc:
            if "No response" in str(exc):
                raise ReplyTimeout("no reply from %s within %.2f s to %s" % (who, self.timeout_s, what),
                                   address=meter or unit, timeout_s=self.timeout_s) from exc
            raise BadReply("reply from %s to %s is not the one asked for: %s" % (who, what, exc)) from exc
        except ModbusException as exc:
            raise BadReply("reply from %s to %s is malformed: %s" % (who, what, exc)) from exc
        if reply.isError():
            code = getattr(reply, "exception_code", None)
            raise ModbusExceptionReply("%s answered exception %02d (%s) to %s"
                                       % (who, code or 0, EXCEPTION_MEANINGS.get(code, "unknown exception code"),
                                          what), unit, FUNCTIONS[function], code, meter)
        registers = list(reply.registers)
        if len(registers) != count:
            raise BadReply("reply from %s to %s carries %d registers, expected %d" % (who, what, len(registers), count))
        return registers


def _check(unit, model, retries):
    if type(unit) is not int or not MIN_UNIT <= unit <= MAX_UNIT:
        raise ConcentratorError("Modbus unit id must be %d-%d, got %r" % (MIN_UNIT, MAX_UNIT, unit))
    if type(retries) is not int or retries < 0:
        raise ConcentratorError("retries must be a whole number >= 0, got %r" % (retries,))
    try:
        return get_model(model)
    except ModbusMapError as exc:
        raise ConcentratorError(str(exc)) from exc


def _read_with_retries(line, unit, request, meter, retries):
    """(registers, requests sent) for one planned request; retries only on silence."""
    last = None
    for attempt in range(retries + 1):
        try:
            return line.read_registers(unit, request.function, request.address, request.count, meter), attempt + 1
        except ReplyTimeout as exc:
            last = exc
    if retries:
        last.args = ("%s, %d attempts" % (last.args[0], retries + 1),)
    raise last


def read_modbus_items(line, unit, model, items=None, meter=None, retries=2, max_registers=None, max_gap=0):
    """Read several items of one Modbus meter in as few requests as the map allows.

    Args:
        line: an open ModbusLine.
        unit: Modbus unit id 1-247.
        model: model id (e.g. "dtsu666") or a MeterModel.
        items: item names; None for every item of the model.
        meter: the meter's 12-digit nameplate address (copied into each Reading), or None.
        retries: extra attempts of a request after silence.
        max_registers, max_gap: request limits (see ``protocols.modbus_maps.plan_reads``).

    Returns:
        list of ModbusReading in register order; ``frames`` counts the
        requests (retries included) of the request that carried the item.

    Raises:
        ReplyTimeout: no reply after every attempt.
        ModbusExceptionReply: the meter refused (exception code says why).
        BadReply: a reply with the wrong size or without a number in it.
        LineError: the line failed.
        ConcentratorError: bad unit id, model, item or limits.
    """
    model = _check(unit, model, retries)
    try:
        plan = plan_reads(model, items, max_registers=max_registers, max_gap=max_gap)
    except ModbusMapError as exc:
        raise ConcentratorError(str(exc)) from exc
    out = []
    for request in plan:
        started = time.monotonic()
        registers, frames = _read_with_retries(line, unit, request, meter, retries)
        elapsed = time.monotonic() - started
        try:
            values = decode_block(model, request, registers)
        except ModbusMapError as exc:
            raise BadReply("reply from unit %d on %s: %s" % (unit, line.url, exc)) from exc
        for item in request.items:
            value, item_unit = values[item.name]
            out.append(ModbusReading(meter, unit, model.name, item, value, item_unit, frames, elapsed))
    return out


def read_modbus(line, unit, model, item, meter=None, retries=2):
    """Read one item of one Modbus meter.

    Args:
        line: an open ModbusLine.
        unit: Modbus unit id 1-247.
        model: model id or MeterModel.
        item: item name, e.g. "forward_active_total".
        meter: the meter's 12-digit nameplate address, or None.
        retries: extra attempts after silence.

    Returns:
        ModbusReading.

    Raises:
        as ``read_modbus_items``.
    """
    if not isinstance(item, str):
        raise ConcentratorError("item must be an item name, got %r" % (item,))
    return read_modbus_items(line, unit, model, [item], meter=meter, retries=retries)[0]
