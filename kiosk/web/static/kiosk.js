// The customer touch screen: one key per intent, so a double tap or a retry gets the same ticket.
"use strict";
let key = newKey();
let backTimer = null;
const choose = document.getElementById("choose");
const ticketBox = document.getElementById("ticket");
const status = document.getElementById("status");

function setBusy(busy) {
  for (const b of document.querySelectorAll("button.biz")) b.disabled = busy;
}

function showChooser() {
  clearTimeout(backTimer);
  key = newKey();                // a new customer: a new intent
  ticketBox.hidden = true;
  choose.hidden = false;
  status.textContent = "";
  setBusy(false);
}

async function take(business) {
  setBusy(true);
  status.textContent = t("kiosk.working");
  try {
    const ticket = await api("POST", "/api/tickets", { business: business, key: key });
    document.getElementById("ticket-number").textContent = ticket.number;
    const button = document.querySelector('button.biz[data-business="' + CSS.escape(business) + '"]');
    document.getElementById("ticket-business").textContent = button ? button.textContent : business;
    document.getElementById("ticket-ahead").textContent = t("kiosk.ahead", { n: ticket.ahead });
    document.getElementById("ticket-wait").textContent = waitText(ticket.estimate, "kiosk");
    choose.hidden = true;
    ticketBox.hidden = false;
    status.textContent = "";
    backTimer = setTimeout(showChooser, 30000);
  } catch (err) {
    status.textContent = t("kiosk.error", { message: err.message });
    setBusy(false);              // the same key is kept: a retry cannot issue twice
  }
}

for (const button of document.querySelectorAll("button.biz")) {
  button.addEventListener("click", () => take(button.dataset.business));
}
document.getElementById("back").addEventListener("click", showChooser);
