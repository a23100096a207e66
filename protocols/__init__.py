"""Wire formats of the hall edge system, free of I/O.

Sans-I/O codecs and schemas: bytes, events and ``now`` in; bytes and events
out. No ports, sockets, threads, sleeps or clock reads live here, so every
part can be tested byte for byte and reused by devices, the hall server and the
simulator alike. This package's ``__init__`` imports nothing, so MicroPython can
import the marked sub-packages (``dlt645``) through it.
"""
