"""The concentrator (集中器): reads the meters of a transformer area.

Today: the first read path, a line transport over pyserial URLs, single reads,
meter search by wildcard addresses, and a frame decoder for captured bytes,
behind the ``concentrator`` command. Later: the meter archive, one scheduler
per line, reading cycles, anomalies and line loss.
"""
