"""The [queue] table: the sample loads, and every wrong key is named with its file (promise 6)."""

import copy

import pytest

from kiosk.queue import QueueConfig, QueueConfigError, load_config
from queue_setup import BASE

SAMPLE = "kiosk/samples/queue.toml"


def test_sample_loads_with_requirement_limits_Q06():
    cfg = load_config(SAMPLE)
    assert cfg.businesses["payment"].limit_s == 180 and cfg.businesses["new"].limit_s == 600
    assert cfg.businesses["new"].alarm_s == 1200
    assert cfg.order[-1] == "normal" and cfg.policy == "ageing" and cfg.ageing_bound_s == 1200
    assert len(cfg.counters) == 8 and cfg.counters["vip"].classes == {"green", "vip"}
    assert cfg.businesses["change.rename"].category == "A"


def with_change(path, value):
    table = copy.deepcopy(BASE)
    node = table
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return table


BAD = [
    (("opens",), "8:30", "queue.opens"),
    (("closes",), "08:00", "queue.closes"),
    (("timezone",), "Mars/Olympus", "queue.timezone"),
    (("digits",), 9, "queue.digits"),
    (("colour",), "red", "queue.colour"),
    (("priority", "policy"), "random", "queue.priority.policy"),
    (("priority", "order"), ["normal", "green"], "queue.priority.order"),
    (("priority", "order"), ["gold", "normal"], "queue.priority.order"),
    (("priority", "ageing_bound_min"), 0, "queue.priority.ageing_bound_min"),
    (("priority", "desk_only"), ["normal"], "queue.priority.desk_only"),
    (("no_show", "recalls"), -1, "queue.no_show.recalls"),
    (("no_show", "requeue"), "front", "queue.no_show.requeue"),
    (("category", "a1"), {"name": "x"}, "queue.category.a1"),
    (("category", "C"), {"name": "Unused"}, "queue.category.C"),
    (("business", "Payment"), {"category": "B"}, "queue.business.Payment"),
    (("business", "payment", "category"), "Z", "queue.business.payment.category"),
    (("business", "payment", "limit_min"), "3", "queue.business.payment.limit_min"),
    (("business", "change.rename", "alarm_min"), 5, 'queue.business."change.rename".alarm_min'),
    (("counter", "W1"), {"categories": ["A"]}, "queue.counter.W1"),
    (("counter", "w1", "categories"), [], "queue.counter.w1.categories"),
    (("counter", "w1", "categories"), ["A", "A"], "queue.counter.w1.categories"),
    (("counter", "w1", "classes"), ["gold"], "queue.counter.w1.classes"),
    (("counter",), {"w2": {"categories": ["B"]}}, "queue.category.A"),
    (("counter",), {"w1": {"categories": ["A", "B"], "classes": ["vip", "green"]}}, "queue.category.A"),
    (("business",), KeyError, "queue.business"),
]


@pytest.mark.parametrize("path,value,key", BAD, ids=[b[2] + "=" + repr(b[1])[:20] for b in BAD])
def test_bad_key_is_named_with_file(path, value, key):
    with pytest.raises(QueueConfigError) as err:
        QueueConfig.from_dict(with_change(path, value), "hall.toml")
    assert err.value.key == key
    assert str(err.value).startswith("hall.toml: %s: expected " % key)


def test_bad_files(tmp_path):
    bad = tmp_path / "q.toml"
    bad.write_text("[queue\n")
    with pytest.raises(QueueConfigError, match="q.toml: \\(file\\): expected valid TOML"):
        load_config(bad)
    bad.write_text("[device]\nkind = 'kiosk'\n")
    with pytest.raises(QueueConfigError, match="q.toml: queue: expected a \\[queue\\] table"):
        load_config(bad)
    with pytest.raises(QueueConfigError, match="readable"):
        load_config(tmp_path / "missing.toml")


def test_digest_follows_content():
    assert QueueConfig.from_dict(copy.deepcopy(BASE)).digest == QueueConfig.from_dict(copy.deepcopy(BASE)).digest
    assert QueueConfig.from_dict(with_change(("closes",), "18:00")).digest != QueueConfig.from_dict(BASE).digest
