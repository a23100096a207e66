// Shared by the three pages: the page's strings and data, and a JSON fetch that returns the error body.
"use strict";
const STRINGS = JSON.parse(document.getElementById("strings").textContent);
const DATA = JSON.parse(document.getElementById("data").textContent);

function t(key, values) {
  let s = STRINGS[key] || key;
  for (const name in (values || {})) s = s.split("{" + name + "}").join(String(values[name]));
  return s;
}

// A random key per intent to take a ticket; crypto.getRandomValues also works on plain http in the hall LAN.
function newKey() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "k-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function api(method, path, body, headers) {
  const sep = path.includes("?") ? "&" : "?";
  const init = { method: method, headers: Object.assign({}, headers || {}), credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path + sep + "lang=" + encodeURIComponent(DATA.lang), init);
  let payload = null;
  try { payload = await response.json(); } catch (e) { payload = null; }
  if (!response.ok) {
    const err = new Error(payload && payload.error ? payload.error.message : "HTTP " + response.status);
    err.status = response.status;
    err.field = payload && payload.error ? payload.error.field : null;
    throw err;
  }
  return payload;
}

function waitText(est, prefix) {
  if (!est || est.wait_s === null) return t(prefix === "board" ? "board.closed" : "kiosk.wait_unknown");
  if (est.band_min === null) return t(prefix === "board" ? "board.over" : "kiosk.wait_long", { m: 120 });
  return t(prefix === "board" ? "board.minutes" : "kiosk.wait_band", { m: est.band_min });
}

// The board's event stream; onBoard gets the whole board at once and after every change.
function watchBoard(onBoard, onState) {
  const source = new EventSource("/api/events?lang=" + encodeURIComponent(DATA.lang));
  source.addEventListener("board", (ev) => onBoard(JSON.parse(ev.data)));
  source.onopen = () => onState && onState(true);
  source.onerror = () => onState && onState(false);
  return source;
}

// The sign-in form of the desk and admin pages (a staff number with that role, and a PIN).
function roleLogin(statusLine) {
  document.getElementById("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    statusLine.textContent = "";
    try {
      await api("POST", "/api/staff/login", { role: DATA.role, staff: document.getElementById("staff").value,
                                               pin: document.getElementById("pin").value });
      location.reload();
    } catch (err) {
      statusLine.textContent = err.message;
      document.getElementById("pin").value = "";
    }
  });
}

function roleLogout(headers) {
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/staff/logout", { role: DATA.role }, headers); } catch (e) { /* reload shows the form */ }
    location.reload();
  });
}
