# ruff: noqa: E501 - the page is HTML/JS; its lines are not Python
"""The operator panel's one page: inline CSS and JavaScript, nothing loaded from elsewhere.

It polls /api/state twice a second and redraws a socket's card only when what the operator must
do changes, so a serial being typed is never lost. The verdict fills the card in letters that
read from two metres.
"""

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HIL EOL station</title>
<style>
body { font-family: sans-serif; margin: 0; background: #f2f2f2; color: #111; }
header { background: #222; color: #fff; padding: 10px 16px; display: flex; gap: 24px; align-items: center; }
header h1 { font-size: 20px; margin: 0; }
#signin-box input { font-size: 18px; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 12px; padding: 12px; }
.card { background: #fff; border-radius: 6px; padding: 14px; min-height: 320px; box-shadow: 0 1px 3px #0003; }
.card h2 { margin: 0 0 8px 0; font-size: 22px; }
.big { font-size: 120px; font-weight: bold; text-align: center; color: #fff; border-radius: 6px; margin: 8px 0; }
.PASS { background: #0a7d28; } .FAIL { background: #b00020; } .STOPPED, .ERROR { background: #8a6d00; }
.failed { font-size: 32px; font-weight: bold; color: #b00020; text-align: center; }
.msg { color: #b00020; font-weight: bold; min-height: 1.2em; }
.note { color: #8a4b00; font-weight: bold; }
input.serial { font-size: 28px; width: 70%; }
button { font-size: 20px; padding: 8px 16px; margin: 4px 4px 4px 0; cursor: pointer; }
button.stop { background: #b00020; color: #fff; }
.bar { height: 18px; background: #ddd; border-radius: 4px; overflow: hidden; }
.bar div { height: 100%; background: #2b6cb0; }
.bar div.over { background: #c05621; }
.prompt { border: 3px solid #2b6cb0; padding: 10px; margin-top: 10px; font-size: 22px; }
</style></head>
<body>
<header><h1 id="title">HIL EOL station</h1>
<span id="signin-box"><input id="operator-name" placeholder="operator name">
<button id="signin">Sign in</button></span><span id="who"></span></header>
<main id="sockets"></main>
<script>
"use strict";
const keys = {};
function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";"); }
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)});
  return r.json();
}
async function act(path, sock, extra) {
  const res = await post(path, Object.assign({socket: sock}, extra || {}));
  if (res.error) { const m = document.getElementById("msg-" + sock); if (m) m.textContent = res.error; }
  refresh();
}
document.getElementById("signin").onclick = async () => {
  const res = await post("/api/signin", {operator: document.getElementById("operator-name").value});
  if (res.error) alert(res.error);
  refresh();
};
function card(s, st) {
  const n = esc(s.name);
  let h = "<h2>Socket " + n + (s.serial ? " - " + esc(s.serial) : "") + "</h2>";
  if (s.state === "idle") {
    h += "<p>Scan or type the serial number</p><input class='serial' id='serial-" + n + "' autocomplete='off'>" +
         "<button id='accept-" + n + "'>OK</button><div class='msg' id='msg-" + n + "'>" + esc(s.message) + "</div>";
  } else if (s.state === "loaded") {
    h += "<div class='note' id='note-" + n + "'>" + esc(s.note) + "</div>" +
         "<p style='font-size:22px'>Load unit " + esc(s.serial) + " into socket " + n +
         " and close the fixture.</p><button id='start-" + n + "'>Fixture closed - Start</button>" +
         "<button id='stop-" + n + "'>Cancel</button><div class='msg' id='msg-" + n + "'></div>";
  } else if (s.state === "running") {
    h += "<div class='note'>" + esc(s.note) + "</div><p>Profile " + esc(s.profile) +
         (s.sampling ? " - " + esc(s.sampling) : "") + "</p>" +
         "<p>Test: <b id='test-" + n + "'></b> <span id='count-" + n + "'></span></p>" +
         "<div class='bar'><div id='bar-" + n + "'></div></div><p id='elapsed-" + n + "'></p>" +
         "<button class='stop' id='stop-" + n + "'>STOP</button><div class='msg' id='msg-" + n + "'></div>";
    if (s.prompt) {
      h += "<div class='prompt' id='prompt-" + n + "'><p id='prompt-text-" + n + "'>" + esc(s.prompt.text) + "</p>";
      if (s.prompt.kind === "confirm") {
        h += "<button id='yes-" + n + "'>Done</button><button id='no-" + n + "'>Cannot</button>";
      } else {
        h += "<input class='serial' id='answer-" + n + "'><button id='send-" + n + "'>OK</button>";
      }
      h += "</div>";
    }
  } else if (s.state === "done") {
    h += "<div class='big " + esc(s.verdict) + "' id='verdict-" + n + "'>" + esc(s.verdict) + "</div>" +
         "<div class='failed' id='failed-" + n + "'>" + esc((s.failed || []).join(" ")) + "</div>" +
         "<p id='unit-msg-" + n + "'>" + esc(s.unit_message) + "</p><p>" + esc(s.note) + "</p>" +
         "<p id='took-" + n + "'>" + esc(s.profile) + " in " + s.elapsed_s.toFixed(0) + " s (expected " +
         st.cycle_time_s.toFixed(0) + " s)</p><p>" +
         (s.ticket ? "<a id='ticket-" + n + "' href='/files/" + n + "/eol-ticket.pdf'>EOL ticket (PDF)</a> " : "") +
         (s.label ? "<a id='label-" + n + "' href='/files/" + n + "/label.zpl'>label (ZPL)</a>" : "") +
         "</p><button id='next-" + n + "'>Next unit</button>";
  }
  return h;
}
function wire(s) {
  const n = s.name, on = (id, f) => { const e = document.getElementById(id + "-" + n); if (e) e.onclick = f; };
  const serial = document.getElementById("serial-" + n);
  if (serial) {
    serial.onkeydown = e => { if (e.key === "Enter") act("/api/serial", n, {serial: serial.value}); };
    on("accept", () => act("/api/serial", n, {serial: serial.value}));
  }
  on("start", () => act("/api/start", n));
  on("stop", () => act("/api/stop", n));
  on("next", () => act("/api/next", n));
  if (s.prompt) {
    const id = s.prompt.id;
    on("yes", () => act("/api/answer", n, {id: id, answer: "yes"}));
    on("no", () => act("/api/answer", n, {id: id, answer: "no"}));
    on("send", () => act("/api/answer", n, {id: id, answer: document.getElementById("answer-" + n).value}));
  }
}
function live(s, st) {
  const n = s.name, set = (id, t) => { const e = document.getElementById(id + "-" + n); if (e) e.textContent = t; };
  if (s.state !== "running") return;
  set("test", s.stopping ? "stopping: making the bench safe" : (s.test || "starting"));
  set("count", s.total ? "(" + s.index + " of " + s.total + ")" : "");
  set("elapsed", s.elapsed_s.toFixed(0) + " s of " + st.cycle_time_s.toFixed(0) + " s expected");
  const bar = document.getElementById("bar-" + n);
  if (bar) { bar.style.width = Math.min(100, 100 * s.elapsed_s / st.cycle_time_s) + "%";
             bar.className = s.elapsed_s > st.cycle_time_s ? "over" : ""; }
}
async function refresh() {
  let st;
  try { st = await (await fetch("/api/state")).json(); } catch (e) { return; }
  document.getElementById("title").textContent = "EOL " + st.line + " - " + st.dut + " - lot " + st.lot;
  document.getElementById("who").textContent = st.operator ? "Operator: " + st.operator : "Not signed in";
  const main = document.getElementById("sockets");
  for (const s of st.sockets) {
    let el = document.getElementById("card-" + s.name);
    if (!el) { el = document.createElement("section"); el.className = "card"; el.id = "card-" + s.name; main.appendChild(el); }
    const key = [s.state, s.serial, s.verdict, s.message, s.prompt ? s.prompt.id : "", s.ticket, s.label].join("|");
    if (keys[s.name] !== key) { keys[s.name] = key; el.innerHTML = card(s, st); wire(s); }
    live(s, st);
  }
}
refresh();
setInterval(refresh, 500);
</script></body></html>
"""
