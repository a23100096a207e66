"""ModbusMeterServer: simulated Modbus meters served by a real pymodbus server.

The thin adapter around ``MeterSet``: a thread runs an asyncio loop with a
pymodbus ``ModbusTcpServer`` (Modbus TCP on a port the OS chooses) or a
``ModbusSerialServer`` (RTU framing) on one end of a ``PtyPair``. Each unit
id is a pymodbus ``SimDevice`` spanning the whole register space, so every
request reaches our action, which asks ``MeterSet.handle`` what to do and
then fills the registers, returns an exception code, sleeps (reply delay,
``slow``), or raises ``NoSuchIdException``, which pymodbus (with
``ignore_missing_devices``) answers with silence. An extra catch-all device
0 does the same for unit ids with no meter, as a real line would.

Simulation time is ``start_utc + time_scale x (monotonic - t0) + skipped``:
``time_scale`` 0 freezes the meters (energy stands still, so a test can
compare a read with ``state``) and ``advance(seconds)`` jumps ahead.
"""

import asyncio
import functools
import threading
import time

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ._config import TRANSPORTS
from ._errors import ModbusFaultError, ModbusSimConfigError, ModbusSimError, ModbusTransportError
from ._line import MeterSet
from ._transport import PtyPair

_EXC = {code.value: code for code in ExcCodes}
_START_TIMEOUT_S = 10.0


class ModbusMeterServer:
    """Simulated Modbus meters on TCP or on RTU over a pty pair.

    Use as a context manager (``with ModbusMeterServer(...) as server:``) or
    call ``start()`` and ``stop()``.

    Args:
        meters: meter config dicts (``unit``, ``model``, ...; see ``_config``).
        transport: "tcp" (Modbus TCP) or "rtu-pty" (RTU framing over a pty pair).
        host, port: where to listen with "tcp"; port 0 lets the OS choose.
        time_scale: simulated seconds per real second; 0 freezes the meters.
        start_utc: simulation start, epoch seconds; None: now.
        faults: initial faults, dicts with ``unit``, ``kind`` and parameters.
        baud: the rate the RTU server opens its pty end with (a pty ignores it).
        source: file the configuration came from, for error messages.

    Raises:
        ModbusSimConfigError: bad settings, meters or initial faults.
        ModbusTransportError: the pty pair cannot be opened.
    """

    def __init__(self, meters, transport="tcp", host="127.0.0.1", port=0, time_scale=1.0, start_utc=None,
                 faults=(), baud=9600, source=None):
        if transport not in TRANSPORTS:
            raise ModbusSimConfigError("transport must be \"tcp\" or \"rtu-pty\", got %r" % (transport,),
                                       path=source, key="transport")
        if type(time_scale) not in (int, float) or not 0 <= time_scale <= 1e6:
            raise ModbusSimConfigError("time_scale must be a number from 0 to 1000000, got %r" % (time_scale,),
                                       path=source, key="time_scale")
        self.transport = transport
        self.host = host
        self.time_scale = float(time_scale)
        self.start_utc = time.time() if start_utc is None else float(start_utc)
        self._t0 = time.monotonic()
        self._skipped_s = 0.0
        try:
            self._core = MeterSet(meters, self.start_utc)
        except ModbusSimConfigError as exc:
            exc.path = source
            if source:
                exc.args = ("%s: %s" % (source, exc.args[0]),)
            raise
        for i, fault in enumerate(faults):
            params = dict(fault)
            kind = params.pop("kind", None)
            unit = params.pop("unit", None)
            try:
                self._core.set_fault(unit, kind, **params)
            except ModbusFaultError as exc:
                raise ModbusSimConfigError("%sfault %d: %s" % ("%s: " % source if source else "", i, exc),
                                           path=source, index=i, unit=unit, key=exc.key) from exc
        self._lock = threading.Lock()
        self._requested_port = port
        self._port = None
        self._baud = baud
        self._pty = PtyPair() if transport == "rtu-pty" else None
        self._thread = None
        self._loop = None
        self._server = None
        self._ready = threading.Event()
        self._stopped = None
        self.error = None

    # ---- lifecycle --------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Start serving and wait until the server listens (idempotent). Returns self.

        Raises:
            ModbusTransportError: the server could not listen.
        """
        if self._thread is not None:
            return self
        if self._pty is not None:
            self._pty.start()
        self._thread = threading.Thread(target=self._run, name="modbus meters", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S) or self.error is not None:
            err = self.error
            self.stop(raise_error=False)
            raise ModbusTransportError("Modbus %s server did not start: %s" % (self.transport, err or "timed out")) \
                from err
        return self

    def stop(self, timeout_s=5.0, raise_error=True):
        """Stop serving and close the port or pty pair (idempotent).

        Raises:
            ModbusSimError: the serving thread had died of an unexpected error.
        """
        if self.running and self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        if self._pty is not None:
            self._pty.close()
        if raise_error and self.error is not None:
            err, self.error = self.error, None
            raise ModbusSimError("Modbus server stopped on an error: %r" % (err,)) from err

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def _devices(self):
        devices = [SimDevice(0, simdata=[SimData(0, count=65536, datatype=DataType.REGISTERS)], action=self._no_meter)]
        for unit in sorted(self._core.meters):
            devices.append(SimDevice(unit, simdata=[SimData(0, count=65536, datatype=DataType.REGISTERS)],
                                     action=functools.partial(self._action, unit)))
        return devices

    def _run(self):
        try:
            asyncio.run(self._serve())
        except BaseException as exc:     # reported by start()/stop(); the server is dead either way
            self.error = exc
            self._ready.set()

    async def _serve(self):
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self._pty is None:
            self._server = ModbusTcpServer(self._devices(), address=(self.host, self._requested_port),
                                           ignore_missing_devices=True)
        else:
            self._server = ModbusSerialServer(self._devices(), framer=FramerType.RTU, port=self._pty.server_path,
                                              baudrate=self._baud, ignore_missing_devices=True)
        await self._server.serve_forever(background=True)
        if self._pty is None:
            self._port = self._server.transport.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await self._server.shutdown()

    # ---- the pymodbus action --------------------------------------------------------

    async def _no_meter(self, function_code, start_address, address, count, registers, set_values):
        raise NoSuchIdException("no meter at this unit id")

    async def _action(self, unit, function_code, start_address, address, count, registers, set_values):
        with self._lock:
            outcome = self._core.handle(unit, function_code, address, count, self.sim_now())
        if outcome.delay_s:
            await asyncio.sleep(outcome.delay_s)
        if outcome.kind == "silent":
            raise NoSuchIdException("unit %d is silent" % unit)
        if outcome.kind == "exception":
            return _EXC.get(outcome.code, ExcCodes.DEVICE_FAILURE)
        offset = address - start_address
        registers[offset:offset + count] = outcome.words
        return None

    # ---- where, when, what -------------------------------------------------------

    @property
    def url(self):
        """What a master opens: ``tcp://HOST:PORT``, or the pty path for RTU (a pyserial URL)."""
        if self._pty is not None:
            return self._pty.client_path
        if self._port is None:
            return None
        return "tcp://%s:%d" % (self.host, self._port)

    @property
    def port(self):
        """The TCP port (None on a pty, or before start)."""
        return self._port

    @property
    def units(self):
        """Unit ids with a meter, sorted."""
        return sorted(self._core.meters)

    @property
    def meters(self):
        """SimMeter by unit id. They are live: change them only through this class."""
        return self._core.meters

    def sim_now(self):
        """Simulation UTC epoch seconds now."""
        return self.start_utc + self._skipped_s + self.time_scale * (time.monotonic() - self._t0)

    def advance(self, seconds):
        """Jump the simulation clock ``seconds`` ahead (the meters integrate the span)."""
        if type(seconds) not in (int, float) or seconds < 0:
            raise ModbusSimConfigError("advance needs seconds >= 0, got %r" % (seconds,), key="seconds")
        with self._lock:
            self._skipped_s += seconds

    def state(self, unit):
        """{item name: value} as unit ``unit``'s registers hold them now (what a read decodes to).

        Raises:
            ModbusFaultError: no meter at that unit.
        """
        with self._lock:
            return self._core.state(unit, self.sim_now())

    @property
    def stats(self):
        """Counters: requests, replies, exceptions, silent."""
        with self._lock:
            return dict(self._core.stats)

    # ---- faults -------------------------------------------------------------------

    def set_fault(self, unit, kind, **params):
        """Inject a fault now; see ``FAULT_KINDS``. Returns the fault as a dict.

        Raises:
            ModbusFaultError: unknown kind or unit, bad parameter.
        """
        with self._lock:
            return self._core.set_fault(unit, kind, **params)

    def clear_fault(self, unit=None, kind=None):
        """Remove faults of one unit (or all), of one kind (or all). Returns the number removed."""
        with self._lock:
            return self._core.clear_fault(unit, kind)

    def faults(self, unit=None):
        """Faults in force, as dicts."""
        with self._lock:
            return self._core.faults(unit)
