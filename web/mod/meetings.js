// Meetings on the dashboard (server/meeting_admin_api.py): the meetings on now, or opening soon,
// each with whether it has a chair and a link that opens its room as a volunteer (to take the
// chair or join); and, for coordinators and admins, a form to add a meeting while Harbor runs
// and the list of added ones to remove. The server checks the role on every request.

import { request } from "./api.js";
import { $, announce, el } from "./dom.js";
import { allows } from "./roles.js";

const REPEATS = { once: "once", daily: "every day", weekly: "every week" };
const hours = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

let started = false;

function say(text) {
  $("meetings-status").textContent = text;
  announce(text);
}

export function setupMeetings() {
  $("meeting-add-form").addEventListener("submit", addMeeting);
  $("meeting-added").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-meeting]");
    if (button) removeMeeting(button.dataset.meeting, button.dataset.title);
  });
  $("meeting-add-zone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function startMeetings() {
  started = true;
  loadMeetings();
}

export function stopMeetings() {
  started = false;
  for (const id of ["meetings-now", "meeting-added"]) $(id).replaceChildren();
  $("meetings-status").textContent = "";
}

function onNowItem(meeting) {
  const li = el("li", "meeting-now");
  li.dataset.meeting = meeting.id;
  const when = `${hours.format(new Date(meeting.start_ms))}–${hours.format(new Date(meeting.end_ms))}`;
  li.append(el("strong", "", meeting.title), ` in ${meeting.room_title}, ${when}. `);
  const chair = meeting.ended
    ? "Ended."
    : meeting.chair
      ? `Chair: ${meeting.chair}.`
      : meeting.started ? "Needs a chair." : "Opening soon; no chair yet.";
  li.append(el("span", meeting.chair || meeting.ended ? "small" : "tag tag-needs-chair", chair), " ");
  if (!meeting.ended) {
    const link = el("a", "btn", meeting.chair ? "Join as a volunteer" : "Chair this meeting");
    link.href = meeting.link;
    link.target = "_blank";
    link.rel = "noopener";
    link.setAttribute("aria-label", `${link.textContent}: ${meeting.title} (opens the room in a new tab)`);
    li.append(link);
  }
  return li;
}

function addedItem(meeting, rooms) {
  const repeat = REPEATS[meeting.repeat] ?? meeting.repeat;
  const where = rooms.get(meeting.room) ?? meeting.room;
  const li = el("li", "", `${meeting.title}: ${where}, ${meeting.start.replace("T", " ")} (${meeting.timezone}), ${repeat}, ${meeting.length_min} min `);
  const remove = el("button", "btn btn-quiet", "Remove");
  remove.type = "button";
  remove.dataset.meeting = meeting.id;
  remove.dataset.title = meeting.title;
  remove.setAttribute("aria-label", `Remove ${meeting.title}`);
  li.append(remove);
  return li;
}

export async function loadMeetings() {
  if (!started) return;
  let data;
  try {
    data = await request("GET", "/mod/api/meetings");
  } catch {
    return;
  }
  const onNow = (data.on_now ?? []).map(onNowItem);
  if (!onNow.length) onNow.push(el("li", "small", "No meeting is on right now."));
  $("meetings-now").replaceChildren(...onNow);
  const rooms = new Map((data.rooms ?? []).map((room) => [room.id, room.title]));
  const select = $("meeting-add-room");
  if (select.options.length === 0) {
    for (const [id, title] of rooms) {
      const option = el("option", "", title);
      option.value = id;
      select.append(option);
    }
  }
  if (!allows("coordinator")) return;
  const added = (data.added ?? []).map((m) => addedItem(m, rooms));
  if (!added.length) added.push(el("li", "small", "No meetings added here; the rooms file has the rest."));
  $("meeting-added").replaceChildren(...added);
}

async function addMeeting(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = {
    room: value("room"),
    title: value("title"),
    start: value("start"),
    timezone: value("timezone"),
    repeat: value("repeat"),
    length_min: Number(value("length_min")),
  };
  const turn = value("turn_min");
  if (turn) body.turn_min = Number(turn);
  try {
    const data = await request("POST", "/mod/api/meetings", body);
    say(`Added "${data.meeting.title}". It is on the schedule page and in the calendar file now.`);
    form.elements.namedItem("title").value = "";
  } catch (failure) {
    say(`Couldn't add the meeting: ${failure.message}`);
  }
  loadMeetings();
}

async function removeMeeting(id, title) {
  try {
    await request("DELETE", `/mod/api/meetings/${encodeURIComponent(id)}`);
    say(`Removed "${title}".`);
  } catch (failure) {
    say(`Couldn't remove the meeting: ${failure.message}`);
  }
  loadMeetings();
}
