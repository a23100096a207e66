"""Who a counter calls next: the priority policy, as one sort key.

Two policies (queue-systems.md "rules" 5; the requirements leave the
algorithm open, hall-requirements.md §11 item 1):

* ``strict``: by priority class in the configured order (green channel and
  VIP before ordinary, Q-10, Q-13), then by arrival. An ordinary ticket can
  wait without bound while priority tickets keep coming.
* ``ageing``: as strict, except that a ticket that has waited at least
  ``ageing_bound_s`` is "aged" and goes before every ticket that is not;
  aged tickets go by arrival. So once the bound is reached no ticket that
  arrived later is called before it by a counter that serves it; the bound
  caps how long priority can overtake, not how long a queue may be.

Arrival is the time a ticket joined its queue: its issue, kept on a
transfer (Q-04) and on a "keep" re-queue, restarted by a "back" re-queue.
The sequence number breaks ties of the same millisecond in issue order.
"""


def call_key(policy, bound_s, rank, arrival_ms, seq, now_ms):
    """The sort key of a waiting ticket at ``now_ms``: the smallest is called first.

    Args:
        policy: "strict" or "ageing".
        bound_s: the ageing bound in seconds (ignored by "strict").
        rank: the ticket's class position in the configured order (0 = first).
        arrival_ms: when it joined its queue.
        seq: its issue sequence (ties).
        now_ms: the time of the call.

    Returns:
        A tuple that orders tickets.
    """
    if policy == "ageing" and now_ms - arrival_ms >= bound_s * 1000:
        return (0, 0, arrival_ms, seq)
    return (1, rank, arrival_ms, seq)


def is_eligible(counter, category, priority, for_counter):
    """True when ``counter`` (a config ``Counter``) may call a ticket of this category and class.

    A ticket transferred to a counter (Q-04) is called by that counter only,
    whatever its category; otherwise the counter must serve the category
    (Q-03) and the class (a dedicated VIP counter, Q-13).
    """
    if for_counter is not None:
        return for_counter == counter.id
    return category in counter.categories and priority in counter.classes
