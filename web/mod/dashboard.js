// Harbor's moderator dashboard: sign in, the live queue, one case at a time, check-ins, who is
// on duty, and the audit log.
//
// The store is the truth (GET /mod/api/flags); the chat socket's `flag` frames only keep this
// copy fresh between fetches. Frames can be missed while the socket is down, so every (re)connect
// fetches the whole list again instead of trusting what it heard before.

import { HarborSocket, socketUrl } from "../shared/socket.js";
import { alertFor, dismiss, setupAlerts } from "./alerts.js";
import { ApiError, api, whenSignedOut } from "./api.js";
import { clearCase, renderCase, renderNotes, setOpen } from "./case.js";
import {
  closeAllCheckins,
  connectionLost,
  hasCheckin,
  onCheckinAck,
  onCheckinError,
  onCheckinFrame,
  openCheckin,
  rejoinCheckins,
  restoreCheckins,
  setupCheckins,
  showCheckinFor,
  whenCheckinClosed,
} from "./checkin.js";
import { confirmAction, setupConfirm } from "./confirm.js";
import { loadAccounts, setRole } from "./roles.js";
import { loadRota, setupRota, startRota, stopRota } from "./rota.js";
import { loadMeetings, setupMeetings, startMeetings, stopMeetings } from "./meetings.js";
import { $, age, announce, duration, el, fullTime } from "./dom.js";
import {
  CATEGORY_WORDS,
  OUTCOMES,
  article,
  categoryWords,
  compareFlags,
  outcomeWords,
  roomTitle,
  roomTitles,
  setRoomTitles,
} from "./flags.js";

const DUTY_REFRESH_MS = 10_000;
const AUDIT_REFRESH_MS = 20_000;
const AGE_REFRESH_MS = 30_000;

const state = {
  me: null,
  flags: new Map(), // open and claimed flags by id
  caseFlag: null, // the flag on screen (kept after it is resolved, to show the outcome)
  opened: new Set(), // flags whose text the volunteer chose to read
  alerted: new Set(), // imminent and high flags already alerted (a refetch must not ring again)
  targets: {}, // seconds a flag may wait for a claim, by severity (from /mod/api/response)
  known: new Map(), // resolved cases seen in the history search or a follow-up, by id
  online: new Set(), // cases whose writer is here now (from /mod/api/writers)
  followups: [], // resolved crisis cases whose writer came back
  notesFor: null, // the case whose notes are on screen
  loaded: false,
  // Flag frames that arrive while the queue is being fetched: the fetched list may predate
  // them, so they are applied on top of it (else a flag raised meanwhile vanished from view).
  arriving: null,
  socket: null,
  timers: [],
};

// ---------- views ----------

function show(view) {
  for (const name of ["sign-in", "dashboard"]) $(`view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
  $("session-actions").hidden = view !== "dashboard";
  $("whoami").hidden = view !== "dashboard";
  $("on-duty").hidden = view !== "dashboard";
}

function setConnection(name, detail = {}) {
  const node = $("conn");
  node.dataset.state = name;
  const texts = {
    connecting: "Connecting to the live queue…",
    online: "Live",
    waiting: `Live queue lost. Trying again in ${Math.max(1, Math.round((detail.delay ?? 0) / 1000))} s…`,
    ended: "Live queue disconnected.",
    idle: "Not connected",
  };
  node.textContent = texts[name] ?? "";
}

// ---------- sign-in ----------

function showSignIn(message = "") {
  stopDashboard();
  show("sign-in");
  const error = $("sign-in-error");
  error.textContent = message;
  error.hidden = !message;
  $("sign-in-heading").focus();
}

async function signIn(event) {
  event.preventDefault();
  const name = $("name").value.trim();
  const password = $("password").value;
  const error = $("sign-in-error");
  if (!name || !password) {
    error.textContent = "Enter your moderator name and password.";
    error.hidden = false;
    return;
  }
  $("sign-in-submit").disabled = true;
  try {
    const data = await api.signIn(name, password);
    $("password").value = "";
    error.hidden = true;
    startDashboard(data.name, data.role);
  } catch (failure) {
    error.textContent = failure.status === 401
      ? "That name and password don't match."
      : failure.message;
    error.hidden = false;
    $("password").select();
  } finally {
    $("sign-in-submit").disabled = false;
  }
}

/** The embedded server's one-time link, /mod/#link=TOKEN. The fragment never reaches a server
 * or a log; it is wiped from the address bar (and history) before it is even used, so it can't
 * be bookmarked, shared from the screen or reused from Back. */
function takeLinkToken() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("link");
  if (token !== null) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return token;
}

async function signOut() {
  try {
    await api.signOut();
  } catch {
    // signed out already, or offline: the page forgets the session either way
  }
  showSignIn();
  announce("Signed out.");
}

// ---------- the dashboard ----------

function startDashboard(name, role) {
  state.me = name;
  $("my-name").textContent = name;
  setRole(name, role);
  show("dashboard");
  $("queue-heading").focus();
  stopTimers();
  state.timers.push(
    setInterval(() => !document.hidden && loadDuty(), DUTY_REFRESH_MS),
    setInterval(() => !document.hidden && loadResponse(), DUTY_REFRESH_MS),
    setInterval(() => !document.hidden && loadAudit(), AUDIT_REFRESH_MS),
    setInterval(() => !document.hidden && loadAccounts({ quiet: true }), DUTY_REFRESH_MS),
    setInterval(() => !document.hidden && loadRota(), DUTY_REFRESH_MS),
    setInterval(() => !document.hidden && loadMeetings(), DUTY_REFRESH_MS),
    setInterval(renderQueue, AGE_REFRESH_MS),
  );
  // Who is on duty is asked once our own socket is live (it puts us on duty): until then the
  // page says it is checking rather than showing nobody.
  $("duty-list").replaceChildren(el("li", "small", "Checking who is on duty…"));
  $("on-duty").textContent = "On duty: checking…";
  state.timers.push(setInterval(() => !document.hidden && loadWriters(), DUTY_REFRESH_MS));
  restoreCheckins(name);
  startRota(name);
  startMeetings();
  loadRooms();
  loadAudit();
  loadResponse();
  loadHandover();
  loadWriters();
  reopenCaseFromAddress();
  startSocket();
}

// ---------- the case in the address: a reload comes back to it ----------

function caseInAddress() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return params.get("case");
}

function putCaseInAddress(id) {
  const hash = id ? `#case=${encodeURIComponent(id)}` : "";
  if (window.location.hash !== hash) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search + hash);
  }
}

/** After a reload: the case that was on screen, in whatever state it is now. */
async function reopenCaseFromAddress() {
  const id = caseInAddress();
  if (!id) return;
  try {
    const data = await api.oneCase(id);
    if (state.me === null || state.caseFlag) return;
    if (data.online) state.online.add(id);
    remember(data.flag);
    showCase(data.flag, { focus: false });
  } catch {
    putCaseInAddress(null); // resolved long ago and pruned, or never existed
  }
}

/** Room titles for the queue and the case (the public room list). */
async function loadRooms() {
  try {
    const response = await fetch("/api/rooms", { cache: "no-store" });
    if (response.ok) setRoomTitles((await response.json()).rooms);
  } catch {
    return; // ids stand in for titles until the next load
  }
  fillHistoryChoices();
  renderQueue();
  if (state.caseFlag) showCase(state.caseFlag, { focus: false });
}

function stopTimers() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
}

function stopDashboard() {
  stopTimers();
  state.socket?.stop();
  state.socket = null;
  setConnection("idle");
  closeAllCheckins();
  setRole(null, null);
  stopRota();
  stopMeetings();
  state.me = null;
  state.flags.clear();
  state.caseFlag = null;
  state.opened.clear();
  state.loaded = false;
  state.known.clear();
  state.online.clear();
  state.followups = [];
  state.notesFor = null;
  putCaseInAddress(null);
  dismiss();
  clearCase();
  $("followups").hidden = true;
  $("history-body").replaceChildren();
  $("queue").replaceChildren();
  $("audit-body").replaceChildren();
  $("duty-list").replaceChildren();
  $("response-body").replaceChildren();
  document.body.dataset.caseOpen = "false";
}

function startSocket() {
  if (state.socket) return;
  state.socket = new HarborSocket({
    url: socketUrl(),
    hello: () => ({ type: "hello", moderator: true }),
    onReady: () => {
      loadFlags();
      rejoinCheckins();
      loadDuty(); // with ourselves on duty now; shared presence catches up a moment later
      setTimeout(loadDuty, 1500);
    },
    onDown: connectionLost,
    onFrame,
    onStatus: (name, detail) => {
      setConnection(name, detail);
      // A refused moderator hello (1008) means the session is gone: find out, don't loop.
      if (name === "ended") api.me().catch(() => {});
    },
  });
  state.socket.start();
}

function onFrame(frame) {
  if (frame.type === "flag") onFlag(frame);
  else if (frame.type === "ack") onCheckinAck(frame);
  else if (frame.type === "error") onCheckinError(frame);
  else if (typeof frame.room === "string") onCheckinFrame(frame);
}

// ---------- the queue ----------

async function loadFlags() {
  if (state.me === null) return; // signed out meanwhile
  const arriving = new Map();
  state.arriving = arriving;
  // Busy while the list is in flight: assistive technology waits for the whole list rather
  // than announcing a half-updated one (and tests know when the fetched list has landed).
  $("queue").setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api.flags();
  } catch (failure) {
    $("queue-status").textContent = `The queue couldn't load: ${failure.message}`;
    $("queue").removeAttribute("aria-busy");
    return;
  } finally {
    if (state.arriving === arriving) state.arriving = null;
  }
  $("queue-status").textContent = "";
  const fresh = new Map();
  for (const flag of Array.isArray(data.flags) ? data.flags : []) fresh.set(flag.id, flag);
  for (const [id, flag] of arriving) {
    if (flag.state === "resolved") fresh.delete(id);
    else fresh.set(id, flag);
  }
  const firstLoad = !state.loaded;
  state.loaded = true;
  // Imminent flags raised while the socket was down still deserve the alarm; at first load the
  // whole queue is on screen already and one alarm for all of it would only be noise.
  for (const flag of fresh.values()) {
    if (!state.flags.has(flag.id) && !firstLoad) raisedAlarm(flag);
    if (ALERTED.has(flag.severity)) state.alerted.add(flag.id);
  }
  state.flags = fresh;
  renderQueue();
  $("queue").removeAttribute("aria-busy");
  const shown = state.caseFlag && fresh.get(state.caseFlag.id);
  if (shown) showCase(shown, { focus: false });
}

function onFlag(frame) {
  const flag = frame.flag;
  if (!flag || typeof flag.id !== "string") return;
  const known = state.flags.has(flag.id);
  state.arriving?.set(flag.id, flag);
  if (flag.state === "resolved") state.flags.delete(flag.id);
  else state.flags.set(flag.id, flag);
  renderQueue();
  if (state.caseFlag?.id === flag.id) showCase(flag, { focus: false });
  const where = `in ${roomTitle(flag.room)}: ${categoryWords(flag.categories)}`;
  const one = `${article(flag.severity)} ${flag.severity} flag`;
  if (frame.event === "raised" && !known) {
    announce(`New ${flag.severity} flag ${where}.`);
    raisedAlarm(flag);
  } else if (frame.event === "overdue" && flag.state === "open") {
    alertFor(flag, `Overdue: ${one} ${where} has waited ${age(flag.created_ms)}.`);
  } else if (frame.event === "reported") {
    announce(`${cap(one)} ${where} was reported again.`);
  } else if (frame.event === "reopened") {
    // A new report of a message whose case was resolved: it needs someone again.
    announce(`A resolved ${flag.severity} flag ${where} was reported again and is back in the queue.`);
    if (ALERTED.has(flag.severity)) {
      alertFor(
        flag,
        `Reported again: someone in ${roomTitle(flag.room)} may be in danger (${categoryWords(flag.categories)}).`,
        flag.severity === "imminent" ? "loud" : "quiet",
      );
    }
  } else if (frame.event === "lapsed") {
    announce(`${cap(one)} ${where} is back in the queue.`);
  } else if (frame.event === "answered") {
    announce(`A volunteer has written to the person behind ${one} ${where}.`);
  } else if (frame.event === "backup" && flag.state === "open") {
    alertFor(flag, `Nobody has claimed ${one} ${where}: the backup list was called.`);
  }
  if (["claim", "answered", "backup", "resolve"].includes(frame.event)) loadResponseSoon();
  if (frame.event === "note" && state.caseFlag?.id === flag.id) loadNotes(flag.id);
  if (frame.event === "followed_up") {
    state.followups = state.followups.filter((f) => f.id !== flag.id);
    renderFollowups();
  }
}

// Severities that ring when raised: imminent loudly, high quietly.
const ALERTED = new Set(["imminent", "high"]);

function raisedAlarm(flag) {
  if (!ALERTED.has(flag.severity) || flag.state !== "open" || state.alerted.has(flag.id)) return;
  state.alerted.add(flag.id);
  const what = categoryWords(flag.categories);
  if (flag.severity === "imminent") {
    alertFor(flag, `Imminent: someone in ${roomTitle(flag.room)} may be in danger (${what}).`, "loud");
  } else {
    alertFor(flag, `High: someone in ${roomTitle(flag.room)} needs a volunteer soon (${what}).`, "quiet");
  }
}

function renderQueue() {
  const flags = [...state.flags.values()].sort(compareFlags);
  const now = Date.now();
  const list = $("queue");
  const focusedId = document.activeElement?.closest?.("#queue [data-flag]")?.dataset.flag;
  list.replaceChildren(...flags.map((flag) => queueItem(flag, now)));
  $("queue-count").textContent = flags.length ? `(${flags.length})` : "";
  $("queue-empty").hidden = flags.length > 0;
  // Re-rendering must not throw away a keyboard user's place in the list.
  if (focusedId) list.querySelector(`[data-flag="${CSS.escape(focusedId)}"]`)?.focus();
}

function queueItem(flag, now) {
  const li = el("li", `queue-item sev-${flag.severity}`);
  li.dataset.state = flag.state;
  const button = el("button", "queue-button");
  button.type = "button";
  button.dataset.flag = flag.id;
  if (state.caseFlag?.id === flag.id) button.setAttribute("aria-current", "true");
  const top = el("span", "queue-top");
  top.append(el("span", `sev sev-${flag.severity}`, flag.severity));
  top.append(el("span", "queue-cats", categoryWords(flag.categories)));
  const facts = el("span", "queue-facts");
  facts.append(el("span", "", `${roomTitle(flag.room)} · ${flag.name}`));
  const waited = el("span", "", `waiting ${age(flag.created_ms, now)}`);
  waited.title = fullTime(flag.created_ms);
  facts.append(waited);
  const tags = el("span", "queue-tags");
  const owner = flag.state === "claimed"
    ? el("span", flag.owner === state.me ? "tag tag-mine" : "tag tag-owner",
      flag.owner === state.me ? "yours" : `held by ${flag.owner}`)
    : el("span", "tag tag-open", "open");
  owner.dataset.owner = flag.owner ?? "";
  tags.append(owner);
  if (pastTarget(flag, now)) tags.append(el("span", "tag tag-overdue", "past target"));
  if (flag.backup_ms && flag.state === "open") tags.append(el("span", "tag tag-overdue", "backup called"));
  if (flag.held && !flag.released) tags.append(el("span", "tag", "held"));
  if (flag.source === "report") tags.append(el("span", "tag", "reported"));
  if (flag.source === "appeal") tags.append(el("span", "tag", "appeal"));
  if (state.online.has(flag.id)) tags.append(el("span", "tag tag-online", "here now"));
  if (flag.checkin_room) tags.append(el("span", "tag", "check-in"));
  if (flag.reopened_ms) tags.append(el("span", "tag", "reopened"));
  if (flag.hidden) tags.append(el("span", "tag", "hidden"));
  if (flag.escalated) tags.append(el("span", "tag", "escalated"));
  button.append(top, facts, tags);
  li.append(button);
  return li;
}

// ---------- one case ----------

/** An open flag nobody has claimed since it was raised, waiting longer than its target. */
function pastTarget(flag, now = Date.now()) {
  const target = state.targets[flag.severity];
  const since = Math.max(flag.created_ms ?? 0, flag.reopened_ms ?? 0);
  return flag.state === "open" && !flag.claimed_ms && Number.isFinite(target) &&
    now - since > target * 1000;
}

function showCase(flag, { focus = true } = {}) {
  state.caseFlag = flag;
  renderCase(flag, {
    me: state.me,
    opened: state.opened,
    targets: state.targets,
    online: state.online.has(flag.id),
  });
  document.body.dataset.caseOpen = "true";
  putCaseInAddress(flag.id);
  showCaseCheckin(flag);
  if (state.notesFor !== flag.id) loadNotes(flag.id);
  for (const button of $("queue").querySelectorAll("[data-flag]")) {
    if (button.dataset.flag === flag.id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  if (focus) $("case-title").focus();
}

function openFlag(id) {
  const flag = state.flags.get(id) ?? state.known.get(id) ??
    (state.caseFlag?.id === id ? state.caseFlag : null);
  if (flag) showCase(flag);
}

/** The case's check-in beside it: joined already (this tab opened it, or the case is ours),
 * or offered to join when another volunteer opened it. */
function showCaseCheckin(flag) {
  const room = flag.checkin_room;
  if (room && !hasCheckin(room) && flag.state === "claimed" && flag.owner === state.me) {
    openCheckin(room, flag.name, flag.id, { focus: false });
  }
  const shown = showCheckinFor(flag.id);
  $("checkin-offer").hidden = shown || !room;
}

function joinCaseCheckin() {
  const flag = state.caseFlag;
  if (!flag?.checkin_room) return;
  openCheckin(flag.checkin_room, flag.name, flag.id);
  $("checkin-offer").hidden = true;
}

function backToQueue() {
  document.body.dataset.caseOpen = "false";
  const id = state.caseFlag?.id;
  const button = id ? $("queue").querySelector(`[data-flag="${CSS.escape(id)}"]`) : null;
  (button ?? $("queue-heading")).focus();
}

function status(text) {
  $("case-status").textContent = text;
}

function remember(flag) {
  if (!flag?.id) return;
  if (flag.state === "resolved") {
    state.flags.delete(flag.id);
    state.known.set(flag.id, flag);
  } else state.flags.set(flag.id, flag);
  renderQueue();
  if (state.caseFlag?.id === flag.id) showCase(flag, { focus: false });
}

const DONE = {
  claim: "You have this case. The writer was told a volunteer is looking.",
  release: "Released back to the queue.",
  escalate: "Escalated.",
  hide: "Hidden from the room for everyone.",
  "release-held": "The held message was released to the room.",
};

/** Run `action` on the case on screen; every answer, good or bad, is said in words. */
async function act(action, body = {}) {
  const flag = state.caseFlag;
  if (!flag) return null;
  status("Working…");
  try {
    const data = await api.act(flag.id, action, body);
    if (data.flag) remember(data.flag);
    if (DONE[action]) status(DONE[action]);
    loadAudit();
    loadDuty();
    return data;
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === "confirm_required") throw failure;
    status(`Not done: ${failure.message}`);
    return null;
  }
}

async function resolve(event) {
  event.preventDefault();
  const outcome = $("resolve-outcome").value;
  const data = await act("resolve", { outcome, note: $("resolve-note").value.trim() });
  if (data) {
    status(`Resolved as ${outcome.replace("_", " ")}.`);
    announce("Case resolved.");
  }
}

/** An appeal's decision; the person is told it (never who decided). */
async function decide(event) {
  event.preventDefault();
  const decision = $("decide-decision").value;
  const body = { decision, note: $("decide-note").value.trim() };
  if (decision === "shortened") body.minutes = Number($("decide-minutes").value);
  const data = await act("decide", body);
  if (data) {
    status(`Appeal decided: ${outcomeWords(decision)}. The person has been told.`);
    announce("Appeal decided.");
  }
}

/** Run `action`, which the server confirms first (409 confirm_required with a summary): ask the
 * volunteer in our dialog, and only on Confirm send it again with confirm: true. */
async function confirmed(action, body, label) {
  try {
    return await act(action, body);
  } catch (failure) {
    const summary = typeof failure.body.summary === "string" ? failure.body.summary : `${action} this person`;
    const note = typeof failure.body.note === "string" ? ` ${failure.body.note}` : "";
    if (!(await confirmAction(`${cap(summary)}?${note}`, label))) {
      status("Nothing was changed.");
      return null;
    }
    return act(action, { ...body, confirm: true });
  }
}

async function warn(event) {
  event.preventDefault();
  const text = $("warn-text").value.trim();
  if (!text) {
    status("Write the warning first.");
    $("warn-text").focus();
    return;
  }
  if (await confirmed("warn", { text }, "Send warning")) {
    $("warn-text").value = "";
    status("Warning sent.");
  }
}

/** Mute or ban: the server first answers 409 confirm_required with a summary; only after the
 * volunteer confirms it in our dialog is the same request sent again with confirm: true. */
async function sanction(event) {
  event.preventDefault();
  const kind = event.submitter?.value === "ban" ? "ban" : "mute";
  const body = { minutes: Number($("sanction-minutes").value), reason: $("sanction-reason").value.trim() };
  if (!body.reason) {
    status("Write the reason first: the person reads it, with how long it lasts.");
    $("sanction-reason").focus();
    return;
  }
  const data = await confirmed(kind, body, kind === "ban" ? "Ban" : "Mute");
  if (data) status(`Applied: ${data.applied}.`);
}

async function checkin() {
  const flag = state.caseFlag;
  const data = await act("checkin");
  if (data?.room) {
    openCheckin(data.room, flag.name, flag.id);
    $("checkin-offer").hidden = true;
    status(`${flag.name} was invited to a private check-in.`);
    if (state.followups.some((f) => f.id === flag.id)) followedUp(flag.id);
  }
}

// ---------- notes, hand-over, follow-ups, history ----------

async function loadNotes(flagId) {
  state.notesFor = flagId;
  renderNotes("notes-list", "notes-empty", []);
  try {
    const data = await api.oneCase(flagId);
    if (state.caseFlag?.id !== flagId) return;
    renderNotes("notes-list", "notes-empty", Array.isArray(data.notes) ? data.notes : []);
    setOnline(flagId, Boolean(data.online));
  } catch {
    // the case's notes stay empty until the next look
  }
}

async function addNote(event) {
  event.preventDefault();
  const flag = state.caseFlag;
  const text = $("note-text").value.trim();
  if (!flag || !text) {
    status("Write the note first.");
    return;
  }
  try {
    const data = await api.addNote(flag.id, text);
    $("note-text").value = "";
    renderNotes("notes-list", "notes-empty", data.notes ?? []);
    status("Note added.");
    loadAudit();
  } catch (failure) {
    status(`Not added: ${failure.message}`);
  }
}

async function loadHandover() {
  try {
    const data = await api.handover();
    renderNotes("handover-list", "handover-empty", data.notes ?? [], { newestFirst: true });
  } catch {
    // shown on the next load
  }
}

async function addHandover(event) {
  event.preventDefault();
  const text = $("handover-text").value.trim();
  if (!text) return;
  try {
    const data = await api.addHandover(text);
    $("handover-text").value = "";
    renderNotes("handover-list", "handover-empty", data.notes ?? [], { newestFirst: true });
    announce("Hand-over note left.");
    loadAudit();
  } catch (failure) {
    announce(`Hand-over note not saved: ${failure.message}`);
  }
}

function setOnline(flagId, online) {
  const changed = online !== state.online.has(flagId);
  if (online) state.online.add(flagId);
  else state.online.delete(flagId);
  if (changed && state.caseFlag?.id === flagId) showCase(state.caseFlag, { focus: false });
}

/** Whose writers are here now, and who came back after their crisis case was resolved. */
async function loadWriters() {
  if (state.me === null) return;
  let data;
  try {
    data = await api.writers();
  } catch {
    return;
  }
  const online = new Set(Array.isArray(data.online) ? data.online : []);
  const shown = state.caseFlag?.id;
  const changed = shown && online.has(shown) !== state.online.has(shown);
  state.online = online;
  const fresh = (Array.isArray(data.followups) ? data.followups : []).filter((f) => typeof f.id === "string");
  for (const flag of fresh) {
    state.known.set(flag.id, flag);
    if (!state.followups.some((f) => f.id === flag.id)) {
      announce(`${flag.name}, from ${article(flag.severity)} ${flag.severity} case resolved ${age(flag.resolved_ms)} ago, is back.`);
    }
  }
  state.followups = fresh;
  renderFollowups();
  renderQueue();
  if (changed) showCase(state.caseFlag, { focus: false });
}

function renderFollowups() {
  const items = state.followups.map((flag) => {
    const li = el("li");
    li.dataset.flag = flag.id;
    li.append(el("p", "", `${flag.name} is back in Harbor: ${article(flag.severity)} ${flag.severity} case (${categoryWords(flag.categories)}) in ${roomTitle(flag.room)} was resolved ${age(flag.resolved_ms)} ago. Say hello?`));
    const row = el("div", "action-row");
    const open = el("button", "btn btn-primary", "Open the case");
    open.type = "button";
    open.addEventListener("click", () => openFlag(flag.id));
    const done = el("button", "btn btn-quiet", "Done");
    done.type = "button";
    done.addEventListener("click", () => followedUp(flag.id));
    row.append(open, done);
    li.append(row);
    return li;
  });
  $("followup-list").replaceChildren(...items);
  $("followups").hidden = items.length === 0;
}

async function followedUp(flagId) {
  try {
    const data = await api.followedUp(flagId);
    if (data.flag) remember(data.flag);
  } catch {
    return;
  }
  state.followups = state.followups.filter((f) => f.id !== flagId);
  renderFollowups();
}

function option(value, text) {
  const node = el("option", "", text);
  node.value = value;
  return node;
}

function fillHistoryChoices() {
  const rooms = $("history-room");
  const chosen = rooms.value;
  rooms.replaceChildren(option("", "Any room"), ...[...roomTitles()].map(([id, title]) => option(id, title)));
  rooms.value = chosen;
}

function fillFixedChoices() {
  $("history-category").append(...Object.entries(CATEGORY_WORDS).map(([id, words]) => option(id, words)));
  $("history-outcome").append(...OUTCOMES.map((id) => option(id, outcomeWords(id))));
}

/** A date field's day in the volunteer's own time zone, as milliseconds: its start, or the
 * start of the next day (an "until" day is included whole). */
function dayMs(value, next = false) {
  if (!value) return "";
  const [year, month, day] = value.split("-").map(Number);
  return String(new Date(year, month - 1, day + (next ? 1 : 0)).getTime());
}

async function searchHistory(event) {
  event.preventDefault();
  const query = {
    room: $("history-room").value,
    category: $("history-category").value,
    outcome: $("history-outcome").value,
    from_ms: dayMs($("history-from").value),
    to_ms: dayMs($("history-to").value, true),
  };
  for (const key of Object.keys(query)) if (!query[key]) delete query[key];
  $("history-status").textContent = "Searching…";
  let data;
  try {
    data = await api.searchCases(query);
  } catch (failure) {
    $("history-status").textContent = `The search didn't work: ${failure.message}`;
    return;
  }
  const cases = Array.isArray(data.cases) ? data.cases : [];
  const rows = cases.map((flag) => {
    state.known.set(flag.id, flag);
    const tr = el("tr");
    tr.dataset.flag = flag.id;
    const open = el("button", "btn btn-quiet", "Open");
    open.type = "button";
    open.setAttribute("aria-label", `Open the case about ${flag.name}`);
    open.addEventListener("click", () => openFlag(flag.id));
    const cell = el("td");
    cell.append(open);
    tr.append(
      el("td", "", fullTime(flag.resolved_ms)),
      el("td", "", cap(flag.severity)),
      el("td", "", roomTitle(flag.room)),
      el("td", "", flag.name),
      el("td", "", categoryWords(flag.categories)),
      el("td", "", outcomeWords(flag.outcome)),
      cell,
    );
    return tr;
  });
  $("history-body").replaceChildren(...rows);
  const more = cases.length >= (data.limit ?? Infinity) ? ` (the newest ${cases.length}; narrow the dates to see older ones)` : "";
  $("history-status").textContent = cases.length
    ? `${cases.length} resolved case${cases.length > 1 ? "s" : ""} found${more}.`
    : "No resolved cases match.";
}

async function takeNext() {
  $("queue-status").textContent = "";
  try {
    const data = await api.next();
    if (!data.flag) {
      $("queue-status").textContent = "Nothing is waiting for a volunteer right now.";
      return;
    }
    remember(data.flag);
    showCase(data.flag);
    status(DONE.claim);
  } catch (failure) {
    $("queue-status").textContent = `Couldn't take one: ${failure.message}`;
  }
}

// ---------- duty and audit ----------

async function loadDuty() {
  if (state.me === null) return; // signed out meanwhile
  let data;
  try {
    data = await api.duty();
  } catch {
    return;
  }
  const names = Array.isArray(data.on_duty) ? [...data.on_duty] : [];
  // Our own live socket puts us on duty; shared presence says so a moment later. Say it now.
  if (state.socket?.ready && !names.includes(state.me)) names.push(state.me);
  names.sort();
  const holding = data.holding && typeof data.holding === "object" ? data.holding : {};
  const counts = {};
  for (const owner of Object.values(holding)) counts[owner] = (counts[owner] ?? 0) + 1;
  const items = names.map((name) => {
    const li = el("li", "", name === state.me ? `${name} (you)` : name);
    li.dataset.name = name;
    if (counts[name]) li.append(el("span", "small", ` · holds ${counts[name]} case${counts[name] > 1 ? "s" : ""}`));
    return li;
  });
  if (!items.length) items.push(el("li", "small", "Nobody is on duty right now."));
  $("duty-list").replaceChildren(...items);
  $("on-duty").textContent = `On duty: ${names.length}`;
}

let responseTimer = null;

function loadResponseSoon() {
  clearTimeout(responseTimer);
  responseTimer = setTimeout(loadResponse, 500);
}

/** Time to a human over the last day, by severity; also the targets the queue marks. */
async function loadResponse() {
  if (state.me === null) return; // signed out meanwhile
  let data;
  try {
    data = await api.response();
  } catch {
    return;
  }
  const rows = (Array.isArray(data.severities) ? data.severities : []).map((row) => {
    state.targets[row.severity] = row.target_s;
    const tr = el("tr");
    tr.dataset.severity = row.severity;
    const waiting = row.waiting
      ? `${row.waiting} (longest ${duration(row.longest_wait_s)})`
      : "none";
    const late = row.claimed_late + row.waiting_late;
    const lateCell = el("td", "", late ? `${late} of ${row.flags}` : "none");
    lateCell.dataset.late = String(late > 0);
    tr.append(
      el("td", "", cap(row.severity)),
      el("td", "", duration(row.target_s)),
      el("td", "", waiting),
      el("td", "", spread(row.claim_median_s, row.claim_p90_s, row.claimed)),
      el("td", "", spread(row.words_median_s, row.words_p90_s, row.answered)),
      lateCell,
    );
    return tr;
  });
  $("response-body").replaceChildren(...rows);
  renderQueue();
}

function spread(median, p90, count) {
  if (!count) return "no cases yet";
  return `${duration(median)} (${duration(p90)}), ${count} case${count > 1 ? "s" : ""}`;
}

async function loadAudit() {
  if (state.me === null) return; // signed out meanwhile
  let data;
  try {
    data = await api.audit();
  } catch {
    return;
  }
  const rows = (Array.isArray(data.entries) ? data.entries : []).slice(0, 100).map((entry) => {
    const tr = el("tr");
    const when = el("td", "", fullTime(entry.at_ms));
    const why = [entry.reason, entry.detail_text].filter(Boolean).join("; ");
    tr.append(when, el("td", "", entry.moderator), el("td", "", entry.action_text ?? ""));
    tr.append(el("td", "", entry.subject ?? ""), el("td", "", why));
    return tr;
  });
  $("audit-body").replaceChildren(...rows);
}

function cap(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

// ---------- wiring ----------

async function boot() {
  const token = takeLinkToken();
  if (token) {
    try {
      const data = await api.redeemLink(token);
      startDashboard(data.name, data.role);
      return;
    } catch {
      // fall through: perhaps already signed in; else say the link is spent
    }
  }
  try {
    const data = await api.me();
    startDashboard(data.name, data.role);
  } catch {
    showSignIn(token ? "This sign-in link was already used or has expired. Sign in with a name and password, or restart Harbor for a new link." : "");
  }
}

function wire() {
  setupAlerts(openFlag);
  setupConfirm();
  setupRota();
  setupMeetings();
  setupCheckins(() => state.socket);
  whenSignedOut(() => {
    if (state.me !== null) showSignIn("Your session ended. Please sign in again.");
  });
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("queue").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-flag]");
    if (button) openFlag(button.dataset.flag);
  });
  $("take-next").addEventListener("click", takeNext);
  $("case-back").addEventListener("click", backToQueue);
  $("case-toggle").addEventListener("click", () => {
    const flag = state.caseFlag;
    if (!flag) return;
    const open = $("case-thread").hidden;
    if (open) state.opened.add(flag.id);
    else state.opened.delete(flag.id);
    setOpen(open);
  });
  $("case").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (!button) return;
    const action = button.dataset.act;
    if (action === "checkin") checkin();
    else if (action === "escalate") act(action, { note: $("resolve-note").value.trim() });
    else act(action);
  });
  $("resolve-form").addEventListener("submit", resolve);
  $("decide-form").addEventListener("submit", decide);
  $("warn-form").addEventListener("submit", warn);
  $("sanction-form").addEventListener("submit", sanction);
  $("audit-refresh").addEventListener("click", loadAudit);
  $("note-form").addEventListener("submit", addNote);
  $("handover-form").addEventListener("submit", addHandover);
  $("history-form").addEventListener("submit", searchHistory);
  $("checkin-join").addEventListener("click", joinCaseCheckin);
  whenCheckinClosed((flagId) => {
    if (state.caseFlag?.id === flagId) showCaseCheckin(state.caseFlag);
  });
  fillFixedChoices();
  document.body.dataset.caseOpen = "false";
  $("no-js").hidden = true;
  boot();
}

wire();
