// The waiting board: redrawn from the whole board on every event (a reconnect is never wrong).
"use strict";
function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = value;
  row.appendChild(td);
}

function draw(board) {
  const calls = document.querySelector("#calls tbody");
  calls.replaceChildren();
  for (const c of board.calling) {
    const row = document.createElement("tr");
    row.dataset.number = c.number;
    row.dataset.counter = c.counter;
    cell(row, c.number);
    cell(row, c.label);
    calls.appendChild(row);
  }
  if (!board.calling.length) {
    const row = document.createElement("tr");
    cell(row, t("board.none"));
    cell(row, "");
    calls.appendChild(row);
  }
  document.getElementById("announcement").textContent = board.announcement ? board.announcement[DATA.lang] : "";
  const cats = document.querySelector("#categories tbody");
  cats.replaceChildren();
  for (const c of board.categories) {
    const row = document.createElement("tr");
    row.dataset.prefix = c.prefix;
    cell(row, c.prefix + " " + c.name);
    cell(row, String(c.waiting));
    cell(row, waitText(c.estimate, "board"));
    cats.appendChild(row);
  }
  document.body.dataset.version = board.version;
}

draw(DATA.board);
watchBoard(draw, (up) => { document.getElementById("offline").hidden = up; });
