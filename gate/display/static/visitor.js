// The visitor screen: what the daemon's /ws says about its lane, painted at once.
//
// No stale screen, ever: the page pings every second; with no message for 5 s (or a closed
// socket) it shows "Out of order" and reconnects with backoff (1, 2, 4, 8 s). A result never
// stays past its display time: an admit until its passage ends (plus a moment), a refusal a
// few seconds, an attention verdict until the next decision (each capped by the daemon's
// `display.ms`). Each result's paint delay goes back to the daemon ("painted").
"use strict";

(() => {
  const PING_MS = 1000;
  const DEAD_MS = 5000;
  const BACKOFF_MS = [1000, 2000, 4000, 8000];
  const TICK_MS = 100;
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
  const language = new URLSearchParams(location.search).get("lang");

  let socket = null;
  let connected = false; // a status arrived on this socket
  let heard = 0; // performance.now() of the last message (or of the connect attempt)
  let pinged = 0;
  let attempts = 0;
  let retry = 0;
  let words = {};
  let status = null;
  let laneScreen = "starting"; // normal, free, emergency or closed, as the daemon says
  let shown = null; // the result on screen: {id, redemption, until, passage, linger}
  let clockFormat = null;

  function setScreen(name) {
    screen.dataset.screen = name;
    for (const panel of ["idle", "result", "notice"]) {
      $(panel).hidden = PANELS[name] !== panel;
    }
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
    words = message.words || {};
    connected = true;
    attempts = 0;
    document.documentElement.lang = message.language;
    for (const id of ["scan", "hold", "formats"]) {
      if (words[id]) $(id).textContent = words[id];
    }
    try {
      clockFormat = new Intl.DateTimeFormat(message.language, {
        hour: "2-digit", minute: "2-digit", timeZone: message.timezone,
      });
    } catch (error) {
      clockFormat = new Intl.DateTimeFormat(message.language, { hour: "2-digit", minute: "2-digit" });
    }
    laneScreen = message.screen;
    idle(); // a status starts over: whatever was shown may have ended meanwhile
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
    };
    $("word").textContent = message.word;
    $("text").textContent = message.text;
    // The masked name and the counts, unless the text says them already.
    const holder = message.holder || "";
    $("holder").textContent = holder && !message.text.includes(holder) ? holder : "";
    let count = "";
    const many = message.admitted > 1;
    if (message.verdict === "admit" && message.admitted > 0 && words.person
        && !(many && message.text.includes(String(message.admitted)))) {
      count = many ? words.persons.replace("{n}", message.admitted) : words.person;
    }
    $("count").textContent = count;
    const balance = message.balance;
    const said = balance !== null && balance !== undefined && message.text.includes(String(balance));
    $("balance").textContent = balance === null || balance === undefined || said || !words.left
      ? "" : words.left.replace("{n}", balance);
    setScreen(message.verdict);
    if (message.decision_id) {
      requestAnimationFrame(() => {
        send({ type: "painted", decision_id: message.decision_id, ms: performance.now() - at });
      });
    }
  }

  function onPassage(message, at) {
    if (shown && shown.passage && message.done && message.redemption === shown.redemption) {
      shown.until = Math.min(shown.until, at + shown.linger);
    }
  }

  function onMessage(event) {
    const at = performance.now();
    heard = at;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    switch (message.type) {
      case "status": onStatus(message); break;
      case "mode": onMode(message); break;
      case "decision": if (connected) onDecision(message, at); break;
      case "passage": onPassage(message, at); break;
      default: break; // pong, or something newer than this page
    }
  }

  // --- the connection ---------------------------------------------------------------------------

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (language) url.searchParams.set("lang", language);
    heard = performance.now();
    connected = false;
    socket = new WebSocket(url);
    socket.onmessage = onMessage;
    socket.onclose = drop;
  }

  function drop() {
    const old = socket;
    socket = null;
    connected = false;
    if (old) {
      old.onmessage = old.onclose = null;
      try { old.close(); } catch (error) { /* already closed */ }
    }
    idle(); // out of order at once: a result must not outlive the daemon
    clearTimeout(retry);
    retry = setTimeout(connect, BACKOFF_MS[Math.min(attempts, BACKOFF_MS.length - 1)]);
    attempts += 1;
  }

  // --- every tick: the heartbeat, display times, the clock -----------------------------------------

  function bar() {
    const current = status || {};
    $("lane").textContent = current.lane && words.lane
      ? words.lane.replace("{lane}", current.lane) + (current.zone ? " · " + current.zone : "") : "";
    $("direction").textContent = (current.directions || []).map((d) => words[d] || d).join(" · ");
    const name = connected ? laneScreen : "closed";
    $("mode").textContent = words["mode_" + name] || "";
  }

  function clock() {
    const text = (clockFormat || new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }))
      .format(new Date());
    if ($("clock").textContent !== text) $("clock").textContent = text;
  }

  function tick() {
    const now = performance.now();
    if (socket && socket.readyState === WebSocket.OPEN && now - pinged >= PING_MS) {
      pinged = now;
      send({ type: "ping" });
    }
    if (socket && now - heard > DEAD_MS) drop(); // no answer (or no connection) for 5 s
    if (shown && now >= shown.until) idle();
    clock();
  }

  clock();
  connect();
  setInterval(tick, TICK_MS);
})();
