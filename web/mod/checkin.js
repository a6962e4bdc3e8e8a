// Private check-ins: the moderator's side of a check-in room. Opening one (POST …/checkin)
// invites the person; the room is joined on the moderator's own socket, so messages arrive as
// ordinary `message` frames and the volunteer writes with ordinary `send` frames. After a
// reconnect each open check-in is re-joined with `since`, so nothing said meanwhile is lost.
//
// Each check-in belongs to its case and sits inside the case view, shown while that case is on
// screen. The check-ins open in this tab are kept in sessionStorage (gone with the tab, and on
// sign-out), so a reload joins them again and the room's history brings back what was said.

import { $, announce, el, timeElement } from "./dom.js";

const panels = new Map(); // room -> {room, who, flagId, list, seen, lastId, epoch, state, form}
const KEPT = "harbor-mod-checkins";
let socket = null;
let counter = 0;
let keptFor = null; // the moderator whose check-ins are kept
let shownFlag = null; // the case on screen

export function setupCheckins(getSocket) {
  socket = getSocket;
}

function keep() {
  if (keptFor === null) return;
  const open = [...panels.values()].map(({ room, who, flagId }) => ({ room, who, flagId }));
  try {
    sessionStorage.setItem(KEPT, JSON.stringify({ moderator: keptFor, open }));
  } catch {
    // storage full or refused: the check-ins still work, they just won't survive a reload
  }
}

/** Open again the check-ins this tab had open for `moderator` before a reload. */
export function restoreCheckins(moderator) {
  keptFor = moderator;
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(KEPT) ?? "null");
  } catch {
    kept = null;
  }
  if (kept?.moderator !== moderator || !Array.isArray(kept.open)) return;
  for (const { room, who, flagId } of kept.open) {
    if (typeof room === "string" && typeof flagId === "string") openCheckin(room, String(who ?? ""), flagId, { focus: false });
  }
}

export function hasCheckin(room) {
  return panels.has(room);
}

/** Show the check-in of case `flagId` (if one is open here) and hide the others. */
export function showCheckinFor(flagId) {
  shownFlag = flagId;
  let shown = false;
  for (const panel of panels.values()) {
    panel.node.hidden = panel.flagId !== flagId;
    shown ||= !panel.node.hidden;
  }
  return shown;
}

function newClientId() {
  counter += 1;
  return `checkin-${Date.now().toString(36)}-${counter}`;
}

/** Show (or bring forward) the panel for `room`, talking with `who` about case `flagId`, and
 * join it. */
export function openCheckin(room, who, flagId, { focus = true } = {}) {
  let panel = panels.get(room);
  if (!panel) {
    panel = build(room, who, flagId);
    panels.set(room, panel);
    $("checkin-list").append(panel.node);
    keep();
  }
  panel.node.hidden = panel.flagId !== shownFlag;
  join(panel);
  if (focus && !panel.node.hidden) panel.box.focus();
  return panel;
}

function build(room, who, flagId) {
  const node = el("section", "checkin");
  node.dataset.room = room;
  const headingId = `checkin-${room}`;
  const heading = el("h4", "", `Private check-in with ${who}`);
  heading.id = headingId;
  node.setAttribute("aria-labelledby", headingId);
  const state = el("p", "small checkin-state", "Joining…");
  const list = el("ol", "checkin-messages");
  list.setAttribute("aria-label", `Check-in messages with ${who}`);
  list.setAttribute("aria-live", "polite");
  const form = el("form", "checkin-form");
  form.noValidate = true;
  const label = el("label", "", "Your message");
  const box = el("textarea");
  box.rows = 2;
  box.maxLength = 2000;
  box.id = `checkin-text-${room}`;
  label.htmlFor = box.id;
  const send = el("button", "btn btn-primary", "Send");
  send.type = "submit";
  const close = el("button", "btn btn-quiet", "Close");
  close.type = "button";
  const row = el("div", "action-row");
  row.append(send, close);
  form.append(label, box, row);
  node.append(heading, state, list, form);
  const panel = { room, who, flagId, node, list, box, stateNode: state, seen: new Set(),
    lastId: null, epoch: null, state: "out", pending: new Map() };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say(panel);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      say(panel);
    }
  });
  close.addEventListener("click", () => closeCheckin(panel));
  return panel;
}

function join(panel) {
  const ws = socket?.();
  if (panel.state !== "out" || !ws?.ready) return;
  const frame = { type: "join", room: panel.room };
  if (panel.lastId !== null && panel.epoch !== null) {
    frame.since = panel.lastId;
    frame.epoch = panel.epoch;
  }
  panel.state = "joining";
  ws.send(frame);
}

function say(panel) {
  const text = panel.box.value.trim();
  if (!text) return;
  const clientId = newClientId();
  const sent = socket?.()?.send({ type: "send", room: panel.room, text, client_id: clientId });
  if (!sent || panel.state !== "in") {
    panel.stateNode.textContent = "Not connected: your message was not sent. Try again in a moment.";
    return;
  }
  panel.pending.set(clientId, text);
  panel.box.value = "";
}

function closeCheckin(panel) {
  if (panel.state === "in") socket?.()?.send({ type: "leave", room: panel.room });
  panel.node.remove();
  panels.delete(panel.room);
  keep();
  onClosed(panel.flagId);
}

let onClosed = () => {};

/** Called with the case's flag id when a volunteer closes its check-in. */
export function whenCheckinClosed(fn) {
  onClosed = fn;
}

function addMessage(panel, message) {
  if (!Number.isInteger(message.id) || panel.seen.has(message.id)) return;
  panel.seen.add(message.id);
  if (panel.lastId === null || message.id > panel.lastId) panel.lastId = message.id;
  const li = el("li", message.note === "volunteer" ? "checkin-msg mine" : "checkin-msg");
  li.dataset.id = String(message.id);
  const meta = el("p", "checkin-meta");
  meta.append(el("strong", "", String(message.from ?? "")), " ", timeElement(message.ts));
  li.append(meta, el("p", "checkin-text", String(message.text ?? "")));
  panel.list.append(li);
}

// ---------- frames from the moderator socket ----------

/** Every frame about a room; true when it belonged to a check-in. */
export function onCheckinFrame(frame) {
  const panel = panels.get(frame.room);
  if (!panel) return false;
  if (frame.type === "joined") {
    panel.state = "in";
    if (panel.epoch !== null && frame.epoch !== panel.epoch) panel.seen.clear();
    panel.epoch = frame.epoch;
    for (const message of Array.isArray(frame.history) ? frame.history : []) addMessage(panel, message);
    panel.stateNode.textContent = "Only this person and volunteers can read this room.";
  } else if (frame.type === "message") {
    addMessage(panel, frame);
    if (frame.note !== "volunteer") announce(`Check-in, ${frame.from}: ${String(frame.text).slice(0, 200)}`);
  } else if (frame.type === "hidden") {
    panel.list.querySelector(`[data-id="${Number(frame.id)}"] .checkin-text`)?.replaceChildren(
      "This message was removed (by its writer or a volunteer).");
  }
  return true;
}

/** A refused send in a check-in (muted, too long…): say so where it was written. */
export function onCheckinError(frame) {
  for (const panel of panels.values()) {
    if (frame.client_id && panel.pending.has(frame.client_id)) {
      panel.box.value = panel.pending.get(frame.client_id);
      panel.pending.delete(frame.client_id);
      panel.stateNode.textContent = `Not sent: ${frame.message ?? frame.code}.`;
      return true;
    }
  }
  return false;
}

export function onCheckinAck(frame) {
  for (const panel of panels.values()) panel.pending.delete(frame.client_id);
}

/** After every (re)connect: join each open check-in again, resuming where it left off. */
export function rejoinCheckins() {
  for (const panel of panels.values()) {
    panel.state = "out";
    join(panel);
  }
}

export function connectionLost() {
  for (const panel of panels.values()) {
    panel.state = "out";
    panel.stateNode.textContent = "Reconnecting…";
  }
}

/** Signing out: close every check-in and forget them (a reload must not reopen them). */
export function closeAllCheckins() {
  for (const panel of [...panels.values()]) closeCheckin(panel);
  keptFor = null;
  try {
    sessionStorage.removeItem(KEPT);
  } catch {
    // nothing kept
  }
}
