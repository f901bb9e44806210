// The staff console as a visit on a lane's (or a kiosk's) own screen: `/console?back=/visitor?lane=l1`
// brings that screen back when the staff session ends (logout, idle, the daemon gone), or after
// a minute at the login with nobody touching it, so visitors never face a staff login.
// `back` must be one of the display's own screens: never another site.
"use strict";

(() => {
  const BACK_IDLE_MS = 60000;
  const back = new URLSearchParams(location.search).get("back");
  if (!back || !/^\/(visitor|kiosk)?(\?[A-Za-z0-9=&._%-]*)?$/.test(back)) return;
  const screen = document.getElementById("screen");
  document.documentElement.dataset.back = back;
  let touched = performance.now();
  let was = screen.dataset.screen;
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => { touched = performance.now(); }, true);
  }
  new MutationObserver(() => {
    const now = screen.dataset.screen;
    if (was === "console" && now !== "console") location.replace(back);
    was = now;
  }).observe(screen, { attributes: true, attributeFilter: ["data-screen"] });
  setInterval(() => {
    if (screen.dataset.screen !== "console" && performance.now() - touched > BACK_IDLE_MS) location.replace(back);
  }, 1000);
})();
