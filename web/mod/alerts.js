// Alerts for what must not wait: an imminent flag, or any flag overdue for a claim; and a
// quieter one for a high flag (one soft tone, a silent notification, the same banner).
//
// Three channels, because a volunteer may be looking at another tab or away from the screen:
// a visible banner on the page (role=alert, spoken by screen readers), a short beep made with
// Web Audio (no sound file to fetch), and a desktop notification when the volunteer allowed it.
// Browsers only let a page make sound after a user gesture and only ask for notification
// permission from one, so both are switched on by the "Turn on alerts" click, never on load.

import { $ } from "./dom.js";

let audio = null; // AudioContext, created on the volunteer's click
let enabled = false;
let onOpen = () => {};
let pendingId = null;
let count = 0;

export function setupAlerts(open) {
  onOpen = open;
  const toggle = $("alerts-toggle");
  toggle.addEventListener("click", () => (enabled ? disable() : enable()));
  $("alert-dismiss").addEventListener("click", dismiss);
  $("alert-open").addEventListener("click", () => {
    const id = pendingId;
    dismiss();
    if (id) onOpen(id);
  });
  render();
}

function enable() {
  enabled = true;
  try {
    const Context = window.AudioContext ?? window.webkitAudioContext;
    if (!audio && Context) audio = new Context();
    audio?.resume?.();
  } catch {
    audio = null; // no sound on this device; the banner and notification remain
  }
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
  render();
}

function disable() {
  enabled = false;
  render();
}

function render() {
  const toggle = $("alerts-toggle");
  toggle.setAttribute("aria-pressed", String(enabled));
  toggle.textContent = enabled ? "Alerts on" : "Turn on alerts";
}

const TONES = {
  loud: { peak: 0.25, tones: [[0, 880], [0.22, 660]] }, // two tones: someone may be in danger
  quiet: { peak: 0.08, tones: [[0, 660]] }, // one soft tone: someone needs a volunteer soon
};

/** Soft tones; short enough not to startle, distinct enough to hear across a room. */
function beep(level) {
  if (!enabled || !audio || audio.state === "closed") return;
  const start = audio.currentTime + 0.01;
  const { peak, tones } = TONES[level];
  for (const [offset, frequency] of tones) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(peak, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.2);
  }
}

function notify(text, flagId, level) {
  if (!enabled || !("Notification" in window) || Notification.permission !== "granted") return;
  try {
    // The notification says *that* something needs a volunteer, never what someone wrote: it
    // may show on a lock screen.
    const note = new Notification("Harbor: a flag needs a volunteer", {
      body: text,
      tag: flagId,
      silent: level === "quiet",
    });
    note.addEventListener("click", () => {
      window.focus();
      onOpen(flagId);
      note.close();
    });
  } catch {
    // some platforms only allow notifications from a service worker; the banner remains
  }
}

/** Raise the alarm for `flag`; `text` is a short description without message text. A high
 * flag's alert is quieter than an imminent or overdue one (`level` "quiet" or "loud"), and
 * never replaces a louder banner still showing. */
export function alertFor(flag, text, level = "loud") {
  const banner = $("alert");
  if (level === "quiet" && !banner.hidden && banner.dataset.level === "loud") {
    beep(level);
    return;
  }
  count += 1;
  pendingId = flag.id;
  $("alert-text").textContent = text;
  banner.dataset.count = String(count);
  banner.dataset.severity = flag.severity;
  banner.dataset.level = level;
  banner.hidden = false;
  beep(level);
  notify(text, flag.id, level);
}

export function dismiss() {
  $("alert").hidden = true;
  pendingId = null;
}
