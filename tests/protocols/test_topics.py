"""The MQTT topic scheme (protocols.topics): builders, parser, filters.

A small MQTT filter matcher written here from MQTT 3.1.1 §4.7 checks what
the subscriptions really match, so the claim "the records subscription never
sees control or status topics" is tested, not asserted in a comment.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.topics import (CHANNELS, DEVICE_KINDS, IDENTIFIER_PATTERN, Topic, TopicError, ack_topic, check_filter,
                              command_topic, device_records_filter, device_subscriptions, is_identifier,
                              parse_topic, record_topic, records_subscription, resend_topic, shared_subscription,
                              status_topic)

RECORD_KINDS = ("reading", "frozen", "event", "anomaly", "lineloss", "cycle", "ticket", "call", "payment",
                "settlement", "rating", "health")


def mqtt_matches(topic_filter, topic):
    """True when ``topic`` matches ``topic_filter`` (MQTT 3.1.1 §4.7.1-4.7.2).

    '+' matches exactly one level (an empty one too), '#' the parent level and
    any number of levels below; a filter starting with a wildcard does not
    match topics starting with '$'.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    for index, f in enumerate(f_levels):
        if f == "#":
            return True
        if index >= len(t_levels):
            return False
        if f != "+" and f != t_levels[index]:
            return False
    return len(f_levels) == len(t_levels)


def test_matcher_itself():
    """The helper follows the spec's own examples (MQTT 3.1.1 §4.7.1.2-3)."""
    assert mqtt_matches("sport/tennis/player1/#", "sport/tennis/player1")
    assert mqtt_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking")
    assert mqtt_matches("sport/#", "sport")
    assert mqtt_matches("sport/tennis/+", "sport/tennis/player1")
    assert not mqtt_matches("sport/tennis/+", "sport/tennis/player1/ranking")
    assert not mqtt_matches("sport/+", "sport")
    assert mqtt_matches("sport/+", "sport/")
    assert mqtt_matches("+/+", "/finance")
    assert not mqtt_matches("#", "$SYS/broker")


# ---- builders ---------------------------------------------------------------

def test_builders_give_the_architecture_shapes():
    assert record_topic("h1", "concentrator", "conc-01", "reading") == "hall/h1/concentrator/conc-01/reading"
    assert record_topic("h1", "kiosk", "k-7", "payment") == "hall/h1/kiosk/k-7/payment"
    assert ack_topic("h1", "conc-01") == "hall/h1/ack/conc-01"
    assert resend_topic("h1", "conc-01") == "hall/h1/resend/conc-01"
    assert command_topic("h1", "conc-01") == "hall/h1/command/conc-01"
    assert status_topic("h1", "conc-01") == "hall/h1/status/conc-01"
    assert records_subscription("h1") == "hall/h1/+/+/+"
    assert device_records_filter("h1", "kiosk", "k-7") == "hall/h1/kiosk/k-7/+"
    assert device_subscriptions("h1", "k-7") == ("hall/h1/ack/k-7", "hall/h1/resend/k-7", "hall/h1/command/k-7")
    assert shared_subscription("hall", "hall/h1/+/+/+") == "$share/hall/hall/h1/+/+/+"


@pytest.mark.parametrize("bad", ["", "H1", "h/1", "h+", "h#", "-h1", "h 1", "$sys", "h\x00", "é", "a" * 64, None, 7,
                                 b"h1"])
def test_invalid_ids_are_refused_by_every_builder(bad):
    builders = [lambda x: record_topic(x, "kiosk", "k1", "reading"),
                lambda x: record_topic("h1", "kiosk", x, "reading"),
                lambda x: record_topic("h1", "kiosk", "k1", x),
                lambda x: ack_topic(x, "k1"), lambda x: ack_topic("h1", x),
                lambda x: resend_topic("h1", x), lambda x: command_topic("h1", x),
                lambda x: status_topic(x, "k1"), lambda x: status_topic("h1", x),
                records_subscription,
                lambda x: device_records_filter("h1", "kiosk", x),
                lambda x: device_subscriptions(x, "k1"),
                lambda x: shared_subscription(x, "hall/h1/+/+/+")]
    for build in builders:
        with pytest.raises(TopicError) as info:
            build(bad)
        assert IDENTIFIER_PATTERN in info.value.message
        assert info.value.got == bad


def test_identifier_limits():
    assert is_identifier("a")
    assert is_identifier("0")
    assert is_identifier("a" * 63)
    assert not is_identifier("a" * 64)
    assert is_identifier("conc-01-")
    assert not is_identifier("conc_01")


@pytest.mark.parametrize("bad", ["meter", "Kiosk", "concentrators", "", None])
def test_unknown_device_kinds_are_refused(bad):
    with pytest.raises(TopicError, match="device kind"):
        record_topic("h1", bad, "k1", "reading")
    with pytest.raises(TopicError, match="device kind"):
        device_records_filter("h1", bad, "k1")


def test_control_words_are_not_device_kinds():
    """Record topics can never take the 4-level topics' channel words at level 2."""
    assert not set(CHANNELS) & set(DEVICE_KINDS)


# ---- parser -----------------------------------------------------------------

ids = st.from_regex(IDENTIFIER_PATTERN, fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(hall=ids, device_kind=st.sampled_from(DEVICE_KINDS), device=ids, kind=ids)
def test_record_topic_round_trips(hall, device_kind, device, kind):
    topic = record_topic(hall, device_kind, device, kind)
    parsed = parse_topic(topic)
    assert parsed == Topic("record", hall, device_kind, device, kind)
    assert str(parsed) == topic


@settings(max_examples=200, deadline=None)
@given(hall=ids, device=ids, channel=st.sampled_from(["ack", "resend", "command", "status"]))
def test_device_topics_round_trip(hall, device, channel):
    build = {"ack": ack_topic, "resend": resend_topic, "command": command_topic, "status": status_topic}[channel]
    topic = build(hall, device)
    parsed = parse_topic(topic)
    assert parsed == Topic(channel, hall, None, device, None)
    assert parsed.channel == channel and parsed.device == device and parsed.hall == hall
    assert str(parsed) == topic


@pytest.mark.parametrize("topic, level, words", [
    ("other/h1/ack/k1", 0, "not a hall topic"),
    ("", 0, "not a hall topic"),
    ("/hall/h1/ack/k1", 0, "not a hall topic"),
    ("$SYS/broker/uptime", 0, "not a hall topic"),
    ("hall/h1/ack", None, "3 levels"),
    ("hall/h1/kiosk/k1/reading/extra", None, "6 levels"),
    ("hall/H1/ack/k1", 1, "hall id"),
    ("hall/h1/ack/k1/", 2, "device kind"),
    ("hall/h1/meter/k1/reading", 2, "device kind"),
    ("hall/h1/ack/k1/reading", 2, "device kind"),
    ("hall/h1/kiosk/K1/reading", 3, "device id"),
    ("hall/h1/kiosk/k1/Reading", 4, "record kind"),
    ("hall/h1/kiosk/k1/", 4, "record kind"),
    ("hall/h1/reading/k1", 2, "channel"),
    ("hall/h1/kiosk/k1", 2, "channel"),
    ("hall/h1/status/", 3, "device id"),
    ("hall//ack/k1", 1, "hall id"),
])
def test_wrong_and_foreign_topics_are_refused_with_the_level(topic, level, words):
    with pytest.raises(TopicError) as info:
        parse_topic(topic)
    assert words in info.value.message
    assert info.value.level == level
    assert info.value.topic == topic


@pytest.mark.parametrize("topic", ["hall/h1/+/k1/reading", "hall/h1/ack/#", "hall/+/ack/k1"])
def test_filters_are_not_topics(topic):
    with pytest.raises(TopicError, match="filter, not a topic"):
        parse_topic(topic)


@pytest.mark.parametrize("topic", [None, b"hall/h1/ack/k1", 5])
def test_non_text_topics_are_refused(topic):
    with pytest.raises(TopicError, match="must be text"):
        parse_topic(topic)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_random_text_only_parses_or_raises_topic_error(text):
    try:
        parsed = parse_topic(text)
    except TopicError:
        return
    assert str(parsed) == text


# ---- subscriptions ----------------------------------------------------------

HALL_TOPICS = [record_topic("h1", dk, dev, kind) for dk in DEVICE_KINDS for dev in ("k1", "conc-01")
               for kind in RECORD_KINDS]
OTHER_TOPICS = [build("h1", dev) for build in (ack_topic, resend_topic, command_topic, status_topic)
                for dev in ("k1", "conc-01", "ack", "kiosk")]


def test_records_subscription_matches_record_topics_only():
    sub = records_subscription("h1")
    for topic in HALL_TOPICS:
        assert mqtt_matches(sub, topic), topic
    for topic in OTHER_TOPICS:
        assert not mqtt_matches(sub, topic), topic
    # nor another hall's records
    assert not mqtt_matches(sub, record_topic("h2", "kiosk", "k1", "reading"))


def test_device_subscriptions_never_match_records_or_other_devices():
    subs = device_subscriptions("h1", "k1")
    for topic in HALL_TOPICS:
        assert not any(mqtt_matches(s, topic) for s in subs)
    for topic in OTHER_TOPICS:
        parsed = parse_topic(topic)
        matched = any(mqtt_matches(s, topic) for s in subs)
        assert matched == (parsed.device == "k1" and parsed.channel != "status"), topic


def test_device_records_filter_matches_only_that_device():
    f = device_records_filter("h1", "kiosk", "k1")
    for topic in HALL_TOPICS + OTHER_TOPICS:
        parsed = parse_topic(topic)
        assert mqtt_matches(f, topic) == (parsed.channel == "record" and parsed.device == "k1"
                                          and parsed.device_kind == "kiosk"), topic


def test_shared_subscription_strips_to_the_same_filter():
    """A broker delivers $share/{group}/{filter} by {filter} (MQTT 5.0 §4.8.2)."""
    shared = shared_subscription("hall-ingest", records_subscription("h1"))
    group, _, plain = shared[len("$share/"):].partition("/")
    assert group == "hall-ingest"
    assert plain == records_subscription("h1")


@pytest.mark.parametrize("bad, words", [
    ("", "non-empty"),
    ("hall/h1/a+/x", "mixes a wildcard"),
    ("hall/#/x", "must be the last"),
    ("hall/h1/#x", "mixes a wildcard"),
    ("$share/g/hall/#", "already a shared"),
    ("a\x00b", "NUL"),
])
def test_shared_subscription_checks_the_filter(bad, words):
    with pytest.raises(TopicError, match=words):
        shared_subscription("g", bad)


def test_check_filter_accepts_wildcards_in_whole_levels():
    for good in ("#", "+", "hall/+/+/+", "hall/h1/#", "a//b"):
        assert check_filter(good) == good
