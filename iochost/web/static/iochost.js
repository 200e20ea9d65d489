// iochost web page: makes the server-rendered pages live. No build step, no dependencies.
// The overview and the clients page re-read the JSON API once a second; a mount page
// subscribes to its PVs over /pvws/pv (the PV Web Socket protocol) and draws its own
// sparklines (numeric scalars) and line plots (waveforms) on canvases.
"use strict";

const page = document.body.dataset.page;
const config = JSON.parse(document.body.dataset.config || "{}");
const connection = document.getElementById("connection");

function setConnected(up, text) {
  connection.className = "connection " + (up ? "up" : "down");
  connection.textContent = text;
}

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g,
    c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function showMessage(text) {
  let box = document.getElementById("message");
  if (!box) {
    box = document.createElement("div");
    box.id = "message";
    box.className = "error banner";
    document.body.appendChild(box);
  }
  box.textContent = text;
  clearTimeout(showMessage.timer);
  showMessage.timer = setTimeout(() => box.remove(), 8000);
}

async function getJson(path) {
  const response = await fetch(path, {cache: "no-store"});
  return response.json();
}

// -- polling pages ---------------------------------------------------------------------------
function every(seconds, refresh) {
  const run = async () => {
    try { await refresh(); setConnected(true, "live"); }
    catch (error) { setConnected(false, "host unreachable"); }
    setTimeout(run, seconds * 1000);
  };
  run();
}

function mountRow(m) {
  const plugin = [m.distribution || m.plugin, m.version].filter(Boolean).join(" ");
  const error = m.error ? `<div class="error">${escapeHtml(m.error)}</div>` : "";
  return `<tr data-mount="${escapeHtml(m.name)}"><td><a href="/mounts/${encodeURIComponent(m.name)}">` +
    `${escapeHtml(m.name)}</a></td><td>${escapeHtml(m.ioc)}</td><td>${escapeHtml(plugin)}</td>` +
    `<td><code>${escapeHtml(m.prefix)}</code></td><td class="state state-${escapeHtml(m.state)}">` +
    `${escapeHtml(m.state)}${error}</td><td class=num>${m.pvs}</td>` +
    `<td>${escapeHtml(m.helpers.join(", "))}</td></tr>`;
}

function refreshOverview() {
  every(1, async () => {
    const [host, mounts] = await Promise.all([getJson("/api/host"), getJson("/api/mounts")]);
    for (const cell of document.querySelectorAll("[data-field]")) {
      cell.textContent = host[cell.dataset.field];
    }
    document.querySelector("#mounts tbody").innerHTML = mounts.map(mountRow).join("");
  });
}

// "read-write 5, no-access 1": the non-zero counts of a client's channels by rights
function rightsSummary(counts) {
  return Object.entries(counts).filter(([, n]) => n).map(([r, n]) => `${r} ${n}`).join(", ") || "-";
}

function refreshClients() {
  every(1, async () => {
    const clients = await getJson("/api/clients");
    document.querySelector("#clients tbody").innerHTML = clients.map(c =>
      `<tr data-client="${c.client_id}"><td><a href="/clients/${c.client_id}">${escapeHtml(c.host)}</a></td>` +
      `<td>${escapeHtml(c.user)}</td><td>${escapeHtml(c.peer)}</td><td class=num>${c.channels}</td>` +
      `<td class=num>${c.subscriptions}</td><td class=rights>${escapeHtml(rightsSummary(c.rights))}</td>` +
      `<td class=num>${c.bytes_sent}</td><td class=num>${c.updates_sent}</td></tr>`).join("");
  });
}

// -- pvws ---------------------------------------------------------------------------------------
const B64_TYPES = {b64dbl: Float64Array, b64flt: Float32Array, b64int: Int32Array,
                   b64srt: Int16Array, b64byt: Uint8Array};

function decodeArrays(message) {
  for (const [key, Type] of Object.entries(B64_TYPES)) {
    if (message[key] === undefined) continue;
    const raw = atob(message[key]);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    message.value = Array.from(new Type(bytes.buffer));  // little-endian, as pvws sends
    delete message[key];
  }
  return message;
}

// vtypes whose values are integers: shown whole, whatever their size
const INTEGER_VTYPES = /^V(Int|Short|Byte|Long)(Array)?$/;
// vtypes a typed text is written to as a number (other PVs take the text as it is)
const NUMBER_VTYPES = /^V(Double|Float|Int|Short|Byte|Long)$/;

function formatValue(pv) {
  const integer = INTEGER_VTYPES.test(pv.vtype || "");
  if (Array.isArray(pv.value)) {
    const head = pv.value.slice(0, 4).map(v => formatNumber(v, pv.precision, integer));
    return `[${pv.value.length}] ${head.join(", ")}${pv.value.length > 4 ? ", …" : ""}`;
  }
  if (pv.text !== undefined) return pv.text;
  return formatNumber(pv.value, pv.precision, integer);
}

function formatNumber(value, precision, integer) {
  if (typeof value !== "number") return String(value ?? "");
  if (integer) return String(value);
  if (precision > 0) return value.toFixed(Math.min(precision, 12));
  return String(Number(value.toPrecision(6)));  // no PREC: six significant digits (%g)
}

// The browser's local time, as EPICS tools show time stamps
function formatStamp(pv) {
  if (!pv.seconds) return "";
  const date = new Date(pv.seconds * 1000 + Math.floor((pv.nanos || 0) / 1e6));
  const two = n => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.` +
    String(date.getMilliseconds()).padStart(3, "0");
}

// What a text typed for a PV is written as: a number for a numeric PV (when it is one),
// else the text itself -- a string PV keeps "12" as typed, an enum takes its label
function typedValue(pv, text) {
  if (Array.isArray(pv.value)) {  // an array: one element per word, "1, 2, 3" or "1 2 3"
    const words = text.split(/[\s,]+/).filter(w => w !== "");
    const numbers = words.map(Number);
    return numbers.every(Number.isFinite) ? numbers : words;
  }
  const number = Number(text);
  return NUMBER_VTYPES.test(pv.vtype || "") && text.trim() !== "" && Number.isFinite(number)
    ? number : text;
}

function drawLine(canvas, values) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return;
  let low = Math.min(...finite), high = Math.max(...finite);
  if (high === low) { high += 1; low -= 1; }
  const w = canvas.width, h = canvas.height, step = w / (values.length - 1);
  ctx.strokeStyle = getComputedStyle(canvas.closest("tr")).color || "#0b5cad";
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  values.forEach((v, i) => {
    const y = h - 2 - (h - 4) * (v - low) / (high - low);
    if (i === 0) ctx.moveTo(0, y); else ctx.lineTo(i * step, y);
  });
  ctx.stroke();
}

function liveMount() {
  const rows = new Map();
  for (const row of document.querySelectorAll("#pvs tr[data-pv]")) {
    rows.set(row.dataset.pv, {row, pv: {}, history: []});
  }
  const names = [...rows.keys()];
  let socket;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/pvws/pv`);
    socket.onopen = () => {
      setConnected(true, "live");
      if (names.length) socket.send(JSON.stringify({type: "subscribe", pvs: names}));
    };
    socket.onmessage = event => {
      const message = JSON.parse(event.data);
      if (message.type === "error") { showMessage(message.message); return; }
      if (message.type !== "update") return;
      const entry = rows.get(message.pv);
      if (entry) update(entry, decodeArrays(message));
    };
    socket.onclose = () => {
      setConnected(false, "reconnecting…");
      // no connection, no known value: every row shows it (as a display marks its widgets)
      for (const entry of rows.values()) {
        entry.pv = {};
        entry.row.className = "sev-UNDEFINED";
        entry.row.querySelector(".severity").textContent = "UNDEFINED";
        entry.row.querySelector(".value").classList.remove("writable");
      }
      setTimeout(open, 2000);
    };
  };
  const update = (entry, message) => {
    // not served or not readable (value NaN, severity and readonly, no vtype): nothing of
    // the old value stays; the server sends everything anew once it is readable again
    if (message.value === "NaN" && message.vtype === undefined && "readonly" in message
        && ["UNDEFINED", "INVALID"].includes(message.severity)) entry.pv = {};
    Object.assign(entry.pv, message);
    const pv = entry.pv, row = entry.row;
    row.className = "sev-" + (pv.severity || "UNDEFINED");
    row.querySelector(".type").textContent = pv.vtype || "";
    const cell = row.querySelector(".value");
    cell.textContent = formatValue(pv);
    cell.classList.toggle("writable", config.writable && pv.readonly === false);
    row.querySelector(".units").textContent = pv.units || "";
    row.querySelector(".severity").textContent = pv.severity || "";
    row.querySelector(".stamp").textContent = formatStamp(pv);
    const canvas = row.querySelector("canvas");
    if (Array.isArray(pv.value)) {
      drawLine(canvas, pv.value);
    } else if (typeof pv.value === "number" && pv.labels === undefined) {
      entry.history.push(pv.value);
      if (entry.history.length > 120) entry.history.shift();
      drawLine(canvas, entry.history);
    }
  };
  document.querySelector("#pvs").addEventListener("click", event => {
    const cell = event.target.closest("td.value.writable");
    if (!cell) return;
    const name = cell.closest("tr").dataset.pv;
    const pv = rows.get(name).pv;
    const shown = Array.isArray(pv.value) ? pv.value.join(", ") : cell.textContent;
    const text = prompt(`New value for ${name}`, shown);
    if (text === null) return;
    socket.send(JSON.stringify({type: "write", pv: name,
                                value: typedValue(pv, text)}));
  });
  open();
}

if (page === "overview") refreshOverview();
else if (page === "clients") refreshClients();
else if (page === "mount") liveMount();
