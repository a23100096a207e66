"""Every string the web app shows or speaks, one catalogue per language.

zh-CN is the default (the hall's customers); English is the second
language. Both catalogues must have the same keys (a test checks it), so a
page never falls back to a key name. Phrases follow the standard service
phrases of H-07 where one fits ("您好!请坐!", "请稍候...").

Business-type names cover the codes of hall-requirements section 1; a code
not listed shows as itself. Category names come from the ``[web.labels]``
table of the kiosk file, else from the queue configuration.
"""

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

_ZH = {
    "lang.name": "中文",
    "title.kiosk": "取号",
    "title.board": "叫号屏",
    "title.counter": "窗口",
    "kiosk.welcome": "您好!请选择要办理的业务",
    "kiosk.take": "取号",
    "kiosk.your_number": "您的号码",
    "kiosk.ahead": "前面还有 {n} 人",
    "kiosk.wait_band": "预计等候 {m} 分钟以内",
    "kiosk.wait_long": "预计等候超过 {m} 分钟",
    "kiosk.wait_unknown": "窗口尚未开放,请稍候",
    "kiosk.please_wait": "请稍候,我们马上为您办理。",
    "kiosk.back": "返回",
    "kiosk.error": "取号失败:{message}",
    "kiosk.working": "正在取号…",
    "board.calling": "正在叫号",
    "board.number": "号码",
    "board.counter": "窗口",
    "board.category": "业务",
    "board.waiting": "等候人数",
    "board.estimate": "预计等候",
    "board.none": "暂无",
    "board.minutes": "{m} 分钟以内",
    "board.over": "超过 {m} 分钟",
    "board.closed": "无窗口开放",
    "board.offline": "连接中断,正在重连…",
    "announce": "请 {number} 号到 {counter} 号窗口办理",
    "counter.login": "工作人员登录",
    "counter.staff": "工号",
    "counter.pin": "密码",
    "counter.sign_in": "登录",
    "counter.logout": "退出",
    "counter.status": "窗口状态",
    "counter.status.open": "服务中",
    "counter.status.paused": "暂停服务",
    "counter.status.closed": "未开放",
    "counter.current": "当前号码",
    "counter.ticket_state.called": "已叫号",
    "counter.ticket_state.serving": "办理中",
    "counter.no_ticket": "无",
    "counter.call_next": "叫下一位",
    "counter.recall": "重呼",
    "counter.skip": "过号",
    "counter.start": "开始办理",
    "counter.finish": "办理完成",
    "counter.transfer": "转移",
    "counter.transfer_to": "转到",
    "counter.pause": "暂停服务",
    "counter.resume": "开始/恢复服务",
    "counter.queue": "等候队列",
    "counter.nobody": "没有等候的客户",
    "counter.done": "已完成",
    "priority.green": "绿色通道",
    "priority.vip": "VIP",
    "priority.normal": "普通",
    "priority.appointment": "预约",
    "error.pin": "工号或密码错误",
    "error.locked": "错误次数过多,请 {s} 秒后再试",
    "business.new": "新装用电",
    "business.capacity_increase": "增容用电",
    "business.temporary": "临时用电",
    "business.change.reduce": "减容",
    "business.change.suspend": "暂停用电",
    "business.change.relocate": "迁址",
    "business.change.move_meter": "移表",
    "business.change.rename": "更名过户",
    "business.change.close": "销户",
    "business.change.category": "改类",
    "business.other.meter_fault": "计量装置故障",
    "business.other.refund_adjust": "电量电费退补",
    "business.other.consult": "咨询",
    "business.other.complaint": "投诉",
    "business.payment": "电费缴纳",
    "business.tou_enable": "开通峰谷电",
    "business.repair": "故障报修",
    "business.report": "投诉举报",
    "business.assurance": "保电申请",
}

_EN = {
    "lang.name": "English",
    "title.kiosk": "Take a ticket",
    "title.board": "Calling board",
    "title.counter": "Counter",
    "kiosk.welcome": "Welcome! Please choose your business",
    "kiosk.take": "Take a ticket",
    "kiosk.your_number": "Your number",
    "kiosk.ahead": "{n} people ahead of you",
    "kiosk.wait_band": "Estimated wait: under {m} minutes",
    "kiosk.wait_long": "Estimated wait: over {m} minutes",
    "kiosk.wait_unknown": "No counter is open yet, please wait",
    "kiosk.please_wait": "Please take a seat, we will serve you shortly.",
    "kiosk.back": "Back",
    "kiosk.error": "No ticket: {message}",
    "kiosk.working": "Taking a ticket…",
    "board.calling": "Now calling",
    "board.number": "Number",
    "board.counter": "Counter",
    "board.category": "Business",
    "board.waiting": "Waiting",
    "board.estimate": "Estimated wait",
    "board.none": "None",
    "board.minutes": "under {m} min",
    "board.over": "over {m} min",
    "board.closed": "no counter open",
    "board.offline": "Connection lost, reconnecting…",
    "announce": "Number {number}, please go to counter {counter}",
    "counter.login": "Staff sign-in",
    "counter.staff": "Staff number",
    "counter.pin": "PIN",
    "counter.sign_in": "Sign in",
    "counter.logout": "Sign out",
    "counter.status": "Counter status",
    "counter.status.open": "Open",
    "counter.status.paused": "Paused",
    "counter.status.closed": "Closed",
    "counter.current": "Current ticket",
    "counter.ticket_state.called": "called",
    "counter.ticket_state.serving": "being served",
    "counter.no_ticket": "none",
    "counter.call_next": "Call next",
    "counter.recall": "Recall",
    "counter.skip": "Skip (no-show)",
    "counter.start": "Start",
    "counter.finish": "Finish",
    "counter.transfer": "Transfer",
    "counter.transfer_to": "to",
    "counter.pause": "Pause",
    "counter.resume": "Open / resume",
    "counter.queue": "Waiting queue",
    "counter.nobody": "Nobody is waiting",
    "counter.done": "Done",
    "priority.green": "Green channel",
    "priority.vip": "VIP",
    "priority.normal": "Normal",
    "priority.appointment": "Appointment",
    "error.pin": "Wrong staff number or PIN",
    "error.locked": "Too many wrong PINs; try again in {s} s",
    "business.new": "New connection",
    "business.capacity_increase": "Capacity increase",
    "business.temporary": "Temporary supply",
    "business.change.reduce": "Capacity reduction",
    "business.change.suspend": "Suspend supply",
    "business.change.relocate": "Relocation",
    "business.change.move_meter": "Move a meter",
    "business.change.rename": "Rename or transfer",
    "business.change.close": "Close an account",
    "business.change.category": "Change tariff category",
    "business.other.meter_fault": "Meter fault",
    "business.other.refund_adjust": "Bill refund or adjustment",
    "business.other.consult": "Enquiry",
    "business.other.complaint": "Complaint",
    "business.payment": "Pay a bill",
    "business.tou_enable": "Peak/valley tariff",
    "business.repair": "Fault repair",
    "business.report": "Complaint or tip-off",
    "business.assurance": "Supply assurance",
}

# Built once at import, never changed (STYLE.md "Dispatch tables").
CATALOGUES = {"zh-CN": _ZH, "en": _EN}


def pick_language(query_value, cookie_value):
    """The page language: the ``lang`` query parameter, else the cookie, else zh-CN (unknown values ignored)."""
    for value in (query_value, cookie_value):
        if value in CATALOGUES:
            return value
    return DEFAULT_LANGUAGE


def text(lang, key, **values):
    """The string ``key`` in ``lang``, with ``{name}`` fields filled (KeyError when the key is missing)."""
    template = CATALOGUES[lang][key]
    return template.format(**values) if values else template


def business_name(lang, code):
    """The display name of a business code, or the code itself when the catalogue has none."""
    return CATALOGUES[lang].get("business." + code, code)


def announcement(lang, number, counter_label):
    """The call announcement ("请 A012 号到 3 号窗口办理") for the board and the voice line."""
    return text(lang, "announce", number=number, counter=counter_label)
