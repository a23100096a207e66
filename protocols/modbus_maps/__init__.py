"""Register maps of the supported Modbus energy meters.

Will hold, as pure data plus decode functions, the holding/input register
layout of each supported meter model (one three-phase and one single-phase
model to begin with): register addresses, word order, scaling and units, so
that the concentrator's Modbus driver and the simulated Modbus meter in
``firmware_sim`` read the same table.
"""
