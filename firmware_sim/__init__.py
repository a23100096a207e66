"""Software stand-ins for every piece of hall hardware.

Meter firmware that speaks DL/T 645 from its own state (written in the
MicroPython subset, so it also runs on the real ``micropython`` binary), the
RS-485 bus that joins many meters on one pty or TCP port with wire timing,
collisions and faults, and later the Modbus meters, kiosk peripherals and the
billing back office. Only tests, benchmarks and the demo import this package.
"""
