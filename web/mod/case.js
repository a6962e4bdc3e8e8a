// The case view: one flag with the conversation around it, the facts a volunteer needs before
// acting (who holds it, how severe, why it was raised), and which actions make sense now.

import { $, age, duration, el, fullTime, timeElement } from "./dom.js";
import { categoryWords, highlightPieces, isCrisis, roomTitle } from "./flags.js";

/** The flagged text as text nodes, the classifier's matched words in <mark>. */
export function highlighted(text, spans) {
  const node = el("p", "thread-text");
  for (const piece of highlightPieces(text, spans)) {
    node.append(piece.match ? el("mark", "", piece.text) : document.createTextNode(piece.text));
  }
  return node;
}

function threadItem(message, className) {
  const li = el("li", className);
  const meta = el("p", "thread-meta");
  meta.append(el("strong", "", String(message.from ?? message.name ?? "")), " ", timeElement(message.ts));
  li.append(meta);
  return li;
}

function fact(list, term, value) {
  const row = el("div", "fact");
  row.append(el("dt", "", term), value instanceof Node ? wrap(value) : el("dd", "", value));
  list.append(row);
}

function wrap(node) {
  const dd = el("dd");
  dd.append(node);
  return dd;
}

function sourceText(flag) {
  if (flag.source === "appeal") {
    const appeal = flag.appeal ?? {};
    const what = appeal.kind === "ban" ? "ban" : "mute";
    const until = fullTime(appeal.until_ms);
    return `Appeal of a ${what} by ${appeal.by} (until ${until}), given for: “${appeal.reason ?? ""}”. Another volunteer decides it.`;
  }
  if (flag.source === "report") {
    const extra = flag.reports > 0 ? ` (${flag.reports + 1} reports)` : "";
    return flag.reason ? `Reported by a member${extra}: “${flag.reason}”` : `Reported by a member${extra}`;
  }
  return flag.reports > 0 ? `Classifier, and reported ${flag.reports} time(s)` : "Classifier";
}

function stateText(flag, me) {
  if (flag.state === "resolved") return `Resolved: ${String(flag.outcome ?? "").replace("_", " ")}`;
  if (flag.state === "claimed") return flag.owner === me ? "Claimed by you" : `Claimed by ${flag.owner}`;
  if (flag.reopened_ms) return "Open again: reported after it was resolved";
  return "Open: nobody has it yet";
}

/** How long the person waited for a claim and for a volunteer's first words, in words. */
function timeToHuman(flag, targets) {
  const since = Math.max(flag.created_ms ?? 0, flag.reopened_ms ?? 0);
  const parts = [];
  if (flag.claimed_ms) parts.push(`claimed after ${duration((flag.claimed_ms - since) / 1000)}`);
  else if (flag.state !== "resolved") {
    const target = targets[flag.severity];
    parts.push(Number.isFinite(target) ? `not claimed yet (target ${duration(target)})` : "not claimed yet");
  }
  if (flag.first_words_ms) {
    parts.push(`first words after ${duration((flag.first_words_ms - since) / 1000)}`);
  } else if (flag.state !== "resolved") parts.push("no words to the person yet");
  if (flag.backup_ms) parts.push("backup list called");
  return parts.join("; ") || "not recorded";
}

/** The message the flag is about, in the room: what Hide removes (the released copy, once a
 * held message was released). Same rule as moderation/flags.py Flag.room_message_id. */
export function roomMessageId(flag) {
  const id = flag.released ? flag.released_id : flag.message_id;
  return id ?? null;
}

function heldText(flag) {
  let text;
  if (!flag.held) text = "Delivered to the room";
  else if (flag.released) text = "Held, then released to the room";
  else text = flag.message_id === null ? "Held from the room" : "Held: the room sees a placeholder";
  return flag.hidden ? `${text}, then hidden by a moderator` : text;
}

/**
 * Fill the case view with `flag`.
 * @param {object} view  {me, opened: Set of flag ids whose text the volunteer chose to read}
 */
export function renderCase(flag, view) {
  $("case-empty").hidden = true;
  const article = $("case");
  const changed = article.dataset.flag !== flag.id;
  article.hidden = false;
  article.dataset.flag = flag.id;
  article.dataset.severity = flag.severity;
  article.dataset.state = flag.state;
  $("case-title").textContent = `${cap(flag.severity)}: ${categoryWords(flag.categories)}`;

  const facts = $("case-facts");
  facts.replaceChildren();
  const severity = el("span", `sev sev-${flag.severity}`, flag.severity);
  fact(facts, "Severity", severity);
  fact(facts, "State", stateText(flag, view.me));
  const writer = el("span", "", `${flag.name} in ${roomTitle(flag.room)}`);
  const here = el("span", view.online ? "tag tag-online" : "tag", view.online ? "here now" : "not here now");
  here.id = "writer-online";
  here.dataset.online = String(Boolean(view.online));
  writer.append(" ", here);
  fact(facts, "Writer", writer);
  fact(facts, "Source", sourceText(flag));
  fact(facts, "Message", heldText(flag) + (flag.escalated ? " · escalated" : ""));
  fact(facts, "Raised", `${fullTime(flag.created_ms)} (waited ${age(flag.created_ms)})`);
  fact(facts, "Time to a human", timeToHuman(flag, view.targets ?? {}));
  if (flag.note) fact(facts, "Note", flag.note);
  if (flag.state === "resolved" && flag.resolved_ms) fact(facts, "Resolved", fullTime(flag.resolved_ms));

  // The conversation, oldest first, ending with the flagged message.
  const thread = $("case-thread");
  thread.replaceChildren();
  for (const message of Array.isArray(flag.context) ? flag.context : []) {
    const li = threadItem(message, "thread-msg");
    li.append(el("p", "thread-text", String(message.text ?? "")));
    thread.append(li);
  }
  const own = threadItem({ from: flag.name, ts: flag.created_ms }, "thread-msg flagged");
  own.append(highlighted(flag.text, flag.spans));
  thread.append(own);

  // Crisis words are collapsed by default: a volunteer decides when to read them.
  const crisis = isCrisis(flag);
  const open = view.opened.has(flag.id) || (!crisis && !view.collapseAll);
  $("case-warning").textContent = crisis
    ? "This message may be distressing to read (" + categoryWords(flag.categories) + ")."
    : "The message and the conversation before it.";
  setOpen(open);

  const held = flag.held && !flag.released;
  const mine = flag.state === "claimed" && flag.owner === view.me;
  const resolved = flag.state === "resolved";
  enable("claim", flag.state === "open");
  enable("release", mine);
  enable("escalate", !resolved && !flag.escalated);
  // A resolved case may be followed up while its writer is here.
  enable("checkin", !resolved || Boolean(view.online));
  // Whether the message was hidden is recorded on the flag (any moderator, any page, any reload).
  const hide = $("case").querySelector('[data-act="hide"]');
  hide.textContent = flag.hidden ? "Hidden" : "Hide message";
  enable("hide", roomMessageId(flag) !== null && !flag.hidden);
  enable("release-held", held);
  for (const form of ["resolve-form", "decide-form", "warn-form", "sanction-form"]) {
    for (const control of $(form).elements) control.disabled = resolved;
  }
  const appeal = flag.source === "appeal";
  $("decide-form").hidden = !appeal;
  $("resolve-form").hidden = appeal;
  // Care first: on a case where someone may be in danger, warn, mute and ban start folded away
  // below the support actions (the volunteer can still open them).
  const careFirst = crisis || ["imminent", "high"].includes(flag.severity);
  $("sanctions").dataset.careFirst = String(careFirst);
  $("sanctions-note").textContent = careFirst
    ? "This person may be in crisis: reach out first. A warning or a pause tells them they did something wrong."
    : "";
  if (changed) {
    $("sanctions").open = !careFirst;
    $("case-status").textContent = "";
    $("resolve-note").value = "";
    $("decide-note").value = "";
    $("warn-text").value = "";
    $("sanction-reason").value = "";
    $("note-text").value = "";
  }
}

/** Notes, oldest first like a conversation (the server sends them newest first), or newest
 * first (hand-over notes: the last shift's on top). */
export function renderNotes(listId, emptyId, notes, { newestFirst = false } = {}) {
  const ordered = newestFirst ? [...notes] : [...notes].reverse();
  const items = ordered.map((note) => {
    const li = el("li");
    const meta = el("p", "thread-meta");
    meta.append(el("strong", "", String(note.moderator ?? "")), " ", timeElement(note.at_ms));
    li.append(meta, el("p", "note-text", String(note.text ?? "")));
    return li;
  });
  $(listId).replaceChildren(...items);
  $(emptyId).hidden = items.length > 0;
}

export function setOpen(open) {
  $("case-thread").hidden = !open;
  const toggle = $("case-toggle");
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = open ? "Collapse message" : "Show message";
}

function enable(action, on) {
  const button = $("case").querySelector(`[data-act="${action}"]`);
  button.disabled = !on;
}

export function clearCase() {
  $("case").hidden = true;
  delete $("case").dataset.flag;
  $("case-empty").hidden = false;
}

function cap(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : "";
}
