// The admin page: device health every few seconds, counters, a printer test, the settings summary.
"use strict";
const statusLine = document.getElementById("status");

function row(table, name, value) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  const td = document.createElement("td");
  th.textContent = name;
  td.textContent = value === null || value === undefined ? "-" : (typeof value === "object" ? JSON.stringify(value) : String(value));
  tr.dataset.name = name;
  tr.append(th, td);
  table.appendChild(tr);
}

if (!DATA.signed_in) {
  roleLogin(statusLine);
} else {
  const headers = { "X-CSRF-Token": DATA.csrf };
  document.getElementById("settings").textContent = JSON.stringify(DATA.settings, null, 2);

  const refresh = async () => {
    try {
      const h = await api("GET", "/api/admin/health");
      const health = document.querySelector("#health tbody");
      health.replaceChildren();
      const o = h.outbox || {};
      row(health, "outbox.depth", o.depth_records);
      row(health, "outbox.unacked", o.unacked);
      row(health, "outbox.oldest_unacked_age_s", o.oldest_unacked_age_s);
      row(health, "hall.state", h.hall ? h.hall.state : null);
      row(health, "hall.last_ack", h.hall && h.hall.last_ack_t_ms ? new Date(h.hall.last_ack_t_ms).toISOString() : null);
      row(health, "printer.state", h.printer.state);
      row(health, "printer.last_error", h.printer.last_error);
      const pads = h.rating ? h.rating.pads : {};
      row(health, "rating.pads", Object.keys(pads).map((c) => c + (pads[c].connected ? " ok" : " down")).join(", ") || "none");
      row(health, "rating.pending", h.rating ? h.rating.pending.join(", ") : null);
      for (const name in h.journals) row(health, "journal." + name + ".bytes", h.journals[name]);
      row(health, "clock.quality", h.clock ? h.clock.quality : null);
      document.body.dataset.printer = h.printer.state;
      const counters = document.querySelector("#counters tbody");
      counters.replaceChildren();
      for (const id in h.counters.counters) {
        const c = h.counters.counters[id];
        row(counters, c.label + " (" + id + ")", t("counter.status." + c.status) + (c.ticket ? " · " + c.ticket : ""));
      }
      document.body.dataset.loaded = "yes";
    } catch (err) {
      statusLine.textContent = err.message;
      if (err.status === 401) location.reload();
    }
  };

  document.getElementById("test-print").addEventListener("click", async () => {
    const out = document.getElementById("print-result");
    try {
      const result = await api("POST", "/api/admin/test-print", {}, headers);
      out.textContent = result.printed ? t("admin.printed") : t("kiosk.print_failed", { message: result.error });
    } catch (err) {
      out.textContent = err.message;
    }
    refresh();
  });
  refresh();
  setInterval(refresh, 5000);
  roleLogout(headers);
}
