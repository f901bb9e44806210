// The visitor screen: what the daemon's /ws says about its lane, painted at once.
//
// No stale screen, ever: with the link down (static/link.js: no message for 5 s, or a closed
// socket) it shows "Out of order" at once, and the link reconnects with backoff. A result never
// stays past its display time: an admit until its passage ends (plus a moment), a refusal a
// few seconds, an attention verdict until the next decision (each capped by the daemon's
// `display.ms`). Each result's paint delay goes back to the daemon ("painted").
//
// A touch on a language repaints the screen in it (a result comes in every language); a
// result shows first in the holder's own language when the ledger has it. Back at idle after
// a result, or after a while untouched, the lane's own language returns. "Call staff" asks
// the daemon (journaled there), which answers "called".
"use strict";

(() => {
  const TICK_MS = 100;
  const CHOSEN_MS = 30000; // a language touched with no read after it: the lane's own returns
  const CALLED_MS = 10000; // "staff are on their way" stays this long
  const OUT_OF_ORDER = "Out of order — please use another lane";

  // Which panel each screen shows.
  const PANELS = {
    normal: "idle", free: "idle", emergency: "idle",
    admit: "result", deny: "result", attention: "result",
    closed: "notice", offline: "notice", starting: "notice",
  };
  const VERDICTS = new Set(["admit", "deny", "attention"]);

  const $ = (id) => document.getElementById(id);
  const screen = $("screen");
  const query = new URLSearchParams(location.search);
  const language = query.get("lang");
  const laneAsked = query.get("lane");

  let link = null; // static/link.js
  let connected = false; // a status arrived on this connection
  let words = {};
  let translations = {};
  let lang = null; // the language on screen
  let home = null; // the lane's own (the page's), as the daemon says
  let chosen = 0; // performance.now() of the last language touch; 0: none since the last result
  let calledUntil = 0;
  let status = null;
  let laneScreen = "starting"; // normal, free, emergency or closed, as the daemon says
  let shown = null; // the result on screen: {id, redemption, until, passage, linger, message}
  let clockFormat = null;

  function setScreen(name) {
    screen.dataset.screen = name;
    for (const panel of ["idle", "result", "notice"]) {
      $(panel).hidden = PANELS[name] !== panel;
    }
    $("touch").hidden = !connected || name === "offline" || name === "starting";
    bar();
  }

  function notice(name, text) {
    shown = null;
    $("notice-text").textContent = text;
    setScreen(name);
  }

  function idle() {
    shown = null;
    if (!connected) {
      notice("offline", words.out_of_order || OUT_OF_ORDER);
    } else if (laneScreen === "closed") {
      notice("closed", words.out_of_order || OUT_OF_ORDER);
    } else {
      const banner = $("banner");
      banner.textContent = laneScreen === "free" || laneScreen === "emergency" ? words[laneScreen] : "";
      banner.hidden = !banner.textContent;
      setScreen(laneScreen);
    }
  }

  // --- messages ------------------------------------------------------------------------------

  function onStatus(message) {
    status = message;
    translations = message.translations || { [message.language]: message.words || {} };
    home = message.language;
    connected = true;
    laneScreen = message.screen;
    languageButtons();
    speak(chosen ? lang : home);
    idle(); // a status starts over: whatever was shown may have ended meanwhile
  }

  // --- languages --------------------------------------------------------------------------------

  function languageButtons() {
    const group = $("languages");
    group.replaceChildren();
    for (const code of (status && status.languages) || []) {
      const button = document.createElement("button");
      button.type = "button";
      button.lang = code;
      button.dataset.language = code;
      button.textContent = (translations[code] && translations[code].language) || code;
      button.addEventListener("click", () => { chosen = performance.now(); speak(code); });
      group.append(button);
    }
  }

  function speak(code) {
    lang = translations[code] ? code : home;
    words = translations[lang] || {};
    document.documentElement.lang = lang || "en";
    for (const id of ["scan", "hold", "formats"]) {
      if (words[id]) $(id).textContent = words[id];
    }
    for (const button of $("languages").children) {
      button.setAttribute("aria-pressed", String(button.dataset.language === lang));
    }
    $("languages").setAttribute("aria-label", words.language || "Language");
    $("call").textContent = words.call_staff || "Call staff";
    $("staff").textContent = words.staff || "Staff";
    $("called").textContent = words.staff_called || "";
    try {
      clockFormat = new Intl.DateTimeFormat(lang, {
        hour: "2-digit", minute: "2-digit", timeZone: status && status.timezone,
      });
    } catch (error) {
      clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
    }
    if (shown) paint(shown.message);
    if (!shown && PANELS[screen.dataset.screen] === "notice") idle();
    bar();
  }

  function backHome() {
    chosen = 0;
    if (lang !== home) speak(home);
  }

  function onMode(message) {
    laneScreen = message.screen;
    if (!shown || laneScreen === "closed" || laneScreen === "emergency") idle();
    else bar();
  }

  function onDecision(message, at) {
    if (!VERDICTS.has(message.verdict)) return;
    const display = message.display || { until: "time", ms: 0 };
    shown = {
      id: message.decision_id,
      redemption: message.redemption,
      until: at + display.ms,
      passage: display.until === "passage",
      linger: display.linger_ms || 0,
      message,
    };
    // A visitor who touched a language keeps it; else the holder's own, else the lane's.
    const first = chosen ? lang : message.language;
    if (first !== lang) speak(first); else paint(message);
    setScreen(message.verdict);
    // The sound once the frame is under way: starting the audio (the first time, a whole
    // AudioContext) must not hold up the result's paint.
    requestAnimationFrame(() => {
      if (message.decision_id) {
        send({ type: "painted", decision_id: message.decision_id, ms: performance.now() - at });
      }
      window.gateSound(message.verdict);
    });
  }

  function paint(message) {
    const texts = (message.texts && message.texts[lang]) || message;
    $("word").textContent = texts.word;
    $("text").textContent = texts.text;
    const items = (texts.details || []).map((detail) => {
      const item = document.createElement("li");
      item.textContent = detail;
      return item;
    });
    $("details").replaceChildren(...items);
  }

  function onCalled() {
    calledUntil = performance.now() + CALLED_MS;
    $("called").hidden = false;
    $("call").disabled = true;
  }

  function onPassage(message, at) {
    if (shown && shown.passage && message.done && message.redemption === shown.redemption) {
      shown.until = Math.min(shown.until, at + shown.linger);
    }
  }

  function onMessage(message, at) {
    switch (message.type) {
      case "status": onStatus(message); break;
      case "mode": onMode(message); break;
      case "decision": if (connected) onDecision(message, at); break;
      case "passage": onPassage(message, at); break;
      case "called": onCalled(); break;
      case "sync": if (status) { status.sync = message.link; bar(); } break;
      case "staff": window.gateStaff(); break; // a staff badge at this lane's reader
      default: break; // pong, or something newer than this page
    }
  }

  // --- the connection ---------------------------------------------------------------------------

  function send(message) {
    if (link) link.send(message);
  }

  function down() {
    connected = false;
    idle(); // out of order at once: a result must not outlive the daemon
  }

  // --- every tick: display times, the clock ---------------------------------------------------------

  function bar() {
    const current = status || {};
    $("lane").textContent = current.lane && words.lane
      ? words.lane.replace("{lane}", current.lane) + (current.zone ? " · " + current.zone : "") : "";
    $("direction").textContent = (current.directions || []).map((d) => words[d] || d).join(" · ");
    const name = connected ? laneScreen : "closed";
    $("mode").textContent = words["mode_" + name] || "";
    // The sync link: a neutral dot, its words for a screen reader and a finger's tooltip only.
    const sync = connected && current.sync ? current.sync : null;
    $("sync").hidden = !sync;
    if (sync) {
      $("sync").dataset.link = sync;
      $("sync").setAttribute("aria-label", words["sync_" + sync] || sync);
      $("sync").title = words["sync_" + sync] || sync;
    }
  }

  function clock() {
    const text = (clockFormat || new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }))
      .format(new Date());
    if ($("clock").textContent !== text) $("clock").textContent = text;
  }

  function tick() {
    const now = performance.now();
    if (shown && now >= shown.until) {
      idle();
      backHome(); // the next visitor starts in the lane's own language
    }
    if (chosen && !shown && now - chosen > CHOSEN_MS) backHome();
    if (calledUntil && now >= calledUntil) {
      calledUntil = 0;
      $("called").hidden = true;
      $("call").disabled = false;
    }
    clock();
  }

  $("call").addEventListener("click", () => send({ type: "call_staff" }));

  clock();
  link = window.gateLink({
    screen: "visitor", params: () => ({ lang: language, lane: laneAsked }), onMessage, onDown: down,
  });
  setInterval(tick, TICK_MS);
})();
