// The staff console: a staff session on the daemon's /ws?screen=console, and the staff acts.
//
// The server holds the session: it opens on a PIN (or a staff badge read at a reader), ends on
// logout, after the idle time without a touch and with the socket. This page never keeps a PIN,
// never logs in again by itself, and wipes every staff view when a session ends or the socket
// drops: a reconnect starts at the login screen. The link is every screen's (static/link.js):
// down, the page shows "offline" and reconnects with backoff. What a role may not do is hidden
// here and refused by the server anyway.
"use strict";

(() => {
  const TICK_MS = 250;
  const TOUCH_MS = 5000; // at most one "touch" message this often: the server's idle timer
  const TOAST_MS = 6000;
  const ROWS_KEPT = 100;
  const LANGUAGE_NAMES = { en: "English", fr: "Français", de: "Deutsch" };
  const PRESETS = {
    override: ["preset_lost", "preset_unreadable", "preset_manager"],
    open: ["preset_access", "preset_lost", "preset_manager"],
    void: ["preset_manager"],
    mode: ["preset_manager"],
    occupancy: ["preset_manager"],
    confirm: ["preset_checked"],
  };

  const $ = (id) => document.getElementById(id);
  const screen = $("screen");
  const query = new URLSearchParams(location.search);

  let link = null; // static/link.js
  let connected = false;
  let words = {};
  let status = null;
  let session = null; // {by, role, via, allowed, idle_s} while the server says a session is open
  let rows = [];
  let pending = [];
  let marks = {};  // decision id -> confirmed, offline or waiting (with a sync process)
  let lockedUntil = 0;
  let nextId = 1;
  const waiting = new Map(); // answer id -> callback
  let touchSent = 0;
  let keypadTarget = "pin";
  let breakGlass = false;
  let form = null; // the open dialog's act: {op, row, confirm}
  let toastUntil = 0;

  // --- words ------------------------------------------------------------------------------

  function w(key, fill) {
    let text = words[key] || key;
    for (const [name, value] of Object.entries(fill || {})) text = text.replace("{" + name + "}", String(value));
    return text;
  }

  function applyWords() {
    for (const node of document.querySelectorAll("[data-word]")) {
      if (words[node.dataset.word]) node.textContent = words[node.dataset.word];
    }
    document.title = w("title");
    $("keypad").setAttribute("aria-label", w("pin"));
    $("languages").setAttribute("aria-label", w("language"));
  }

  function languages() {
    const nav = $("languages");
    nav.replaceChildren();
    for (const code of (status && status.languages) || []) {
      const link = document.createElement("a");
      const target = new URLSearchParams(location.search);
      target.set("lang", code);
      link.href = "?" + target.toString();
      link.className = "btn lang";
      link.lang = code;
      link.textContent = LANGUAGE_NAMES[code] || code;
      if (code === status.language) link.setAttribute("aria-current", "true");
      nav.append(link);
    }
  }

  // --- what is on screen ---------------------------------------------------------------------

  function locked() {
    return lockedUntil > performance.now();
  }

  function render() {
    let name;
    if (!connected) name = status ? "offline" : "starting";
    else if (session) name = "console";
    else name = locked() ? "locked" : "login";
    screen.dataset.screen = name;
    $("notice").hidden = name !== "offline" && name !== "starting";
    $("login").hidden = name !== "login" && name !== "locked";
    $("console").hidden = name !== "console";
    $("notice-text").textContent = name === "offline" ? w("offline") : w("starting");
    const isLocked = name === "locked";
    for (const key of document.querySelectorAll("#keypad .key")) key.disabled = isLocked;
    $("pin").disabled = isLocked;
    $("login-button").disabled = isLocked;
    if (isLocked) {
      $("login-message").textContent = w("locked", { s: Math.ceil((lockedUntil - performance.now()) / 1000) });
    }
  }

  function wipe() {
    // Nothing of the last session stays on the page: lists, lookups, dialogs, fields.
    session = null;
    rows = [];
    pending = [];
    form = null;
    for (const id of ["recent-list", "pending-list", "health-list", "lookup-result"]) $(id).replaceChildren();
    $("lookup-result").hidden = true;
    $("pending-count").textContent = "";
    $("toast").textContent = "";
    $("pin").value = "";
    for (const dialog of document.querySelectorAll("dialog")) if (dialog.open) dialog.close();
  }

  function toast(text) {
    $("toast").textContent = text;
    toastUntil = performance.now() + TOAST_MS;
  }

  // --- rows: reads and decisions, pending attention --------------------------------------------

  function allowed(op) {
    return Boolean(session && session.allowed.includes(op));
  }

  function overridable(row) {
    const windowMs = ((status && status.override_window_s) || 300) * 1000;
    return row.verdict === "deny" && row.decision_id && Date.now() - row.at_ms <= windowMs;
  }

  const views = window.GateConsoleViews({
    $, w, allowed, overridable, onAct: (op, row) => openForm(op, row),
    isPending: (id) => pending.some((p) => p.decision_id === id),
    markOf: (id) => marks[id],
  });

  function renderRows() {
    $("recent-list").replaceChildren(...rows.map(views.rowItem));
    $("recent-empty").hidden = rows.length > 0;
  }

  function renderPending() {
    $("pending-list").replaceChildren(...pending.map(views.rowItem));
    $("pending-empty").hidden = pending.length > 0;
    $("pending-count").textContent = pending.length ? "(" + pending.length + ")" : "";
  }

  // --- the acts' dialog ----------------------------------------------------------------------

  function choices(containerId, values, current, label) {
    const box = $(containerId);
    box.replaceChildren();
    for (const value of values) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn choice";
      button.dataset.value = value;
      button.textContent = label(value);
      button.setAttribute("aria-pressed", String(value === current));
      button.addEventListener("click", () => {
        for (const other of box.children) other.setAttribute("aria-pressed", String(other === button));
      });
      box.append(button);
    }
  }

  function chosen(containerId) {
    const pressed = $(containerId).querySelector('[aria-pressed="true"]');
    return pressed ? pressed.dataset.value : null;
  }

  function openForm(op, row) {
    if (!allowed(op)) return;
    form = { op, row: row || null };
    const dialog = $("dialog");
    dialog.dataset.op = op;
    $("dialog-title").textContent = w(op);
    $("dialog-subject").textContent = row ? [row.time, row.holder, row.text].filter(Boolean).join(" · ") : "";
    $("dialog-error").textContent = "";
    const fields = {
      mode: op === "mode",
      direction: (op === "open" || op === "typed") && (status.directions || []).length > 1,
      reference: op === "typed" || op === "lookup",
      count: op === "occupancy",
      reason: ["override", "confirm", "void", "open", "mode", "occupancy"].includes(op),
    };
    for (const [name, shown] of Object.entries(fields)) $("field-" + name).hidden = !shown;
    choices("mode-choices", status.modes || [], null, (m) => w("mode_" + m));
    choices("direction-choices", status.directions || [], (status.directions || ["entry"])[0], (d) => w(d));
    $("reference").value = "";
    $("count").value = "";
    $("reason").value = op === "confirm" ? w("preset_checked") : "";
    const presets = $("presets");
    presets.replaceChildren();
    for (const key of PRESETS[op] || []) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn choice";
      button.textContent = w(key);
      button.addEventListener("click", () => { $("reason").value = w(key); });
      presets.append(button);
    }
    keypadTarget = fields.count ? "count" : "reference";
    dialog.showModal();
    const first = fields.reference ? $("reference") : fields.count ? $("count") : $("reason");
    if (!fields.mode) first.focus();
  }

  function formCommand(confirm) {
    const { op, row } = form;
    const reason = $("reason").value.trim();
    const direction = chosen("direction-choices") || "entry";
    const reference = $("reference").value.trim();
    if (["override", "void", "open", "mode", "occupancy"].includes(op) && !reason) return [null, "reason"];
    switch (op) {
      case "override": return [{ op, decision: row.decision_id, reason, confirm: Boolean(confirm) }, null];
      case "confirm": return [{ op, decision: row.decision_id, reason: reason || w("preset_checked") }, null];
      case "void": return [{ op, redemption: row.redemption, reason }, null];
      case "open": return [{ op, direction, reason }, null];
      case "mode": {
        const mode = chosen("mode-choices");
        return mode ? [{ op, mode, reason }, null] : [null, "mode"];
      }
      case "occupancy": {
        const count = Number.parseInt($("count").value, 10);
        return Number.isInteger(count) && count >= 0 ? [{ op, count, reason }, null] : [null, "count"];
      }
      case "typed": return reference ? [{ op, reference, direction }, null] : [null, "reference"];
      case "lookup": return reference ? [{ op, reference }, null] : [null, "reference"];
      default: return [null, "op"];
    }
  }

  function sendForm(confirm) {
    if (!form) return;
    const [command, missing] = formCommand(confirm);
    if (!command) {
      $("dialog-error").textContent = w(missing);
      return;
    }
    const asked = form;
    $("dialog-send").disabled = true;
    request({ type: "command", command }, (answer) => {
      $("dialog-send").disabled = false;
      if (form !== asked) return; // the session ended meanwhile
      if (answer.needs_confirmation) {
        $("dialog").close();
        $("confirm-text").textContent = answer.error || "";
        $("confirm-dialog").showModal();
        return;
      }
      if (!answer.ok) {
        const error = w("refused", { error: answer.error || "" });
        if ($("dialog").open) $("dialog-error").textContent = error;
        else toast(error);
        return;
      }
      if ($("dialog").open) $("dialog").close();
      if ($("confirm-dialog").open) $("confirm-dialog").close();
      form = null;
      if (answer.lookup) views.showLookup(answer.lookup);
      const decided = answer.decided;
      toast(decided ? w("verdict_" + decided.verdict) + " — " + decided.text : w("done"));
    });
  }

  // --- messages ------------------------------------------------------------------------------

  function onStatus(message) {
    wipe(); // a status starts over, logged out
    status = message;
    words = message.words || {};
    connected = true;
    document.documentElement.lang = message.language;
    applyWords();
    languages();
    $("break-glass").hidden = !message.break_glass;
    lockedUntil = performance.now() + (message.pin_locked_s || 0) * 1000;
    $("login-message").textContent = "";
    render();
  }

  function onSession(message) {
    if (message.open) {
      wipe();
      session = message;
      $("who").textContent = message.by + " · " + w("role_" + message.role);
      $("idle").textContent = w("idle", { s: Math.round(message.idle_s) });
      for (const button of document.querySelectorAll("#view-acts .act")) button.hidden = !allowed(button.dataset.op);
      selectTab("recent");
      $("login-message").textContent = "";
      breakGlass = false;
      $("break-glass").setAttribute("aria-pressed", "false");
    } else {
      wipe();
      $("login-message").textContent = w("ended_" + message.why);
    }
    render();
  }

  function onAnswer(message) {
    const callback = waiting.get(message.id);
    waiting.delete(message.id);
    if (callback) callback(message);
  }

  function onMessage(message) {
    switch (message.type) {
      case "status": onStatus(message); break;
      case "session": onSession(message); break;
      case "rows": if (session) { rows = message.rows; renderRows(); } break;
      case "marks": if (session) { marks = message.marks; renderRows(); } break;
      case "decision":
        if (session) { rows = [message.row, ...rows].slice(0, ROWS_KEPT); renderRows(); }
        break;
      case "pending": if (session) { pending = message.rows; renderPending(); renderRows(); } break;
      case "health": if (session) views.renderHealth(message); break;
      case "lock": lockedUntil = performance.now() + message.locked_s * 1000; render(); break;
      case "badge": if (!session) $("login-message").textContent = w("badge_refused"); break;
      case "called":
        $("called-text").textContent = w("called", { lane: message.lane });
        $("called").hidden = false;
        break;
      case "answer": onAnswer(message); break;
      default: break; // pong, or something newer than this page
    }
  }

  // --- the connection ---------------------------------------------------------------------------

  function send(message) {
    return link !== null && link.send(message);
  }

  function request(message, callback) {
    const id = nextId++;
    waiting.set(id, callback);
    if (!send({ ...message, id })) {
      waiting.delete(id);
      callback({ ok: false, error: w("offline") });
    }
  }

  function down() {
    connected = false;
    wipe(); // the server ends the session with the socket: nothing of it stays here
    for (const callback of waiting.values()) callback({ ok: false, error: w("offline") });
    waiting.clear();
    render();
  }

  // --- the page's own controls ------------------------------------------------------------------

  function login() {
    if (locked()) return;
    const staff = $("staff-id").value.trim();
    const pin = $("pin").value;
    $("pin").value = ""; // never kept, whatever the answer
    if (!pin || (!staff && !breakGlass)) {
      $("login-message").textContent = w(staff || breakGlass ? "pin" : "staff_id");
      return;
    }
    const message = breakGlass ? { type: "login", break_glass: true, pin } : { type: "login", staff, pin };
    $("login-message").textContent = "";
    request(message, (answer) => {
      if (answer.ok) return; // the session message follows
      if (answer.locked_s) lockedUntil = performance.now() + answer.locked_s * 1000;
      $("login-message").textContent = answer.locked_s ? w("locked", { s: answer.locked_s }) : w("wrong");
      render();
    });
  }

  function key(value) {
    const field = $(keypadTarget) || $("pin");
    if (field.disabled) return;
    if (value === "clear") field.value = "";
    else if (value === "back") field.value = field.value.slice(0, -1);
    else if (field.value.length < (field.maxLength > 0 ? field.maxLength : 64)) field.value += value;
  }

  function selectTab(name) {
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      const selected = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(selected));
      $("view-" + tab.dataset.tab).hidden = !selected;
    }
  }

  function wire() {
    $("login-button").addEventListener("click", login);
    $("pin").addEventListener("keydown", (event) => { if (event.key === "Enter") login(); });
    $("break-glass").addEventListener("click", () => {
      breakGlass = !breakGlass;
      $("break-glass").setAttribute("aria-pressed", String(breakGlass));
      $("staff-id").disabled = breakGlass;
      $("login-message").textContent = breakGlass ? w("break_glass_hint") : "";
      keypadTarget = "pin";
    });
    for (const id of ["staff-id", "pin"]) $(id).addEventListener("focus", () => { keypadTarget = id; });
    for (const button of document.querySelectorAll("#keypad .key")) {
      button.addEventListener("click", () => key(button.dataset.key));
    }
    $("logout").addEventListener("click", () => send({ type: "logout" }));
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    }
    for (const button of document.querySelectorAll("#view-acts .act")) {
      button.addEventListener("click", () => openForm(button.dataset.op, null));
    }
    $("dialog-send").addEventListener("click", () => sendForm(false));
    $("dialog-cancel").addEventListener("click", () => { $("dialog").close(); form = null; });
    $("confirm-yes").addEventListener("click", () => sendForm(true));
    $("confirm-cancel").addEventListener("click", () => { $("confirm-dialog").close(); form = null; });
    $("called-dismiss").addEventListener("click", () => { $("called").hidden = true; });
    for (const id of ["reference", "count"]) $(id).addEventListener("focus", () => { keypadTarget = id; });
    // Any touch or key while a session is open keeps it (the server decides when it ends).
    for (const kind of ["pointerdown", "keydown"]) {
      document.addEventListener(kind, () => {
        const now = performance.now();
        if (session && now - touchSent >= TOUCH_MS && send({ type: "touch" })) touchSent = now;
      }, true);
    }
  }

  // --- every tick: the heartbeat, the lock's countdown, the toast ----------------------------------

  function tick() {
    const now = performance.now();
    if (connected && !session) {
      const name = locked() ? "locked" : "login";
      if (screen.dataset.screen !== name || name === "locked") {
        if (screen.dataset.screen === "locked" && name === "login") $("login-message").textContent = "";
        render();
      }
    }
    if (toastUntil && now >= toastUntil) {
      toastUntil = 0;
      $("toast").textContent = "";
    }
  }

  wire();
  render();
  link = window.gateLink({
    screen: "console", params: () => ({ lang: query.get("lang"), lane: query.get("lane") }), onMessage, onDown: down,
  });
  setInterval(tick, TICK_MS);
})();
