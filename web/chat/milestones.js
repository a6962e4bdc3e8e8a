// Milestones, opt in: a start date kept on this device only, a day count only this person sees,
// and, if they choose, a badge beside their pseudonym (server/milestones.py, the `profile`
// frame). Self-declared: the server never sees the date and never checks the badge, and nothing
// here judges a count or a new start. "Start again" keeps every earlier day in a private total.
// Quick exit and "Forget me" clear it with everything else Harbor keeps in the browser.

const KEY = "harbor.milestones";
const DAY_MS = 24 * 60 * 60 * 1000;
// The same bound as the server's (server/milestones.py MAX_YEARS): sixty years is the last badge.
const MAX_YEARS = 60;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

// What each badge says beside a pseudonym; a badge not listed here is never shown.
export const BADGE_WORDS = {
  "24h": "24 hours",
  "1w": "1 week",
  "30d": "30 days",
  "60d": "60 days",
  "90d": "90 days",
  "6m": "6 months",
  "1y": "1 year",
};
for (let years = 2; years <= MAX_YEARS; years += 1) BADGE_WORDS[`${years}y`] = `${years} years`;

function area() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** A "YYYY-MM-DD" string as a local calendar date, or null when it is not a real date. */
export function parseDate(text) {
  const match = DATE.exec(String(text ?? ""));
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number);
  const date = new Date(year, month - 1, day);
  const real = date.getFullYear() === year && date.getMonth() === month - 1 &&
    date.getDate() === day;
  return real ? date : null;
}

/** "YYYY-MM-DD" for a local date. */
export function dateText(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function localDay(now) {
  const today = new Date(now);
  return new Date(today.getFullYear(), today.getMonth(), today.getDate());
}

/** Whole days from `start` (a local date) to today; negative for a date still to come. */
export function daysSince(start, now) {
  // Rounded: a daylight-saving change makes one local day 23 or 25 hours long.
  return Math.round((localDay(now) - start) / DAY_MS);
}

/** Whole calendar months from `start` to today (a month counts once its date comes round). */
function monthsSince(start, now) {
  const today = localDay(now);
  let months = (today.getFullYear() - start.getFullYear()) * 12 +
    today.getMonth() - start.getMonth();
  if (today.getDate() < start.getDate()) months -= 1;
  return months;
}

/** The milestone reached by `now` from `start`, as the badge word the server accepts, or null
 * before the first day is through: 24 hours, a week, 30, 60, 90 days, 6 months, then years. */
export function badgeFor(start, now) {
  const days = daysSince(start, now);
  const months = monthsSince(start, now);
  if (months >= 12) return `${Math.min(MAX_YEARS, Math.floor(months / 12))}y`;
  if (months >= 6) return "6m";
  for (const [threshold, badge] of [[90, "90d"], [60, "60d"], [30, "30d"], [7, "1w"], [1, "24h"]]) {
    if (days >= threshold) return badge;
  }
  return null;
}

/** {start: "YYYY-MM-DD"|null, show: boolean, earlier: days counted before the latest start}. */
export function loadMilestones() {
  let saved = null;
  try {
    saved = JSON.parse(area()?.getItem(KEY) ?? "null");
  } catch {
    saved = null;
  }
  const start = parseDate(saved?.start) ? saved.start : null;
  const earlier = Number.isInteger(saved?.earlier) && saved.earlier > 0 ? saved.earlier : 0;
  return { start, show: saved?.show === true && start !== null, earlier };
}

function save(milestones) {
  try {
    area()?.setItem(KEY, JSON.stringify(milestones));
  } catch {
    // storage full or blocked: the choice lasts as long as the page
  }
}

/** A new start date (or null to stop counting); a date in the future is refused (null). */
export function setStart(milestones, text, now) {
  if (text === null || text === "") {
    const next = { ...milestones, start: null, show: false };
    save(next);
    return next;
  }
  const start = parseDate(text);
  if (!start || daysSince(start, now) < 0) return null;
  const next = { ...milestones, start: text };
  save(next);
  return next;
}

export function setShow(milestones, show) {
  const next = { ...milestones, show: show === true && milestones.start !== null };
  save(next);
  return next;
}

/** Start a new count from today: the days of the count that ends join the private total. */
export function startAgain(milestones, now) {
  const start = parseDate(milestones.start);
  const counted = start ? Math.max(0, daysSince(start, now)) : 0;
  const next = { ...milestones, start: dateText(localDay(now)), earlier: milestones.earlier + counted };
  save(next);
  return next;
}

/** The badge this person chose to show now, or null (none chosen, or no milestone yet). */
export function shownBadge(milestones, now) {
  if (!milestones.show) return null;
  const start = parseDate(milestones.start);
  return start ? badgeFor(start, now) : null;
}

/** The private count, in words: only this person ever sees it. */
export function countText(milestones, now) {
  const start = parseDate(milestones.start);
  if (!start) return "No start date set.";
  const days = daysSince(start, now);
  const count = days === 1 ? "1 day" : `${days} days`;
  const total = milestones.earlier + days;
  const since = `${count} since your start date`;
  return milestones.earlier > 0 ? `${since}; ${total} days in all, counting earlier ones.` : `${since}.`;
}
