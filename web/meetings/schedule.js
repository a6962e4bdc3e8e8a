// The schedule page: upcoming meetings from /api/meetings, grouped by day and shown in the
// viewer's own time zone (the server sends instants, never local times), each with its room and
// a calendar file.
import { setupQuickExit } from "../shared/quickexit.js";

setupQuickExit();

const $ = (id) => document.getElementById(id);
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const REPEATS = { daily: "Every day", weekly: "Every week", once: "Once" };

function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

function link(href, text) {
  const a = el("a", "", text);
  a.href = href;
  return a;
}

function item(meeting, now) {
  const li = el("li", "meeting-item");
  li.dataset.meeting = meeting.id;
  li.append(el("h3", "", meeting.title));
  const start = new Date(meeting.start_ms);
  const end = new Date(meeting.end_ms);
  const when = el("p", "meeting-when");
  const time = el("time", "", `${timeFormat.format(start)} – ${timeFormat.format(end)}`);
  time.dateTime = start.toISOString();
  when.append(time);
  if (meeting.start_ms <= now && now < meeting.end_ms) when.append(" · happening now");
  li.append(when);
  li.append(el("p", "small", `${REPEATS[meeting.repeat] ?? ""} in ${meeting.room_title}. ${meeting.format.join(" · ")}`));
  const links = el("p", "meeting-links");
  links.append(
    link(`/r/${encodeURIComponent(meeting.room)}`, `Go to ${meeting.room_title}`),
    link(`/api/meetings/${encodeURIComponent(meeting.id)}.ics`, "Add to my calendar (.ics)"),
  );
  li.append(links);
  return li;
}

async function load() {
  let data;
  try {
    const response = await fetch("/api/meetings", { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(String(response.status));
    data = await response.json();
  } catch {
    $("schedule-error").hidden = false;
    return;
  }
  const meetings = Array.isArray(data?.meetings) ? data.meetings : [];
  const now = Date.now();
  const days = new Map();
  for (const meeting of meetings) {
    const day = dayFormat.format(new Date(meeting.start_ms));
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(meeting);
  }
  const parts = [];
  for (const [day, list] of days) {
    parts.push(el("h2", "day", day));
    const ul = el("ul", "meeting-list");
    ul.append(...list.map((m) => item(m, now)));
    parts.push(ul);
  }
  $("schedule").replaceChildren(...parts);
  $("schedule-empty").hidden = meetings.length > 0;
  $("zone").textContent = `Times are shown in your time zone (${zone}).`;
}

load();
