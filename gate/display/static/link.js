// Every screen's one link to the daemon: `/ws?screen=...`, a ping every second, and "down" after
// 5 s without a message (or at once when the socket closes), then a new connection after 1, 2,
// 4, then every 8 s. No stale screen, ever: a page's `onDown` clears what the daemon said (a
// result, a session) the moment the link is down, and shows "out of order".
//
//   const link = gateLink({ screen: "visitor", params: () => ({ lang, lane }), onMessage, onDown });
//   link.send({ type: "painted", ... });  // false when the link is down
"use strict";

window.gateLink = ({ screen, params, onMessage, onDown }) => {
  const PING_MS = 1000;
  const DEAD_MS = 5000;
  const BACKOFF_MS = [1000, 2000, 4000, 8000];
  let socket = null;
  let heard = 0; // performance.now() of the last message (or of the connect attempt)
  let pinged = 0;
  let attempts = 0;
  let retry = 0;

  function connect() {
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("screen", screen);
    for (const [key, value] of Object.entries(params ? params() : {})) {
      if (value) url.searchParams.set(key, value);
    }
    heard = performance.now();
    socket = new WebSocket(url);
    socket.onmessage = (event) => {
      const at = performance.now();
      heard = at;
      attempts = 0; // the daemon answers: the next loss starts the backoff over
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      onMessage(message, at);
    };
    socket.onclose = drop;
  }

  function drop() {
    const old = socket;
    socket = null;
    if (old) {
      old.onmessage = old.onclose = null;
      try { old.close(); } catch (error) { /* already closed */ }
    }
    onDown();
    clearTimeout(retry);
    retry = setTimeout(connect, BACKOFF_MS[Math.min(attempts, BACKOFF_MS.length - 1)]);
    attempts += 1;
  }

  function send(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  setInterval(() => {
    const now = performance.now();
    if (socket && socket.readyState === WebSocket.OPEN && now - pinged >= PING_MS) {
      pinged = now;
      send({ type: "ping" });
    }
    if (socket && now - heard > DEAD_MS) drop();
  }, 100);
  connect();
  return { send };
};
