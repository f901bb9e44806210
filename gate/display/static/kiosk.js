// The kiosk screen: the kiosk's session as the daemon's /ws?screen=kiosk words it, laid out here.
//
// The page decides nothing: every choice goes to the daemon (choose, confirm, cancel,
// more_time, a typed code) and the session comes back worded in the page's language.
// No trace of the last person: a `wipe`, a lost connection or a countdown that ran out
// empties the session's DOM (replaceChildren, not just hidden). No stale screen: with the link
// down (static/link.js: no message for 5 s) it shows "Out of order" and the link reconnects
// with backoff. Before an idle session ends, a countdown, a sound and a large
// "More time" button.
"use strict";

(() => {
  const TICK_MS = 200;
  const OUT_OF_ORDER = "Out of order — please use another kiosk";
  const KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  const PANELS = { idle: "idle", keypad: "keypad", session: "session", done: "session",
    closed: "notice", offline: "notice", starting: "notice" };

  const $ = (id) => document.getElementById(id);
  const screen = $("screen");
  let language = new URLSearchParams(location.search).get("lang");
  let link = null; // static/link.js
  let connected = false;
  let words = {};
  let status = null;
  let session = null; // the session message on screen
  let ends = 0; // performance.now() at which the shown session ends by itself
  let warned = false;
  let doneUntil = 0;
  let asked = 0;
  const waiting = new Map(); // message id -> what to do with its answer
  let quantities = {};
  let expanded = new Set();

  // --- building blocks ------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function button(text, className, onClick) {
    const node = el("button", "button " + className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function word(key, values) {
    let text = words[key] || "";
    for (const [name, value] of Object.entries(values || {})) text = text.replace("{" + name + "}", value);
    return text;
  }

  function setScreen(name) {
    screen.dataset.screen = name;
    for (const panel of ["idle", "keypad", "session", "notice"]) $(panel).hidden = PANELS[name] !== panel;
    if (PANELS[name] !== "session") warn(false);
  }

  // --- the session ------------------------------------------------------------------------------

  function wipe() {
    session = null;
    quantities = {};
    expanded = new Set();
    doneUntil = 0;
    $("session").replaceChildren(); // gone from the DOM, not just hidden
    $("code").value = "";
    $("typed-message").textContent = "";
    warn(false);
    home();
  }

  function home() {
    if (!connected) notice("offline", words.out_of_order || OUT_OF_ORDER);
    else if (status && status.screen === "closed") notice("closed", words.out_of_order || OUT_OF_ORDER);
    else if (session) setScreen(session.done ? "done" : "session");
    else if (screen.dataset.screen !== "keypad") setScreen("idle");
  }

  function notice(name, text) {
    $("notice-text").textContent = text;
    setScreen(name);
  }

  function showSession(message, at) {
    if (!session || session.session !== message.session) {
      quantities = {};
      expanded = new Set();
    }
    session = message;
    ends = at + message.seconds_left * 1000;
    warned = false;
    doneUntil = message.done ? at + (status ? status.done_s : 30) * 1000 : 0;
    render();
    home();
  }

  function render() {
    const m = session;
    const root = $("session");
    const scroll = el("div", "scroll");
    const actions = el("div", "actions");
    root.replaceChildren(scroll, actions);
    root.dataset.flow = m.flow;
    root.dataset.state = m.state;
    if (m.done) return renderDone(m, scroll, actions);
    if (m.holder) scroll.append(el("h1", "holder", m.holder));
    if (m.text) scroll.append(el("p", "verdict verdict-" + m.tone, m.text));
    if (m.together) scroll.append(el("p", "together", m.together));
    for (const text of m.codes) scroll.append(el("p", "other", text));
    list(scroll, "facts", m.facts);
    if (m.flow === "reservation") scroll.append(el("p", "pay", word("pay_where")));
    if (m.refused) scroll.append(el("p", "refused", m.refused));
    if (m.unconfirmed) scroll.append(el("p", "refused", word("error")));
    if (m.held) {
      const held = el("div", "held");
      held.id = "held";
      held.append(el("h2", null, word("your_choice")));
      for (const line of m.held.lines) held.append(el("p", null, line));
      scroll.append(held);
    }
    if (m.flow === "voucher" && m.choosing) renderEvents(m, scroll);
    if (m.flow === "credits" && m.products.length) renderProducts(m, scroll);
    if (m.uses.length || m.flow === "membership" || m.flow === "credits") {
      scroll.append(el("h2", null, word("your_uses")));
      if (m.uses.length) list(scroll, "uses", m.uses);
      else scroll.append(el("p", "hint", word("no_uses")));
    }
    const choosing = m.choosing || m.flow === "credits";
    actions.append(button(word(choosing ? "cancel" : "done"), "secondary", () => act("cancel")));
    if (choosing) {
      const confirm = button(word("confirm"), "primary", () => act("confirm"));
      confirm.id = "confirm";
      confirm.disabled = !m.held;
      actions.append(confirm);
    }
  }

  function list(parent, className, lines) {
    if (!lines.length) return;
    const ul = el("ul", className);
    for (const line of lines) ul.append(el("li", null, line));
    parent.append(ul);
  }

  function renderEvents(m, scroll) {
    if (!m.events.length) scroll.append(el("p", "hint", word("none_open")));
    const chosen = m.held ? m.held.performance : null;
    for (const event of m.events) {
      const box = el("div", "event");
      const items = el("ul", "list");
      items.id = "event-" + event.event;
      for (const p of event.performances) {
        const li = el("li");
        const choice = button([event.title, p.when, p.seat, p.tariff].filter(Boolean).join(" · "), "choice", () => {
          send({ type: "choose", session: m.session, performance: p.performance });
        });
        choice.className = "choice";
        choice.dataset.performance = p.performance;
        choice.setAttribute("aria-pressed", String(chosen === p.performance));
        li.append(choice);
        items.append(li);
      }
      if (event.folded) {
        const open = expanded.has(event.event);
        const toggle = el("button", "expand", event.expand);
        toggle.type = "button";
        toggle.dataset.event = event.event;
        toggle.setAttribute("aria-expanded", String(open));
        toggle.setAttribute("aria-controls", items.id);
        items.hidden = !open;
        toggle.addEventListener("click", () => {
          if (expanded.has(event.event)) expanded.delete(event.event); else expanded.add(event.event);
          touch();
          render();
        });
        box.append(toggle);
      }
      box.append(items);
      scroll.append(box);
    }
    scroll.append(el("p", "hint", word("scan_another")));
  }

  function renderProducts(m, scroll) {
    scroll.append(el("h2", null, word("choose_products")));
    for (const p of m.products) {
      const row = el("div", "product");
      row.dataset.product = p.product;
      const name = el("p", "name", p.title);
      name.append(el("span", null, [p.price, p.covered].filter(Boolean).join(" · ")));
      const count = el("output", "quantity", String(quantities[p.product] || 0));
      count.setAttribute("aria-live", "polite");
      count.setAttribute("aria-label", p.title);
      const step = (by) => () => {
        quantities[p.product] = Math.max(0, Math.min(9, (quantities[p.product] || 0) + by));
        touch();
        render();
      };
      const less = button("−", "secondary", step(-1));
      less.setAttribute("aria-label", word("one_less", { title: p.title }));
      less.dataset.step = "less";
      const more = button("+", "secondary", step(1));
      more.setAttribute("aria-label", word("one_more", { title: p.title }));
      more.dataset.step = "more";
      row.append(name, less, count, more);
      scroll.append(row);
    }
    const items = [];
    for (const [product, n] of Object.entries(quantities)) for (let i = 0; i < n; i += 1) items.push(product);
    const check = button(word("check"), "primary", () => send({ type: "choose", session: m.session, items }));
    check.id = "check";
    check.disabled = items.length === 0;
    scroll.append(check);
  }

  function renderDone(m, scroll, actions) {
    scroll.classList.add("done");
    for (const line of m.done.lines) scroll.append(el("h1", "done-line", line));
    if (m.done.qrs.length) {
      const box = el("div", "qrs");
      for (const qr of m.done.qrs) {
        const img = el("img", "qr");
        img.src = qr.src;
        img.alt = m.done.lines[0] || "";
        box.append(img);
      }
      scroll.append(box, el("p", null, word("show_code")));
    }
    actions.append(button(word("done"), "primary", () => send({ type: "done" })));
  }

  // --- acts -------------------------------------------------------------------------------------

  function act(type) {
    if (session) send({ type, session: session.session });
  }

  let touched = 0;
  function touch() { // browsing counts as being there: the inactivity timer starts again
    const now = performance.now();
    if (session && !session.done && now - touched > 5000) {
      touched = now;
      act("more_time");
    }
  }

  function warn(on) {
    $("warning").hidden = !on;
    if (!on) warned = false;
  }

  function countdown(now) {
    if (!session || session.done) return;
    const left = ends - now;
    if (left <= -2000) { wipe(); return; } // the daemon's end never came: wiped all the same
    // warn_s (at least 20 s, WCAG 2.2.1) before the end; the daemon's config makes sure a
    // session has time before it.
    const warnMs = (status ? status.warn_s : 20) * 1000;
    if (left > warnMs) { warn(false); return; }
    const text = word("warn", { n: String(Math.max(0, Math.ceil(left / 1000))) });
    if ($("warning-text").textContent !== text) $("warning-text").textContent = text;
    if (!warned) {
      warned = true;
      $("warning").hidden = false;
      beep();
      $("more-time").focus();
    }
  }

  // A sound made here (no file): two short tones; counted on #warning[data-sounds].
  let audio = null;
  function beep() {
    const box = $("warning");
    box.dataset.sounds = String(Number(box.dataset.sounds || 0) + 1);
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      let at = audio.currentTime + 0.01;
      for (const hz of [660, 520]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = hz;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        osc.start(at);
        osc.stop(at + 0.25);
        at += 0.35;
      }
    } catch (error) { /* no audio here: the countdown still shows */ }
  }

  // --- the keypad ------------------------------------------------------------------------------

  function keypad() {
    const keys = $("keys");
    for (const key of KEYS) {
      const b = button(key, "secondary", () => { $("code").value += key; });
      b.dataset.key = key;
      keys.append(b);
    }
    $("type-open").addEventListener("click", () => { setScreen("keypad"); $("code").focus(); });
    $("typed-back").addEventListener("click", () => { $("code").value = ""; $("typed-message").textContent = ""; setScreen("idle"); });
    $("typed-delete").addEventListener("click", () => { $("code").value = $("code").value.slice(0, -1); });
    $("typed-go").addEventListener("click", typed);
    $("code").addEventListener("keydown", (event) => { if (event.key === "Enter") typed(); });
    $("more-time").addEventListener("click", () => { warn(false); act("more_time"); });
  }

  function typed() {
    const code = $("code").value.trim().toUpperCase();
    if (!code) return;
    $("typed-message").textContent = "";
    send({ type: "typed", code }, (answer) => {
      if (!answer.ok) $("typed-message").textContent = answer.text || word("error");
      else $("code").value = "";
    });
  }

  // --- messages ---------------------------------------------------------------------------------

  function onStatus(message) {
    status = message;
    words = message.words || {};
    language = message.language;
    connected = true;
    document.documentElement.lang = message.language;
    const labels = { scan: "scan", hold: "hold", "type-open": "type_code", "typed-label": "typed_label",
      "typed-go": "typed_go", "typed-delete": "typed_delete", "typed-back": "typed_back", "more-time": "more_time",
      staff: "staff" };
    for (const [id, key] of Object.entries(labels)) if (words[key]) $(id).textContent = words[key];
    $("lane").textContent = word("kiosk", { lane: message.lane }) + (message.zone ? " · " + message.zone : "");
    $("languages").setAttribute("aria-label", word("language"));
    const names = { en: "English", fr: "Français", de: "Deutsch" };
    $("languages").replaceChildren(...message.languages.map((code) => {
      const b = button(names[code] || code, code === message.language ? "primary" : "secondary",
        () => send({ type: "language", language: code }));
      b.lang = code;
      b.setAttribute("aria-pressed", String(code === message.language));
      return b;
    }));
    if (session) render();
    home();
  }

  function onMessage(message, at) {
    switch (message.type) {
      case "status": onStatus(message); break;
      case "mode": if (status) status.screen = message.screen; home(); break;
      case "session": if (connected) showSession(message, at); break;
      case "wipe": wipe(); break;
      case "staff": window.gateStaff(); break; // a staff badge at this kiosk's reader
      case "answer": answered(message); break;
      default: break; // pong, or something newer than this page
    }
  }

  function answered(message) {
    const then = waiting.get(message.id);
    waiting.delete(message.id);
    if (then) then(message);
    else if (!message.ok && session) {
      const root = $("session").querySelector(".scroll");
      if (root) root.prepend(el("p", "refused", message.text || word("error")));
    }
  }

  function send(message, then) {
    asked += 1;
    if (link && link.send({ ...message, id: asked })) waiting.set(asked, then || null);
  }

  function down() {
    connected = false;
    waiting.clear();
    wipe(); // out of order at once, and nobody's session left behind
  }

  function clock() {
    let format;
    try {
      format = new Intl.DateTimeFormat(language || undefined, { hour: "2-digit", minute: "2-digit",
        hourCycle: "h23", timeZone: status ? status.timezone : undefined }); // 24 h, as the session's times
    } catch (error) {
      format = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
    }
    const text = format.format(new Date());
    if ($("clock").textContent !== text) $("clock").textContent = text;
  }

  function tick() {
    const now = performance.now();
    if (doneUntil && now >= doneUntil) wipe();
    countdown(now);
    clock();
  }

  keypad();
  clock();
  link = window.gateLink({
    screen: "kiosk", onMessage, onDown: down,
    params: () => ({ lane: new URLSearchParams(location.search).get("lane"), lang: language }),
  });
  setInterval(tick, TICK_MS);
})();
