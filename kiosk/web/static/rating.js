// The counter's rating screen: follows the prompt through Server-Sent Events; taps answer it.
"use strict";
const base = "/api/rating/" + encodeURIComponent(DATA.counter);
const panes = ["idle", "ask", "reason", "thanks"];
const statusLine = document.getElementById("status");
let current = { state: "idle" };
let thanksUntil = 0;

function show(name) {
  for (const p of panes) document.getElementById(p).hidden = p !== name;
  document.body.dataset.rating = name;
}

function draw(view) {
  current = view;
  if (Date.now() < thanksUntil && view.state === "idle") return;    // keep the thanks a moment
  statusLine.textContent = "";
  if (view.state === "idle") { show("idle"); document.getElementById("left").textContent = ""; return; }
  document.getElementById("rate-number").textContent = view.number;
  document.getElementById("left").textContent = t("rating.left", { s: view.left_s });
  show(view.state);
}

function thanks() {
  thanksUntil = Date.now() + 4000;
  show("thanks");
  document.getElementById("left").textContent = "";
  setTimeout(() => { thanksUntil = 0; draw(current); }, 4000);
}

async function send(path, body) {
  try {
    const view = await api("POST", base + path, body);
    if (view.done) thanks(); else draw(view);
  } catch (err) {
    statusLine.textContent = err.message;
  }
}

for (const b of document.querySelectorAll("button.level")) {
  b.addEventListener("click", () => send("/level", { level: Number(b.dataset.level), number: current.number }));
}
for (const b of document.querySelectorAll("button.reason")) {
  b.addEventListener("click", () => send("/reason", { pick: Number(b.dataset.pick) }));
}
document.getElementById("reason-send").addEventListener("click", () => {
  const text = document.getElementById("reason-text").value.trim();
  if (text) send("/reason", { text: text });
});

const source = new EventSource(base + "/events?lang=" + encodeURIComponent(DATA.lang));
source.addEventListener("prompt", (ev) => draw(JSON.parse(ev.data)));
show("idle");
