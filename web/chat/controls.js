// Each person's own controls, kept on this device only (localStorage): the people they muted
// and whether messages about suicide, self-harm or using are folded behind a "show" tap.
// Quick exit and "Forget me" clear them with everything else Harbor keeps in the browser.
//
// A mute is by the writer's tag (`author`), never by name: two people can share a pseudonym,
// and muting one must not hide the other. The name is kept only to list whom you muted.

const KEY = "harbor.controls";
// A bound on what one device keeps: past it the oldest mute is forgotten first.
export const MAX_MUTES = 200;
// What each sensitive subject (docs/protocol.md, message `sensitive`) is called on a fold.
export const SUBJECTS = {
  suicide: "suicide",
  self_harm: "self-harm",
  using: "using",
};

function area() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** {mutes: [{author, name}], fold: boolean}, read fresh from the device. */
export function loadControls() {
  let saved = null;
  try {
    saved = JSON.parse(area()?.getItem(KEY) ?? "null");
  } catch {
    saved = null;
  }
  const mutes = Array.isArray(saved?.mutes)
    ? saved.mutes.filter((m) => typeof m?.author === "string" && typeof m?.name === "string")
    : [];
  return { mutes: mutes.slice(-MAX_MUTES), fold: saved?.fold === true };
}

function save(controls) {
  try {
    area()?.setItem(KEY, JSON.stringify(controls));
  } catch {
    // storage full or blocked: the choice lasts as long as the page
  }
}

export function isMuted(controls, author) {
  return typeof author === "string" && controls.mutes.some((m) => m.author === author);
}

export function mute(controls, author, name) {
  if (isMuted(controls, author)) return controls;
  const mutes = [...controls.mutes, { author, name }].slice(-MAX_MUTES);
  const next = { ...controls, mutes };
  save(next);
  return next;
}

export function unmute(controls, author) {
  const next = { ...controls, mutes: controls.mutes.filter((m) => m.author !== author) };
  save(next);
  return next;
}

export function setFold(controls, fold) {
  const next = { ...controls, fold: fold === true };
  save(next);
  return next;
}

/** Whether a message is folded for this reader: a subject it names, and folding chosen. */
export function folds(controls, message) {
  return controls.fold && Object.hasOwn(SUBJECTS, String(message.sensitive));
}

// Reasons a reader can pick when reporting; the words go to the moderators as the reason.
export const REPORT_REASONS = [
  "Someone may be in danger",
  "Harassment or hate",
  "Selling or sourcing drugs",
  "Sharing personal details",
  "Spam or a scam",
  "Something else",
];
