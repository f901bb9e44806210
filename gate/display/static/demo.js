// The demo page: the visitor screen framed, the turnstile's outputs, the demo codes "scanned" by a
// click, the demo staff's PINs. The same link as every screen (static/link.js): down, the page
// says the demo has stopped until it answers again.
"use strict";

(() => {
  const KEPT = 8; // decisions listed
  const $ = (id) => document.getElementById(id);

  let link = null; // static/link.js
  let asked = 0;
  let codes = [];

  function onDemo(message) {
    $("lane-name").textContent = message.lane;
    const visitor = `/visitor?lane=${encodeURIComponent(message.lane)}`;
    if (!$("visitor").src.endsWith(visitor)) $("visitor").src = visitor;
    if (message.kiosks.length) $("kiosk-link").href = `/kiosk?lane=${encodeURIComponent(message.kiosks[0])}`;
    $("kiosk-link").hidden = !message.kiosks.length;
    codes = message.codes;
    $("codes").replaceChildren(...codes.map((code, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.code = code.code;
      const name = document.createElement("b");
      name.textContent = code.code;
      const what = document.createElement("span");
      what.textContent = code.what + (code.lane !== message.lane ? ` (at ${code.lane})` : "")
        + (code.direction === "exit" ? " (exit)" : "");
      button.append(name, what);
      button.addEventListener("click", () => scan(index));
      const item = document.createElement("li");
      item.append(button);
      return item;
    }));
    $("staff").replaceChildren(...message.staff.map((staff) => {
      const item = document.createElement("li");
      item.textContent = `${staff.name} (${staff.role}): staff id ${staff.id}, PIN ${staff.pin}`;
      return item;
    }));
    onOutputs(message.outputs);
    onMode(message.mode);
  }

  function onOutputs(outputs) {
    for (const lamp of ["green", "red", "amber"]) {
      const on = Boolean(outputs.lamps && outputs.lamps[lamp]);
      $(`lamp-${lamp}`).dataset.on = String(on);
      $(`lamp-${lamp}`).hidden = !(outputs.lamps && lamp in outputs.lamps);
    }
    for (const direction of ["entry", "exit"]) {
      const on = Boolean(outputs.relays && outputs.relays[direction]);
      const row = $(`relay-${direction}`);
      row.dataset.on = String(on);
      row.hidden = !(outputs.relays && direction in outputs.relays);
      row.querySelector("b").textContent = on ? "open" : "closed";
    }
    $("lock").dataset.on = String(Boolean(outputs.lock));
    $("lock").hidden = outputs.lock === null || outputs.lock === undefined;
    $("lock").querySelector("b").textContent = outputs.lock ? "released" : "locked";
    $("buzzer").dataset.on = String(Boolean(outputs.buzzer));
    $("buzzer").querySelector("b").textContent = outputs.buzzer ? "sounding" : "quiet";
  }

  function onMode(mode) {
    $("mode").textContent = `Lane mode: ${mode}`;
  }

  function onPassage(message) {
    $("passage").textContent = message.done
      ? `Passage ${message.step}: ${message.passed} of ${message.expected} passed`
      : `Passage ${message.step}: ${message.passed} of ${message.expected} through, the arm is free`;
  }

  function onDecided(message) {
    const item = document.createElement("li");
    const verdict = document.createElement("span");
    verdict.className = "verdict";
    verdict.textContent = message.verdict;
    item.append(verdict, `${message.lane}: ${message.reference || "?"} — ${message.text}`);
    $("decisions").prepend(item);
    while ($("decisions").children.length > KEPT) $("decisions").lastChild.remove();
  }

  function onAnswer(message) {
    if (message.id === asked && !message.ok) $("answer").textContent = message.error;
  }

  function scan(index) {
    asked += 1;
    $("answer").textContent = `Scanned ${codes[index].code}`;
    link.send({ type: "scan", id: asked, code: index });
  }

  function onMessage(message) {
    switch (message.type) {
      case "demo": $("link-state").textContent = "Live"; onDemo(message); break;
      case "outputs": onOutputs(message.outputs); break;
      case "mode": onMode(message.mode); break;
      case "passage": onPassage(message); break;
      case "decided": onDecided(message); break;
      case "answer": onAnswer(message); break;
      default: break;
    }
  }

  link = window.gateLink({
    screen: "demo", onMessage,
    onDown: () => { $("link-state").textContent = "The demo has stopped (reconnecting…)"; },
  });
})();
