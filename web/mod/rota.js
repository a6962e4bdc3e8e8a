// The rota on the dashboard (server/rota_api.py): who the rota has on now, the gaps in the next
// 24 hours and 7 days with nights marked, the gaps a coordinator is warned of a day ahead, and
// this volunteer's own weekly shifts, kept on their own clock (this browser's time zone).

import { api } from "./api.js";
import { $, announce, el } from "./dom.js";

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
// Hours counted as night (local): the hours crisis lines see most imminent risk, and the
// hardest to fill.
const NIGHT_FROM_H = 22;
const NIGHT_TO_H = 6;

const day = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

let me = null;
let mine = [];

export function myZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function setupRota() {
  const select = $("rota-weekday");
  WEEKDAYS.forEach((name, index) => {
    const option = el("option", "", name);
    option.value = String(index);
    select.append(option);
  });
  $("rota-form").addEventListener("submit", addShift);
  $("rota-mine").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-index]");
    if (button) removeShift(Number(button.dataset.index));
  });
}

export function startRota(name) {
  me = name;
  $("rota-tz").textContent = `(your time zone: ${myZone()})`;
  loadRota();
}

export function stopRota() {
  me = null;
  mine = [];
  for (const id of ["rota-gaps-day", "rota-gaps-week", "rota-mine"]) $(id).replaceChildren();
  $("rota-warning").hidden = true;
}

/** Whether [from, to) overlaps a night, on this reader's clock. */
function isNight(fromMs, toMs) {
  for (let at = fromMs; at < toMs; at += 30 * 60_000) {
    const hour = new Date(at).getHours();
    if (hour >= NIGHT_FROM_H || hour < NIGHT_TO_H) return true;
  }
  return false;
}

function span(gap) {
  const sameDay = new Date(gap.from_ms).toDateString() === new Date(gap.to_ms - 1).toDateString();
  const end = sameDay ? clock.format(new Date(gap.to_ms)) : day.format(new Date(gap.to_ms));
  return `${day.format(new Date(gap.from_ms))} – ${end}`;
}

function gapList(id, gaps, none) {
  const items = gaps.map((gap) => {
    const night = isNight(gap.from_ms, gap.to_ms);
    const li = el("li", night ? "gap gap-night" : "gap", span(gap));
    li.dataset.night = String(night);
    if (night) li.append(el("span", "tag tag-night", "night"));
    return li;
  });
  if (!items.length) items.push(el("li", "small", none));
  $(id).replaceChildren(...items);
}

export async function loadRota() {
  if (me === null) return;
  let data;
  try {
    data = await api.rota();
  } catch {
    return;
  }
  const onNow = Array.isArray(data.on_now) ? data.on_now : [];
  $("rota-now").textContent = onNow.length
    ? `On the rota now: ${onNow.join(", ")}`
    : "Nobody is on the rota right now.";
  gapList("rota-gaps-day", data.gaps_day ?? [], "No gaps: every hour has a volunteer.");
  gapList("rota-gaps-week", data.gaps_week ?? [], "No gaps this week.");
  const warning = Array.isArray(data.warning) ? data.warning : [];
  $("rota-warning").hidden = warning.length === 0;
  $("rota-warning").textContent = warning.length
    ? `Gap within a day: nobody is on the rota ${warning.map(span).join("; ")}. Find a volunteer, or tell the backup list.`
    : "";
  mine = (data.shifts ?? []).filter((shift) => shift.moderator === me);
  const items = mine.map((shift, index) => {
    const start = `${String(Math.floor(shift.start_minute / 60)).padStart(2, "0")}:${String(shift.start_minute % 60).padStart(2, "0")}`;
    const li = el("li", "", `${WEEKDAYS[shift.weekday]}s ${start} for ${shift.minutes / 60} h (${shift.tz})`);
    const remove = el("button", "btn btn-quiet", "Remove");
    remove.type = "button";
    remove.dataset.index = String(index);
    li.append(" ", remove);
    return li;
  });
  if (!items.length) items.push(el("li", "small", "You have no shifts yet."));
  $("rota-mine").replaceChildren(...items);
}

async function save(shifts, said) {
  try {
    await api.setShifts(me, shifts.map(({ weekday, start_minute, minutes, tz }) => ({ weekday, start_minute, minutes, tz })));
    $("rota-status").textContent = said;
    announce(said);
  } catch (failure) {
    $("rota-status").textContent = `Couldn't save your shifts: ${failure.message}`;
  }
  loadRota();
}

async function addShift(event) {
  event.preventDefault();
  const [hours, minutes] = ($("rota-start").value || "").split(":").map(Number);
  if (!Number.isInteger(hours) || !Number.isInteger(minutes)) {
    $("rota-status").textContent = "Choose when the shift starts.";
    return;
  }
  const shift = {
    weekday: Number($("rota-weekday").value),
    start_minute: hours * 60 + minutes,
    minutes: Number($("rota-length").value),
    tz: myZone(),
  };
  await save([...mine, shift], "Shift added. Thank you.");
}

async function removeShift(index) {
  await save(mine.filter((_, at) => at !== index), "Shift removed.");
}
