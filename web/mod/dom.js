// Small DOM helpers shared by the dashboard's modules. User text (messages, names, notes) only
// ever goes in through textContent or text nodes, never innerHTML: markup a person typed shows
// as the characters they typed, and the page's strict CSP stays the second line of defence.

export const $ = (id) => document.getElementById(id);

export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function timeElement(ms) {
  const time = el("time");
  if (Number.isFinite(ms) && ms > 0) {
    const date = new Date(ms);
    time.dateTime = date.toISOString();
    time.textContent = clock.format(date);
    time.title = full.format(date);
  }
  return time;
}

export function fullTime(ms) {
  return Number.isFinite(ms) && ms > 0 ? full.format(new Date(ms)) : "";
}

/** "under a minute", "4 min", "2 h 5 min": how long someone has been waiting. */
export function age(ms, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - ms) / 60_000);
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** Append a short line to the polite live region (kept to the last few). */
export function announce(text) {
  const region = $("announcer");
  region.append(el("p", "", text));
  while (region.childElementCount > 3) region.firstElementChild.remove();
}

/** A length of time in seconds, in words: "42 s", "1 min 5 s", "2 h 5 min". */
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return total % 60 ? `${minutes} min ${total % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}
