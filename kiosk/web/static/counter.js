// The counter page: sign-in, then actions with the CSRF token; redrawn after each action and each queue event.
"use strict";
const statusLine = document.getElementById("status");

if (!DATA.signed_in) {
  document.getElementById("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    statusLine.textContent = "";
    try {
      await api("POST", "/api/login", { counter: DATA.counter, staff: document.getElementById("staff").value,
                                        pin: document.getElementById("pin").value });
      location.reload();
    } catch (err) {
      statusLine.textContent = err.message;
      document.getElementById("pin").value = "";
    }
  });
} else {
  const headers = { "X-CSRF-Token": DATA.csrf };
  const base = "/api/counters/" + encodeURIComponent(DATA.counter);

  const draw = (view) => {
    document.getElementById("counter-status").textContent = t("counter.status." + view.status);
    document.body.dataset.counterStatus = view.status;
    const current = document.getElementById("current");
    const ticket = view.ticket;
    current.textContent = ticket ? ticket.number : t("counter.no_ticket");
    document.getElementById("current-detail").textContent = ticket
      ? ticket.business_name + " · " + t("priority." + ticket.priority) + " · " + t("counter.ticket_state." + ticket.status)
      : "";
    const queue = document.getElementById("queue");
    queue.replaceChildren();
    for (const q of view.queue) {
      const li = document.createElement("li");
      li.textContent = q.number + "  " + q.business_name + "  " + t("priority." + q.priority);
      queue.appendChild(li);
    }
    if (!view.queue.length) {
      const li = document.createElement("li");
      li.textContent = t("counter.nobody");
      queue.appendChild(li);
    }
  };

  const act = async (action, body) => {
    statusLine.textContent = "";
    try {
      draw(await api("POST", base + "/" + action, body || {}, headers));
    } catch (err) {
      statusLine.textContent = err.message;
      if (err.status === 401) location.reload();
    }
  };

  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
  document.getElementById("transfer").addEventListener("click", () => {
    const value = document.getElementById("transfer-to").value;
    act("transfer", value.startsWith("b:") ? { to_business: value.slice(2) } : { to_counter: value.slice(2) });
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", base + "/logout", {}, headers); } finally { location.reload(); }
  });
  draw(DATA.view);
  watchBoard(async () => {
    try { draw(await api("GET", base)); } catch (err) { if (err.status === 401) location.reload(); }
  });
}
