"""Human-readable text for decoded values and frames (CLI output)."""

from protocols.dlt645 import STD_1997, describe, describe_error_bits, format_di

_NUM = 0


def _format_scalar(value, part):
    if value is None:
        return "(no data)"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex(" ").upper() if value else "(empty)"
    if isinstance(value, float) and part is not None and part[0] == _NUM:
        return "%.*f" % (part[2], value)
    return str(value)


def _format_element(value, element, unit):
    """One element; the unit follows its first (numeric) field: "17.2030 kW @ 2026-11-21T19:15"."""
    suffix = " " + unit if unit else ""
    if element is not None and len(element) > 1 and isinstance(value, tuple):
        fields = [_format_scalar(v, p) for v, p in zip(value, element)]
        if value[0] is not None:
            fields[0] += suffix
        return " @ ".join(fields)
    text = _format_scalar(value, element[0] if element else None)
    return text + suffix if value is not None else text


def format_value(value, di=None, std="2007", unit=""):
    """Text of a decoded value with its unit; blocks become comma lists."""
    item = describe(di, std) if di is not None else None
    element = item.element if item is not None else None
    if isinstance(value, (bytes, bytearray)):
        text = _format_scalar(value, None)
        return text + " (raw)" if item is None and value else text
    if item is not None and item.repeat == 0 and isinstance(value, tuple):
        if len(element) > 1:
            return ", ".join(_format_element(v, element, unit) for v in value)
        return ", ".join(_format_element(v, element, "") for v in value) + (" " + unit if unit else "")
    return _format_element(value, element, unit)


def describe_frame(frame):
    """Lines explaining a parsed frame, for ``concentrator decode``."""
    lines = []
    direction = "meter -> master (reply)" if frame.is_reply else "master -> meter (request)"
    kind = ""
    if frame.is_reply:
        kind = ", abnormal" if frame.is_error else ", normal"
        if frame.has_more:
            kind += ", more frames follow"
    lines.append("  address    %s%s" % (frame.address, _address_note(frame.address)))
    lines.append("  direction  %s%s" % (direction, kind))
    lines.append("  function   %02XH %s (DL/T 645-%s), control %02XH"
                 % (frame.function, frame.function_name, frame.std, frame.control))
    if frame.di is not None:
        lines.append("  DI         %s %s" % (format_di(frame.di, frame.std), frame.di_name or "(unknown to the registry)"))
    if frame.password is not None:
        lines.append("  password   level %02d, %s" % frame.password)
    if frame.new_password is not None:
        lines.append("  new pass   level %02d, %s" % frame.new_password)
    if frame.operator is not None:
        lines.append("  operator   %s" % frame.operator)
    if frame.seq is not None:
        lines.append("  sequence   %d" % frame.seq)
    if frame.count is not None:
        lines.append("  blocks     %d" % frame.count)
    if frame.error_bits is not None:
        meanings = describe_error_bits(frame.error_bits, frame.std)
        lines.append("  error      0x%02X: %s" % (frame.error_bits, "; ".join(meanings) or "no bit set"))
    elif frame.value is not None:
        if frame.has_more or frame.function in (0x12,) or (frame.std == STD_1997 and frame.function == 0x02):
            lines.append("  value      %s (part of a block; join the follow-up frames)"
                         % bytes(frame.value).hex(" ").upper())
        else:
            lines.append("  value      %s" % format_value(frame.value, frame.di, frame.std, frame.unit))
    return lines


def _address_note(address):
    if address == "999999999999":
        return " (broadcast)"
    if "AA" in address:
        return " (wildcard)"
    return ""


def frame_dict(frame):
    """JSON-ready dict of a parsed frame."""
    value = frame.value
    if isinstance(value, (bytes, bytearray)):
        value = {"hex": bytes(value).hex()}
    return {
        "std": frame.std, "address": frame.address, "control": "%02X" % frame.control,
        "function": "%02X" % frame.function, "function_name": frame.function_name,
        "is_reply": frame.is_reply, "is_error": frame.is_error, "has_more": frame.has_more,
        "di": frame.di_text, "di_name": frame.di_name, "value": value, "unit": frame.unit,
        "error_bits": frame.error_bits, "errors": frame.errors, "seq": frame.seq,
        "password": list(frame.password) if frame.password else None, "operator": frame.operator,
        "raw": frame.raw.hex(),
    }
