// A private urge timer: fifteen minutes to ride out a craving, with a few coping steps. Only
// this page knows about it. The end time is kept for this tab (sessionStorage), so a reload
// keeps the count; quick exit and "Forget me" clear it with everything else.

const KEY = "harbor.urge";
export const URGE_MS = 15 * 60 * 1000;

export const STEPS = [
  "Breathe slowly: in for 4, hold for 4, out for 6. Five times.",
  "Drink a glass of water, or eat something small.",
  "Move: stand up, stretch, or step outside for a few minutes.",
  "Text or call someone who supports your recovery.",
  "Say here what's going on, if you want to. People here can answer.",
];

/** The end of a running timer (ms since the epoch), or null. */
export function loadUrge(now) {
  try {
    const end = Number(window.sessionStorage.getItem(KEY));
    return Number.isFinite(end) && end > 0 && end - now <= URGE_MS ? end : null;
  } catch {
    return null;
  }
}

export function saveUrge(end) {
  try {
    if (end === null) window.sessionStorage.removeItem(KEY);
    else window.sessionStorage.setItem(KEY, String(end));
  } catch {
    // storage blocked: the timer lasts as long as the page
  }
}

/** "14:05": minutes and seconds left, never below zero. */
export function clockText(leftMs) {
  const seconds = Math.max(0, Math.ceil(leftMs / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
