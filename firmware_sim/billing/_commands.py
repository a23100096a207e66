"""Commands typed on standard input while ``firmware-sim billing`` or ``payment`` runs.

Sans-I/O apart from calling the services: a line in, a result dict out (or
None for a blank line), ``FaultError``/``RequestError`` for a bad line. The
services are named ("billing", "card", "qr"); with one service the name may
be left out.
"""

from ._errors import FaultError

COMMAND_HELP = """\
  faults                         list active faults
  fault [SERVICE] KIND [K=V ...] set a fault: down mode=503|refuse [for_ms=N], slow delay_ms=N,
                                 fail [count=N] [status=500|502|503|504], hang [count=N] [hang_ms=N];
                                 providers also: decline [count=N] [reason=...],
                                 delay_confirm [count=N] [delay_ms=N], duplicate_notify [count=N]
  clear [SERVICE] [KIND]         clear one fault kind, or all
  pay ORDER_NO                   (qr) the customer pays a waiting order
  statement [SERVICE] DAY        the day's statement (YYYY-MM-DD), totals only
  help                           this list"""


def run_command(services, line):
    """Run one command line.

    Args:
        services: dict name -> BackOffice or ProviderService.
        line: the text typed.

    Returns:
        dict or None: ``command`` plus the result fields.

    Raises:
        FaultError: unknown command, service, fault kind or parameter.
        RequestError: the service refused (unknown order, bad day).
    """
    words = line.split()
    if not words:
        return None
    command, args = words[0].lower(), words[1:]
    if command == "help":
        return {"command": "help", "help": COMMAND_HELP}
    if command == "faults":
        return {"command": "faults", "faults": [dict(f, service=name) for name, s in services.items()
                                                for f in s.faults()]}
    if command == "pay":
        if len(args) != 1 or "qr" not in services:
            raise FaultError("usage: pay ORDER_NO (needs the qr provider)")
        order = services["qr"].customer_pays(args[0])
        return {"command": "pay", "order_no": order["order_no"], "status": order["status"]}
    if command in ("fault", "clear", "statement"):
        name, args = _service(services, args)
        service = services[name]
        if command == "fault":
            if not args:
                raise FaultError("usage: fault [SERVICE] KIND [K=V ...]")
            params = {}
            for word in args[1:]:
                key, sep, value = word.partition("=")
                if not sep:
                    raise FaultError("fault parameter %r is not KEY=VALUE" % word, key=word)
                params[key] = int(value) if value.isdigit() else value
            return dict(service.set_fault(args[0], **params), command="fault", service=name)
        if command == "clear":
            if len(args) > 1:
                raise FaultError("usage: clear [SERVICE] [KIND]")
            return {"command": "clear", "service": name, "cleared": service.clear_fault(args[0] if args else None)}
        if len(args) != 1:
            raise FaultError("usage: statement [SERVICE] DAY")
        statement = service.statement(args[0])
        statement.pop("payments", None)
        statement.pop("paid", None)
        statement.pop("refunds", None)
        return dict(statement, command="statement", service=name)
    raise FaultError("unknown command %r; type help" % command)


def _service(services, args):
    if args and args[0] in services:
        return args[0], args[1:]
    if len(services) == 1:
        return next(iter(services)), args
    raise FaultError("name the service first: one of %s" % ", ".join(services))

