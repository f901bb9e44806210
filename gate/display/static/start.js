// The start page: poll the daemon's page (`?to=`, default http://127.0.0.1:8080/) every
// second and move there once it answers; after 5 s without an answer say "Out of order",
// and keep polling.
"use strict";

(() => {
  const POLL_MS = 1000;
  const PATIENCE_MS = 5000;
  const ANSWER_MS = 2000; // a request that hangs longer counts as no answer
  const DEFAULT = "http://127.0.0.1:8080/";
  const TEXTS = {
    en: { starting: "Starting…", out: "Out of order — please use another lane" },
    fr: { starting: "Démarrage…", out: "Hors service — veuillez utiliser un autre couloir" },
    de: { starting: "Wird gestartet…", out: "Außer Betrieb — bitte benutzen Sie einen anderen Durchgang" },
  };

  const query = new URLSearchParams(location.search);
  const language = Object.hasOwn(TEXTS, query.get("lang")) ? query.get("lang") : "en";
  const texts = TEXTS[language];
  const target = pick(query.get("to"));
  const began = performance.now();
  const text = document.getElementById("notice-text");

  function pick(to) {
    try {
      const url = new URL(to || DEFAULT);
      if (url.protocol === "http:" || url.protocol === "https:") {
        if (!url.searchParams.has("lang") && query.get("lang")) url.searchParams.set("lang", language);
        return url.href;
      }
    } catch (error) { /* not a URL: the default */ }
    return DEFAULT;
  }

  async function poll() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ANSWER_MS);
    try {
      // no-cors: any answer at all means the daemon serves (the page itself is same-origin there).
      await fetch(target, { mode: "no-cors", cache: "no-store", signal: abort.signal });
      location.replace(target);
      return;
    } catch (error) {
      // not answering yet
    } finally {
      clearTimeout(timer);
    }
    if (performance.now() - began >= PATIENCE_MS) {
      document.getElementById("screen").dataset.screen = "offline";
      text.textContent = texts.out;
    }
    setTimeout(poll, POLL_MS);
  }

  document.documentElement.lang = language;
  text.textContent = texts.starting;
  poll();
})();
