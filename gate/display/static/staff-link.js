// The staff console on this same screen (a lane's or a kiosk's): the "Staff" button, or a staff
// badge read at the device's reader (the page's script calls gateStaff). The console comes back
// here when the staff session ends (static/back.js).
"use strict";

window.gateStaff = () => {
  const url = new URL("/console", location.href);
  const lane = new URLSearchParams(location.search).get("lane");
  if (lane) url.searchParams.set("lane", lane);
  url.searchParams.set("back", location.pathname + location.search);
  location.assign(url);
};

document.getElementById("staff").addEventListener("click", () => window.gateStaff());
// Framed (the demo page frames the visitor screen), the console has its own link beside it.
if (window.top !== window) document.getElementById("staff").hidden = true;
