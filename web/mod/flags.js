// What the dashboard knows about flags: order, words for the categories, and which ones hold
// words a volunteer may not want to read unprepared. Pure functions, no DOM.

// Most urgent first; the same order as moderation/flags.py SEVERITY_ORDER.
export const SEVERITIES = ["imminent", "high", "concern", "watch"];

// moderation/verdict.py CRISIS_CATEGORIES: a person's life or safety may be at risk. Their
// messages stay collapsed until a volunteer chooses to read them.
export const CRISIS = new Set(["suicide", "self_harm", "overdose", "relapse", "abuse"]);

export const CATEGORY_WORDS = {
  suicide: "suicide",
  self_harm: "self-harm",
  overdose: "overdose",
  relapse: "relapse",
  abuse: "abuse",
  harassment: "harassment",
  pii: "personal details",
  solicitation: "dealing",
  spam: "spam",
  appeal: "an appeal of a sanction",
};

// Room titles by id, from /api/rooms (the same list the chat page shows); a check-in room's id is
// derived from the person's identity and is never shown.
const roomTitles_ = new Map();

export function setRoomTitles(rooms) {
  for (const room of Array.isArray(rooms) ? rooms : []) {
    if (typeof room?.id === "string" && typeof room.title === "string") roomTitles_.set(room.id, room.title);
  }
}

/** Every room's [id, title], in the list's order. */
export function roomTitles() {
  return roomTitles_.entries();
}

export function roomTitle(id) {
  const room = String(id ?? "");
  if (room.startsWith("checkin-")) return "a private check-in";
  return roomTitles_.get(room) ?? room;
}

/** "a" or "an", for "an imminent flag". */
export function article(word) {
  return /^[aeiou]/i.test(String(word ?? "")) ? "an" : "a";
}

export const OUTCOMES = [
  "supported", "referred", "false_alarm", "user_left", "escalated", "duplicate",
  "upheld", "lifted", "shortened", // appeals decided
];

// server/audit_words.py OUTCOME_WORDS.
const OUTCOME_WORDS = {
  supported: "supported",
  referred: "referred to a crisis line",
  false_alarm: "false alarm",
  user_left: "person left",
  escalated: "escalated",
  duplicate: "duplicate",
  upheld: "upheld: the pause stays",
  lifted: "lifted: the pause ended",
  shortened: "shortened",
};

export function outcomeWords(outcome) {
  return OUTCOME_WORDS[outcome] ?? String(outcome ?? "").replace("_", " ");
}

export function categoryWords(categories) {
  const list = Array.isArray(categories) ? categories : [];
  return list.map((c) => CATEGORY_WORDS[c] ?? String(c)).join(", ") || "uncategorised";
}

export function isCrisis(flag) {
  return Array.isArray(flag.categories) && flag.categories.some((c) => CRISIS.has(c));
}

function rank(severity) {
  const index = SEVERITIES.indexOf(severity);
  return index < 0 ? SEVERITIES.length : index;
}

/** Queue order: severity (imminent first), then the longest waiting first. */
export function compareFlags(a, b) {
  return rank(a.severity) - rank(b.severity) || (a.created_ms ?? 0) - (b.created_ms ?? 0) ||
    String(a.id).localeCompare(String(b.id));
}

/** Split `text` into plain and matched pieces from the classifier's spans.
 *
 * Span offsets count Unicode code points (they come from Python string indices), while JS
 * strings index UTF-16 units: an emoji before a match would shift every highlight. So the text
 * is cut as an array of code points. Overlapping or out-of-range spans are merged or clipped.
 * @returns {{text: string, match: boolean}[]}
 */
export function highlightPieces(text, spans) {
  const points = Array.from(String(text ?? ""));
  const ranges = (Array.isArray(spans) ? spans : [])
    .map((s) => [Number(s?.start), Number(s?.end)])
    .filter(([s, e]) => Number.isInteger(s) && Number.isInteger(e) && e > s)
    .map(([s, e]) => [Math.max(0, s), Math.min(points.length, e)])
    .filter(([s, e]) => e > s)
    .sort((x, y) => x[0] - y[0]);
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([...range]);
  }
  const pieces = [];
  let at = 0;
  for (const [start, end] of merged) {
    if (start > at) pieces.push({ text: points.slice(at, start).join(""), match: false });
    pieces.push({ text: points.slice(start, end).join(""), match: true });
    at = end;
  }
  if (at < points.length) pieces.push({ text: points.slice(at).join(""), match: false });
  return pieces;
}
