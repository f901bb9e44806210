// The staff console's views, built from the daemon's messages: a read or decision's row (with the
// acts the role may do on it), the device's health, a code looked up. Only DOM building here, with
// textContent (never markup from a message); console.js holds the connection and the session.
"use strict";

window.GateConsoleViews = ({ $, w, allowed, overridable, isPending, onAct, markOf }) => {
  function actButton(op, row) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn small" + (op === "override" || op === "void" ? " danger" : " primary");
    button.dataset.act = op;
    button.textContent = w(op);
    button.addEventListener("click", () => onAct(op, row));
    return button;
  }

  function rowItem(row) {
    const item = document.createElement("li");
    item.className = "row";
    item.dataset.verdict = row.verdict;
    item.dataset.reason = row.reason || "";
    if (row.decision_id) item.dataset.decision = row.decision_id;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = row.time || "";
    const verdict = document.createElement("span");
    verdict.className = "verdict " + row.verdict;
    verdict.textContent = w("verdict_" + row.verdict);
    const body = document.createElement("span");
    body.className = "what";
    const holder = document.createElement("strong");
    holder.textContent = row.holder || "";
    const text = document.createElement("span");
    text.textContent = row.text || row.decision_id || "";
    body.append(holder, text);
    const mark = row.decision_id ? markOf(row.decision_id) : undefined;
    if (mark) {  // with a sync process: where the decision stands with the hub
      const tag = document.createElement("span");
      tag.className = "mark " + mark;
      tag.dataset.sync = mark;
      tag.textContent = w("mark_" + mark);
      body.append(tag);
    }
    const actions = document.createElement("span");
    actions.className = "actions";
    if (overridable(row) && allowed("override")) actions.append(actButton("override", row));
    if (row.verdict === "attention" && allowed("confirm") && isPending(row.decision_id)) {
      actions.append(actButton("confirm", row));
    }
    if (row.verdict === "admit" && row.redemption && allowed("void")) actions.append(actButton("void", row));
    item.append(time, verdict, body, actions);
    return item;
  }

  function healthLine(list, label, value, ok) {
    const term = document.createElement("dt");
    term.textContent = label;
    const detail = document.createElement("dd");
    detail.textContent = value;
    if (ok === false) detail.className = "bad";
    list.append(term, detail);
  }

  function renderHealth(health) {
    const list = $("health-list");
    list.replaceChildren();
    list.dataset.mode = health.mode || "";
    list.dataset.cause = health.cause || "";
    let mode = w("mode_" + health.mode);
    if (health.cause) mode += " — " + w("cause") + ": " + w("cause_" + health.cause);
    if (health.mode_reason) mode += " (" + health.mode_reason + ")";
    healthLine(list, w("mode"), mode, health.mode === "normal");
    healthLine(list, w("storage"), health.storage_fault || w("storage_ok"), !health.storage_fault);
    if (health.clock) {
      const trusted = Boolean(health.clock.trusted);
      healthLine(list, w("clock"), trusted ? w("clock_ok") : w("clock_bad", { error: health.clock.reason || "" }),
        trusted);
    }
    if (health.sync) {
      const up = health.sync.link === "up";
      const since = new Date(health.sync.since);
      const when = Number.isNaN(since.getTime()) ? health.sync.since : since.toLocaleTimeString();
      healthLine(list, w("sync"), w(up ? "sync_up" : "sync_down", { since: when, n: String(health.sync.outbox) }), up);
      const behind = health.sync.head > health.sync.batch;
      const ledger = w("sync_ledger", { batch: String(health.sync.batch), head: String(health.sync.head) });
      healthLine(list, w("sync"), health.sync.problem ? ledger + " — " + health.sync.problem : ledger,
        !health.sync.problem && !behind);
      syncLines(list, health.sync);
    }
    for (const reader of health.readers || []) {
      let state = w("reader_ok");
      if (!reader.running) state = w("reader_restarting");
      else if (reader.connected === false) state = w("reader_waiting");
      if (reader.error && (!reader.running || reader.connected === false)) state += " (" + reader.error + ")";
      healthLine(list, w("readers") + " · " + reader.id, state, reader.running && reader.connected !== false);
    }
    healthLine(list, w("alarms"), String(health.alarms || 0), !health.alarms);
    for (const check of health.checks || []) {
      healthLine(list, w("checks") + " · " + check.name, check.detail || "", check.ok);
    }
  }

  const LATE_S = 300;  // the hub silent, or the ledger behind, this long: a warning

  function minutes(seconds) {
    return String(Math.max(0, Math.floor(seconds / 60)));
  }

  function sideText(side) {
    const at = new Date(side.at * 1000);
    const notes = [];
    if (side.offline) notes.push(w("conflict_offline"));
    if (side.untrusted) notes.push(w("conflict_untrusted"));
    return [side.device, side.lane, Number.isNaN(at.getTime()) ? "" : at.toLocaleTimeString()]
      .filter(Boolean).join(" · ") + (notes.length ? " (" + notes.join(", ") + ")" : "");
  }

  function syncLines(list, sync) {
    const now = Date.now() / 1000;
    if (sync.head_at) {
      const age = now - sync.head_at;
      healthLine(list, w("sync"), w("hub_age", { min: minutes(age) }), age < LATE_S);
    } else {
      healthLine(list, w("sync"), w("hub_never"), false);
    }
    if (sync.behind_since && now - sync.behind_since >= LATE_S) {
      const lag = String(Math.max(0, sync.head - sync.batch));
      healthLine(list, w("sync"), w("behind", { n: lag, min: minutes(now - sync.behind_since) }), false);
    }
    for (const c of sync.conflicts || []) {
      const line = w("conflict_line", { kind: c.kind, id: c.entitlement_id, first: sideText(c.first),
        second: sideText(c.second) });
      healthLine(list, w("conflict"), line, false);
    }
  }

  function showLookup(found) {
    const box = $("lookup-result");
    box.replaceChildren();
    box.dataset.verdict = found.verdict;
    const title = document.createElement("h2");
    title.textContent = (found.reference || "") + " — " + w("verdict_" + found.verdict);
    const text = document.createElement("p");
    text.textContent = [found.holder, found.text].filter(Boolean).join(" · ");
    box.append(title, text);
    if (found.entitlement) {
      const ent = document.createElement("p");
      ent.textContent = w("entitlement") + ": " + [found.entitlement.id, found.entitlement.kind, found.entitlement.state]
        .filter(Boolean).join(" · ") + (found.balance !== null && found.balance !== undefined
        ? " · " + w("left", { n: found.balance }) : "");
      box.append(ent);
    }
    if (found.uses && found.uses.length) {
      const heading = document.createElement("p");
      heading.textContent = w("uses");
      const list = document.createElement("ul");
      for (const use of found.uses) {
        const item = document.createElement("li");
        item.textContent = [use.time, use.lane, w(use.direction), "×" + use.persons].join(" · ");
        list.append(item);
      }
      box.append(heading, list);
    }
    box.hidden = false;
  }

  return { rowItem, renderHealth, showLookup };
};
