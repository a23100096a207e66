"""The MQTT topic scheme, in one place.

Will build and parse the topics of the architecture:
``hall/{hall}/{device-kind}/{device}/{kind}`` for records,
``hall/{hall}/ack/{device}``, ``hall/{hall}/resend/{device}`` and the retained
``hall/{hall}/status/{device}``, rejecting malformed or foreign topics.
"""
