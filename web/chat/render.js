// DOM builders for the chat. Every piece of user or server text goes in through textContent or
// text nodes, never innerHTML: markup typed in a message shows as the characters someone typed.

import { BADGE_WORDS } from "./milestones.js";

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

export function countText(count) {
  if (!Number.isFinite(count) || count <= 0) return "Quiet right now";
  return count === 1 ? "1 person here" : `${count} people here`;
}

/** A room in the list: one button holding the title, description and live count. */
export function roomCard(room) {
  const li = el("li", "room-card");
  const button = el("button", "room-button");
  button.type = "button";
  button.dataset.room = room.id;
  const title = el("span", "room-title", room.title);
  const description = el("span", "room-description", room.description);
  const count = el("span", "room-count", countText(room.count));
  count.dataset.countFor = room.id;
  button.append(title, description, count);
  if (room.meeting && Number.isFinite(room.meeting.start_ms)) {
    const started = room.meeting.start_ms <= Date.now();
    const when = clock.format(new Date(room.meeting.start_ms));
    const text = started ? `Meeting now: ${room.meeting.title}` : `Meeting at ${when}: ${room.meeting.title}`;
    button.append(el("span", "room-meeting", text));
  }
  li.append(button);
  return li;
}

function timeElement(ts) {
  const time = el("time", "msg-time");
  if (Number.isFinite(ts)) {
    const date = new Date(ts);
    time.dateTime = date.toISOString();
    time.textContent = clock.format(date);
    time.title = full.format(date);
  }
  return time;
}

function button(className, text, action) {
  const node = el("button", `link-button ${className}`, text);
  node.type = "button";
  node.dataset.action = action;
  return node;
}

/** A message from the room. `own` marks ours (a visible "you" label, not colour alone);
 * `subject` (a reader's fold, see controls.js) hides the words behind a "Show" tap. */
export function messageElement(message, { own, subject = null }) {
  const li = el("li", own ? "msg own" : "msg");
  li.dataset.id = String(message.id);
  if (typeof message.author === "string") li.dataset.author = message.author;
  if (typeof message.sensitive === "string") li.dataset.sensitive = message.sensitive;
  const meta = el("p", "msg-meta");
  meta.append(el("span", "msg-from", message.from));
  if (own) meta.append(el("span", "msg-you", "you"));
  const milestone = milestoneElement(message.badge);
  if (milestone) meta.append(milestone);
  // `note` comes from the moderation release: a volunteer's message, or a held message's stand-in.
  if (message.note === "volunteer") meta.append(el("span", "msg-badge", "volunteer moderator"));
  if (message.note === "held") li.classList.add("held");
  if (message.thread === "checkin") {
    li.classList.add("daily-answer");
    meta.append(el("span", "msg-daily", "check-in"));
  }
  if (message.note === "struggling") {
    li.classList.add("struggling");
    meta.append(el("span", "msg-asks", "asks for support"));
  }
  meta.append(timeElement(message.ts));
  const text = el("p", "msg-text", message.text);
  const foot = el("div", "msg-foot");
  foot.append(el("span", "msg-status"));
  if (!own && message.note !== "held") {
    const report = button("msg-report", "Report", "report");
    report.setAttribute("aria-label", `Report message from ${message.from}`);
    foot.append(report);
  }
  if (!own && message.note !== "volunteer") {
    const mute = button("msg-mute", "Mute", "mute");
    mute.setAttribute("aria-label", `Mute ${message.from} on this device`);
    foot.append(mute);
  }
  li.append(meta, text, foot);
  if (subject) fold(li, subject);
  if (own && message.id !== "" && message.note !== "held") addDeleteButton(li);
  return li;
}

/** A milestone the writer chose to show (self-declared; only the known words are shown), or
 * null. */
function milestoneElement(badge) {
  if (!Object.hasOwn(BADGE_WORDS, String(badge))) return null;
  const milestone = el("span", "msg-milestone", BADGE_WORDS[badge]);
  milestone.title = "A milestone this person chose to show";
  milestone.setAttribute("aria-label", `milestone: ${BADGE_WORDS[badge]}`);
  return milestone;
}

/** Our own bubble shows the badge the room's copy of it carries: exactly what others see
 * beside our name on it (none, when the copy has none). */
export function setBadge(li, badge) {
  const meta = li.querySelector(".msg-meta");
  if (!meta) return;
  const milestone = milestoneElement(badge);
  const shown = meta.querySelector(".msg-milestone");
  if (shown && milestone && shown.textContent === milestone.textContent) return;
  shown?.remove();
  const anchor = meta.querySelector(".msg-you") ?? meta.querySelector(".msg-from");
  if (milestone && anchor) anchor.after(milestone);
}

/** Hide the words behind a "Show" tap, saying only what the message is about. */
export function fold(li, subject) {
  if (li.querySelector(".msg-fold") || li.classList.contains("removed")) return;
  const note = el("p", "msg-fold", `This message talks about ${subject}. `);
  note.append(button("msg-show", "Show", "show"));
  li.querySelector(".msg-text").hidden = true;
  li.querySelector(".msg-meta").after(note);
}

export function unfold(li) {
  li.querySelector(".msg-fold")?.remove();
  li.querySelector(".msg-text").hidden = false;
}

/** One question before a mute: it hides every message of theirs on this device. */
export function askMute(li, name) {
  li.querySelector(".msg-ask")?.remove();
  const ask = el("span", "msg-ask");
  ask.append(el("span", "", `Hide everything ${name} writes, on this device? `));
  ask.append(button("msg-confirm-mute", "Mute", "confirm-mute"), " ");
  const cancel = button("msg-keep", "Cancel", "cancel-ask");
  ask.append(cancel);
  li.querySelector(".msg-foot").append(ask);
  return cancel;
}

/** The reasons to pick from before a report is sent (or Cancel). */
export function askReport(li, reasons) {
  li.querySelector(".msg-ask")?.remove();
  const ask = el("div", "msg-ask msg-reasons");
  ask.setAttribute("role", "group");
  ask.setAttribute("aria-label", "Why are you reporting this?");
  ask.append(el("span", "msg-ask-title", "Why are you reporting this?"));
  for (const reason of reasons) {
    const pick = button("msg-reason", reason, "report-reason");
    pick.dataset.reason = reason;
    ask.append(pick);
  }
  ask.append(button("msg-keep", "Cancel", "cancel-ask"));
  li.querySelector(".msg-foot").append(ask);
  return ask.querySelector(".msg-reason");
}

export function cancelAsk(li) {
  li.querySelector(".msg-ask")?.remove();
}

/** Our own stored message can be taken back: a "Delete" that asks once before it acts. */
function addDeleteButton(li) {
  if (li.querySelector(".msg-delete") || li.classList.contains("removed")) return;
  const button = el("button", "link-button msg-delete", "Delete");
  button.type = "button";
  button.dataset.action = "delete";
  button.setAttribute("aria-label", "Delete this message for everyone");
  li.querySelector(".msg-foot").append(button);
}

/** The one question before a delete: the message goes for everyone, so it is asked, not assumed. */
export function askDelete(li) {
  li.querySelector(".msg-delete")?.remove();
  const ask = el("span", "msg-ask");
  ask.append(el("span", "", "Delete for everyone? "));
  const yes = el("button", "link-button msg-confirm-delete", "Delete");
  yes.type = "button";
  yes.dataset.action = "confirm-delete";
  const keep = el("button", "link-button msg-keep", "Keep");
  keep.type = "button";
  keep.dataset.action = "keep";
  ask.append(yes, " ", keep);
  li.querySelector(".msg-foot").append(ask);
  return keep;
}

/** The question was answered "keep", or the delete could not be made: offer it again. */
export function cancelDelete(li) {
  li.querySelector(".msg-ask")?.remove();
  addDeleteButton(li);
}

/** Our message before its ack: shown at once, marked "sending…" until the server stores it. */
export function pendingElement(text, name, clientId, thread = "") {
  const message = { id: "", from: name || "You", text, ts: Number.NaN, thread };
  const li = messageElement(message, { own: true });
  li.removeAttribute("data-id");
  li.dataset.clientId = clientId;
  setPendingState(li, "sending");
  return li;
}

/** "sending" (incl. waiting to resend) or "failed" (with a retry button and maybe a reason). */
export function setPendingState(li, state, reason = "") {
  const status = li.querySelector(".msg-status");
  li.querySelector(".msg-retry")?.remove();
  li.classList.toggle("pending", state === "sending");
  li.classList.toggle("failed", state === "failed");
  if (state === "failed") {
    status.textContent = reason ? `${reason} ` : "";
    const retry = el("button", "link-button msg-retry", "not sent — retry");
    retry.type = "button";
    retry.dataset.action = "retry";
    status.append(retry);
  } else {
    status.textContent = "sending…";
  }
}

/** The server stored our message as `id` at `ts`. */
export function setDelivered(li, id, ts) {
  li.dataset.id = String(id);
  li.classList.remove("pending", "failed");
  li.querySelector(".msg-status").textContent = "";
  if (Number.isFinite(ts)) li.querySelector(".msg-time").replaceWith(timeElement(ts));
  addDeleteButton(li);
}

/** A line under a message: what the server did with it (held, redacted, hidden). */
export function setNote(li, text) {
  li.querySelector(".msg-status").textContent = text;
}

/** The message was taken out of the room (by its writer or a moderator): its text goes at
 * once, and `text` says only what the viewer can know about who removed it. */
export function setRemoved(li, text) {
  li.classList.add("held", "removed");
  unfold(li);
  li.querySelector(".msg-text").textContent = text;
  li.querySelector(".msg-status").textContent = "";
  for (const selector of [".msg-report", ".msg-mute", ".msg-delete", ".msg-ask", ".msg-retry"]) {
    li.querySelector(selector)?.remove();
  }
}

export function noticeElement(text) {
  return el("li", "msg-notice", text);
}

/** Put `li` (just given an id) in id order among the confirmed messages after the last notice. */
export function placeById(list, li, id) {
  li.remove();
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (node.classList.contains("msg-notice")) return node.after(li);
    const other = Number(node.dataset.id);
    if (node.dataset.id && other < id) return node.after(li);
  }
  list.prepend(li);
}
