"use strict";
// The foundation's page: log in, then one metric's last five minutes and its live points.
// The access token lives in memory only; the refresh token is an HttpOnly cookie.
const METRIC = new URLSearchParams(location.search).get("type") || "cpu";
const WINDOW_MS = 5 * 60 * 1000;
const points = new Map();   // source -> [{t, v}]
const colors = ["#4cc2ff", "#f0883e", "#a371f7", "#3fb950"];
const $ = id => document.getElementById(id);
const canvas = $("chart");
const ctx = canvas.getContext("2d");
let accessToken = null, refreshTimer = null, socket = null, stopped = false;
document.querySelector("#live h1").textContent = METRIC + " — live";

function show(section) { $("login").hidden = section !== "login"; $("live").hidden = section !== "live"; }

async function session(response) {
  const body = await response.json();
  accessToken = body.access_token;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, Math.max(10, body.expires_in - 60) * 1000);
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "auth", token: accessToken }));
}

async function refresh() {
  const r = await fetch("/api/v1/auth/refresh", { method: "POST", credentials: "same-origin" });
  if (!r.ok) { accessToken = null; return false; }
  await session(r);
  return true;
}

$("login-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  $("error").textContent = "";
  const r = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
    body: JSON.stringify({ email: $("email").value, password: $("password").value }),
  });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    $("error").textContent = body.message || `login failed (${r.status})`;
    return;
  }
  $("password").value = "";
  await session(r);
  start();
});

$("logout").addEventListener("click", async () => {
  stopped = true;
  await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin", headers: { Authorization: `Bearer ${accessToken}` } });
  accessToken = null; clearTimeout(refreshTimer);
  if (socket) socket.close(1000);
  show("login");
});

function add(p) {
  const series = points.get(p.source) || [];
  const t = Date.parse(p.timestamp);
  // History and live data overlap after a (re)connect: keep one point per time, in order.
  let i = series.length;
  while (i > 0 && series[i - 1].t > t) i--;
  if (i > 0 && series[i - 1].t === t) return;
  series.splice(i, 0, { t, v: p.value });
  points.set(p.source, series);
  $("value").textContent = p.value.toFixed(1) + (METRIC === "cpu" ? " %" : "");
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr; ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const now = Date.now(), from = now - WINDOW_MS;
  let lo = Infinity, hi = -Infinity;
  for (const series of points.values()) {
    while (series.length && series[0].t < from) series.shift();
    for (const p of series) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  }
  if (!isFinite(lo)) { requestAnimationFrame(draw); return; }
  if (METRIC === "cpu") { lo = 0; hi = 100; } else if (hi === lo) { hi += 1; lo -= 1; }
  const x = t => 40 + (t - from) / WINDOW_MS * (w - 50);
  const y = v => h - 20 - (v - lo) / (hi - lo) * (h - 40);
  ctx.strokeStyle = "#30363d"; ctx.fillStyle = "#9aa7b4"; ctx.font = "12px system-ui";
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4;
    ctx.beginPath(); ctx.moveTo(40, y(v)); ctx.lineTo(w - 10, y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(0), 4, y(v) + 4);
  }
  let i = 0;
  for (const series of points.values()) {
    ctx.strokeStyle = colors[i++ % colors.length]; ctx.lineWidth = 2; ctx.beginPath();
    // A gap of more than 5 s (a restart, an outage) is left open rather than bridged.
    series.forEach((p, k) => (k && p.t - series[k - 1].t <= 5000)
      ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v)));
    ctx.stroke();
  }
  requestAnimationFrame(draw);
}

async function loadHistory() {
  const from = new Date(Date.now() - WINDOW_MS).toISOString();
  const url = `/api/v1/metrics?type=${encodeURIComponent(METRIC)}&from=${from}`;
  let r = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
  if (r.status === 401 && await refresh()) r = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
  if (r.ok) (await r.json()).series.forEach(add);
}

function connect(delay = 500) {
  const status = $("status");
  const ws = socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/metrics?type=${encodeURIComponent(METRIC)}`);
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "auth", token: accessToken }));  // never in the URL
    status.textContent = "live"; status.className = "live"; delay = 500;
    loadHistory().catch(() => {});
  };
  ws.onmessage = ev => add(JSON.parse(ev.data));
  ws.onclose = async ev => {
    if (stopped) return;
    status.textContent = "reconnecting…"; status.className = "down";
    if (ev.code === 4401 && !(await refresh())) { show("login"); return; }
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay * (0.5 + Math.random()));
  };
}

function start() { stopped = false; show("live"); connect(); }

requestAnimationFrame(draw);
refresh().then(ok => ok ? start() : show("login"));
