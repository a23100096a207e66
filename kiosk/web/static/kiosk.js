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

// A printer fault never hides the number: the customer reads it here and may ask for a reprint.
function showPrint(number, outcome) {
  const line = document.getElementById("print-status");
  const button = document.getElementById("reprint");
  button.dataset.number = number;
  if (outcome && outcome.error) {
    line.textContent = t("kiosk.print_failed", { message: outcome.error });
    line.className = "error";
  } else {
    line.textContent = "";
  }
  button.hidden = !outcome || outcome.state === "none";
}

async function reprint() {
  const line = document.getElementById("print-status");
  try {
    const ticket = await api("POST", "/api/tickets/" + encodeURIComponent(this.dataset.number) + "/reprint", {});
    showPrint(ticket.number, ticket.print);
    if (!ticket.print.error) { line.textContent = t("kiosk.reprinted"); line.className = ""; }
  } catch (err) {
    line.textContent = err.message;
    line.className = "error";
  }
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
    showPrint(ticket.number, ticket.print);
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
document.getElementById("reprint").addEventListener("click", reprint);
