// The guidance desk: issue a green-channel or VIP ticket with its reason.
"use strict";
const statusLine = document.getElementById("status");

if (!DATA.signed_in) {
  roleLogin(statusLine);
} else {
  const headers = { "X-CSRF-Token": DATA.csrf };
  let key = newKey();
  const reasonSelect = document.getElementById("reason");
  const chosenClass = () => document.querySelector('input[name="priority"]:checked').value;

  const fillReasons = () => {
    reasonSelect.replaceChildren();
    for (const code of DATA.reasons[chosenClass()]) {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = DATA.reason_names[code];
      reasonSelect.appendChild(option);
    }
  };

  const drawLedger = async () => {
    const ledger = await api("GET", "/api/desk/tickets");
    const list = document.getElementById("ledger");
    list.replaceChildren();
    for (const row of ledger.tickets) {
      const li = document.createElement("li");
      li.textContent = row.number + "  " + t("priority." + row.priority) + "  " + DATA.reason_names[row.reason] +
        (row.note ? " (" + row.note + ")" : "") + "  " + row.staff;
      list.appendChild(li);
    }
  };

  for (const radio of document.querySelectorAll('input[name="priority"]')) radio.addEventListener("change", fillReasons);
  document.getElementById("issue").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    statusLine.textContent = "";
    const note = document.getElementById("note").value.trim();
    const body = { business: document.getElementById("business").value, priority: chosenClass(),
                   reason: reasonSelect.value, key: key };
    if (note) body.note = note;
    try {
      const ticket = await api("POST", "/api/desk/tickets", body, headers);
      key = newKey();
      document.getElementById("issued").hidden = false;
      document.getElementById("issued-number").textContent = ticket.number;
      let detail = t("priority." + ticket.priority) + " · " + DATA.reason_names[ticket.reason];
      if (ticket.print && ticket.print.error) detail += " · " + t("kiosk.print_failed", { message: ticket.print.error });
      document.getElementById("issued-detail").textContent = detail;
      document.getElementById("note").value = "";
      await drawLedger();
    } catch (err) {
      statusLine.textContent = err.message;           // the same key is kept: a retry cannot issue twice
    }
  });
  fillReasons();
  drawLedger();
  roleLogout(headers);
}
