// The screens' sounds, made in the page (WebAudio): nothing to download, nothing to ship.
//
// Each has the rhythm of the lane's buzzer (gate/turnstile/patterns.py), so a visitor who
// cannot see the screen tells green from red by ear. Chromium on a device starts with the
// autoplay policy that lets them play untouched (docs/install.md); where a browser still
// holds the audio back, the sound is skipped, never queued for later.
// Each played sound is counted on <html data-sounds> and named in data-sound (tests, and
// anyone checking a screen from the console of its browser).
"use strict";

window.gateSound = (() => {
  const PATTERNS = {
    admit: { hz: 880, beeps: [[0.15, 0]] },
    deny: { hz: 330, beeps: [[0.4, 0.2], [0.4, 0]] },
    attention: { hz: 660, beeps: [[0.1, 0.1], [0.1, 0.1], [0.1, 0]] },
    warning: { hz: 520, beeps: [[0.25, 0.25], [0.25, 0]] },
  };
  let context = null;

  function audio() {
    if (context === null) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      context = new Context();
    }
    if (context.state === "suspended") context.resume().catch(() => {});
    return context;
  }

  return function play(name) {
    const pattern = PATTERNS[name];
    if (!pattern) return;
    const root = document.documentElement;
    root.dataset.sound = name;
    root.dataset.sounds = String(Number(root.dataset.sounds || 0) + 1);
    const ctx = audio();
    root.dataset.audio = ctx === null ? "none" : ctx.state;
    if (ctx === null || ctx.state !== "running") return;
    let at = ctx.currentTime + 0.01;
    for (const [on, off] of pattern.beeps) {
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.frequency.value = pattern.hz;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.4, at + 0.01);
      gain.gain.setValueAtTime(0.4, at + on - 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + on);
      tone.connect(gain).connect(ctx.destination);
      tone.start(at);
      tone.stop(at + on + 0.01);
      at += on + off;
    }
  };
})();
