// Harbor's chat page: welcome → room list → a room, over one reconnecting WebSocket.
//
// Promises kept here (docs/protocol.md): every message typed is either shown as stored (acked),
// visibly still sending, or visibly "not sent — retry"; never dropped without a word. After any
// reconnect each room is re-joined with `since` + `epoch`, unacked messages are resent with the
// same client_id, and messages are de-duplicated by id so none is shown twice.

import { HarborSocket, socketUrl } from "../shared/socket.js";
import { closeHelp, helpIsOpen, onHelpToggle, openHelp, setupHelp } from "../shared/help.js";
import { REGION_NAMES } from "../shared/regions.js";
import { chosenRegion } from "../shared/resources.js";
import { clearStoredTraces, onQuickExit, setupQuickExit } from "../shared/quickexit.js";
import { CHECKIN_ADDRESS, pathForRoom, roomFromPath } from "./address.js";
import { forgetAppeal, restoreAppeal, showDecision, showSanction } from "./appeal.js";
import { expectedText } from "./expected.js";
import { forgetInvite, loadInvite, saveInvite } from "./checkin.js";
import * as controls from "./controls.js";
import { DailyThread } from "./daily.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { Follower } from "./follow.js";
import { MeetingPanel } from "./meeting.js";
import { MilestonePanel } from "./milestone-panel.js";
import { DEFAULT_PACE, SendPace, paceFrom, slowDownText } from "./pace.js";
import * as render from "./render.js";
import { STEPS, URGE_MS, clockText, loadUrge, saveUrge } from "./urge.js";

const MAX_CHARS = 2000; // the server's HARBOR_MAX_TEXT_CHARS default, counted in code points
const ROOMS_REFRESH_MS = 15_000;
const JOIN_RETRY_MS = 2_000;
const STORE = { token: "harbor.token", accepted: "harbor.accepted.v1" };
const STILL_SENDING =
  "Your last messages are still on their way. This one stays in the box: send it once they're through.";
const GONE_NOTICE = "Some older messages are no longer available.";
// A volunteer's private check-in room (docs/protocol.md `checkin`): not in the catalog, so the
// page supplies its title and the words under it.
const CHECKIN_INVITE = "A volunteer moderator would like to check in with you.";
const CHECKIN_ROOM = {
  title: "Private check-in",
  description: "Just you and a volunteer moderator.",
  guidelines: "Only you and Harbor's volunteer moderators can read this room.",
  count: 0,
};
const FAILURE_REASONS = {
  muted: "A moderator paused your messages for a while.",
  text_too_long: "This message is too long.",
  empty_text: "This message is empty.",
  dropped: "The connection dropped each time this was sent.",
  floor_only: "Cross-talk is off: only the person sharing posts now. Raise your hand to share.",
};
// A message in flight when the connection dropped is sent again after the re-join; after this
// many drops in a row it is marked not sent instead, so nothing is resent in a loop.
const MAX_DROPS_IN_FLIGHT = 3;
// Refusals a report can get (they carry no client_id; the server answers in order).
const REPORT_REFUSALS = {
  unsupported: "Reporting isn't available yet. If someone may be in danger, use Get help now.",
  unknown_message: "That message is no longer in the room.",
  not_joined: "Couldn't send the report. Try again in a moment.",
  rate_limited: "Couldn't send the report. Try again in a moment.",
  unavailable: "Couldn't send the report. Try again in a moment.",
  bad_field: "Couldn't send the report.",
  unknown_type: "Reporting isn't available yet. If someone may be in danger, use Get help now.",
};
// Refusals a delete of one's own message can get (answered in order, like reports).
const DELETE_REFUSALS = {
  not_yours: "Only the person who wrote a message can delete it.",
  unknown_message: "That message is no longer in the room.",
  not_joined: "Couldn't delete it. Try again in a moment.",
  rate_limited: "Couldn't delete it. Try again in a moment.",
  unavailable: "Couldn't delete it. Try again in a moment.",
  bad_field: "Couldn't delete it.",
  unknown_type: "Deleting isn't available on this server yet.",
};
// What a removed message says. Only its writer or a moderator can remove one, so the writer
// knows which it was; everyone else is told no more than that it went.
const REMOVED_BY_ME = "You deleted this message.";
const REMOVED_BY_MODERATOR = "A moderator removed this message.";
const REMOVED = "This message was removed.";

const $ = (id) => document.getElementById(id);
const follower = new Follower({
  pill: $("new-messages"),
  active: () => document.body.dataset.view === "room",
});

// localStorage can be unavailable (strict privacy settings): then Harbor just forgets sooner.
const storage = {
  get(key) {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      // nothing to do
    }
  },
};

/** One room's conversation: its message list element and what we need to resume it. */
class Conversation {
  #state = "out";

  get state() {
    return this.#state;
  }

  set state(value) {
    this.#state = value;
    this.list.dataset.state = value;
  }

  constructor(room) {
    this.room = room;
    this.list = render.el("ol", "messages");
    this.list.setAttribute("aria-label", "Messages");
    this.seen = new Set(); // ids shown (or acked) in the current epoch
    this.lastId = null; // highest id *received as a message*: where a resume starts
    this.epoch = null;
    this.state = "out"; // out | joining | in (mirrored on the list for tests and styling)
    this.wanted = false; // the room is open on screen
    this.resuming = false;
    // After a refused send (rate limit, Redis blip) the room's outbox waits until `holdUntil`,
    // then goes one message at a time so the next refusal can't reorder what someone wrote.
    this.holdUntil = 0;
    this.holdTimer = null;
    this.throttled = false;
    this.tries = 0;
  }
}

// Why a welcome gave a new identity instead of the one this device had (`welcome.replaced`).
const REPLACED = {
  expired: "It's been a while, so Harbor gave you a new name",
  revoked: "Your earlier name can't be used any more, so Harbor gave you a new one",
  invalid: "Harbor couldn't recognise your earlier name, so it gave you a new one",
};
const REPLACED_TAIL =
  "Your earlier name and any private check-in are no longer linked to this device.";

const state = {
  name: null,
  author: null, // our writer's tag from the welcome: "mine" is decided by it, never by name
  rooms: new Map(), // id -> room from /api/rooms
  privateRooms: new Map(), // id -> check-in rooms this person joined (listed first)
  current: null, // room id on screen
  conversations: new Map(),
  outbox: new Map(), // client_id -> {clientId, room, text, status, el, boundId}
  requests: [], // reports and deletes waiting for the server's verdict, oldest first
  deleting: new Set(), // "room:id" of our own messages we asked the server to delete
  socket: null,
  roomsTimer: null,
  wantCheckin: null, // opened at /r/checkin: "push" its entry, or "none" (a reload of it)
  exiting: false,
  helpBack: false, // the panel's own history entry is being stepped back over (it closed)
  pace: new SendPace(DEFAULT_PACE, Date.now()), // replaced by each welcome's limits
  paceTimer: null,
  controls: controls.loadControls(), // mutes and the sensitive-content fold, on this device
  milestones: new MilestonePanel((frame) => state.socket?.send(frame) === true),
  daily: new DailyThread({ focusComposer: () => $("text").focus() }),
  volunteer: false, // this page chairs as a volunteer moderator (opened with ?volunteer)
  meeting: null, // the MeetingPanel, made in wire()
  asking: null, // {clientId, room}: an "I'm struggling" request waiting for its ack
  urgeEnd: null, // when the private urge timer ends (ms), or null
  urgeTimer: null,
};

// What the urge timer says about the request the room got (never more than is known).
const ASKED = {
  sending: "Asking the room for support…",
  sent: "The room has your request for support.",
  again: "You asked a moment ago; the room has seen it.",
  failed: "Couldn't post your request. The timer is yours anyway; try again in a moment.",
};

// ---------- views ----------

function show(view) {
  for (const name of ["welcome", "rooms", "room"]) $(`view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
}

function announce(text) {
  const region = $("announcer");
  region.append(render.el("p", "", text));
  while (region.childElementCount > 3) region.firstElementChild.remove();
}

function setConnection(stateName, detail = {}) {
  const node = $("conn");
  node.dataset.state = stateName;
  const texts = {
    connecting: "Connecting…",
    online: "Connected",
    waiting: `Connection lost. Trying again in ${Math.max(1, Math.round((detail.delay ?? 0) / 1000))} s…`,
    ended: "Disconnected. Reload the page to try again.",
    idle: "",
  };
  node.textContent = texts[stateName] ?? "";
  node.hidden = stateName === "idle"; // nothing tried yet (or Forget me): nothing to report
}

// ---------- welcome ----------

function accept() {
  storage.set(STORE.accepted, "1");
  enterLobby();
  $("rooms-heading").focus();
  openAddressedRoom();
}

function enterLobby() {
  show("rooms");
  startSocket();
  loadRooms();
  clearInterval(state.roomsTimer);
  state.roomsTimer = setInterval(() => {
    if (!document.hidden) loadRooms();
  }, ROOMS_REFRESH_MS);
}

// ---------- rooms ----------

async function loadRooms() {
  let data;
  try {
    const response = await fetch("/api/rooms", { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(String(response.status));
    data = await response.json();
  } catch {
    $("rooms-error").hidden = state.rooms.size > 0; // keep showing the list we have
    return;
  }
  $("rooms-error").hidden = true;
  const rooms = Array.isArray(data?.rooms) ? data.rooms : [];
  // Redrawn when the rooms change, or a room's meeting comes or goes; else counts only.
  const now = Date.now();
  const shape = (r) => `${r.id} ${r.meeting?.start_ms ?? ""} ${r.meeting?.start_ms <= now}`;
  const fresh = rooms.map(shape).join("\n");
  const known = [...state.rooms.values()].map(shape).join("\n");
  for (const room of rooms) state.rooms.set(room.id, room);
  if (fresh !== known) {
    state.rooms = new Map(rooms.map((r) => [r.id, r]));
    renderRoomList();
  } else {
    for (const room of rooms) setCount(room.id, room.count);
  }
  if (state.current) showRoomHeader(state.current);
}

function renderRoomList() {
  const cards = [...state.privateRooms.values(), ...state.rooms.values()].map(render.roomCard);
  $("room-list").replaceChildren(...cards);
}

function setCount(roomId, count) {
  const room = state.rooms.get(roomId) ?? state.privateRooms.get(roomId);
  if (room) room.count = count;
  const node = $("room-list").querySelector(`[data-count-for="${CSS.escape(roomId)}"]`);
  if (node) node.textContent = render.countText(count);
  if (state.current === roomId) $("room-count").textContent = render.countText(count);
}

function conversation(roomId) {
  let conv = state.conversations.get(roomId);
  if (!conv) {
    conv = new Conversation(roomId);
    state.conversations.set(roomId, conv);
  }
  return conv;
}

function showRoomHeader(roomId) {
  const room = state.rooms.get(roomId) ?? state.privateRooms.get(roomId);
  $("room-title").textContent = room ? room.title : roomId;
  $("room-guidelines").textContent = room?.guidelines ?? "";
  $("room-count").textContent = render.countText(room?.count ?? 0);
}

/** Open a room on screen. `address`: "push" a history entry for it (a person chose it),
 * or "none" (Back or Forward brought us here, so the entry exists). */
function enterRoom(roomId, address = "push") {
  if (state.current && state.current !== roomId) leaveRoomView();
  const conv = conversation(roomId);
  conv.wanted = true;
  state.current = roomId;
  if (address === "push") {
    history.pushState(
      { harbor: "room", room: roomId, depth: depth() + 1 },
      "",
      withQuery(roomPath(roomId)),
    );
  }
  showRoomHeader(roomId);
  $("messages-host").replaceChildren(conv.list);
  // Topic rooms have a daily check-in; a private check-in with a volunteer does not.
  state.daily.show(conv.list, !/^checkin-/.test(roomId));
  state.meeting.show(roomId, conv.list);
  show("room");
  $("text").value = loadDraft(roomId);
  updateCounter();
  hideSlowDown();
  join(conv);
  follower.watch(conv.list);
  $("text").focus();
}

/** "← Rooms": the same as Back when the list is the entry below (it always is once a room was
 * entered from this page), so Back and the button never disagree. */
function backToRooms() {
  if (history.state?.harbor === "room") {
    history.back(); // popstate shows the list
    return;
  }
  leaveRoomView();
  history.replaceState({ harbor: "list", depth: depth() }, "", withQuery("/"));
}

function leaveRoomView() {
  const roomId = state.current;
  state.current = null;
  state.meeting.show(null, null);
  show("rooms");
  if (!roomId) return;
  saveDraft(roomId, $("text").value);
  $("text").value = "";
  const conv = conversation(roomId);
  conv.wanted = false;
  maybeLeave(conv);
  const button = $("room-list").querySelector(`[data-room="${CSS.escape(roomId)}"]`);
  (button ?? $("rooms-heading")).focus();
}

/** How many history entries this page has added above the one it was opened at: quick exit
 * steps back over them all before it replaces the page, so Back cannot return to Harbor. */
function depth() {
  const value = history.state?.depth;
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** `path` with this page's query kept (a quick exit target given as `?exit=`). */
function withQuery(path) {
  return path + window.location.search;
}

function roomPath(roomId) {
  return pathForRoom(roomId, state.privateRooms.has(roomId));
}

/** Back and Forward: an open help panel closes first; then the room or the list. */
function onHistory(event) {
  if (state.exiting) return;
  const entry = event.state;
  if (state.helpBack) {
    // Our own step back over the closed panel's entry; the view below is the same. A support
    // frame may have opened the panel again meanwhile: it stays open, with a new entry.
    state.helpBack = false;
    if (helpIsOpen()) {
      history.pushState({ ...(entry ?? { harbor: "list" }), panel: true, depth: depth() + 1 }, "");
    }
    return;
  }
  if (!entry?.panel) closeHelp();
  if (document.body.dataset.view === "welcome") return;
  if (entry?.harbor === "room" && typeof entry.room === "string") {
    if (state.current !== entry.room) enterRoom(entry.room, "none");
  } else if (state.current) {
    leaveRoomView();
  }
}

/** The help panel gets its own history entry while open, so Back closes it, not the room. */
function onHelpShown(open) {
  if (state.exiting) return; // quick exit's replace must not race a history step
  if (open && !history.state?.panel) {
    history.pushState({ ...(history.state ?? { harbor: "list" }), panel: true, depth: depth() + 1 }, "");
  } else if (!open && history.state?.panel) {
    state.helpBack = true;
    history.back();
  }
}

/** The room this page's address names, opened over a list entry so Back reaches the list. */
function openAddressedRoom() {
  const named = roomFromPath(window.location.pathname);
  const entry = history.state;
  if (entry?.panel) history.replaceState({ ...entry, panel: false }, ""); // reloaded: it's shut
  if (named !== null && entry?.harbor === "room" && depth() > 0) {
    // A reload of a room this page opened: the list is already the entry below.
    if (named === CHECKIN_ADDRESS) state.wantCheckin = "none";
    else enterRoom(named, "none");
    return;
  }
  history.replaceState({ harbor: "list", depth: 0 }, "", withQuery("/"));
  if (named === null) return;
  if (named === CHECKIN_ADDRESS) {
    state.wantCheckin = "push"; // opened once the welcome says which room is ours
    return;
  }
  enterRoom(named);
}

// ---------- joining and resuming ----------

function join(conv) {
  if (conv.state !== "out" || !state.socket?.ready) return;
  const frame = { type: "join", room: conv.room };
  conv.resuming = conv.lastId !== null && conv.epoch !== null;
  if (conv.resuming) {
    frame.since = conv.lastId;
    frame.epoch = conv.epoch;
  }
  conv.state = "joining";
  state.socket.send(frame);
}

/** A room we left on screen stays joined until its messages are settled (acked or failed). */
function maybeLeave(conv) {
  if (conv.wanted || conv.state !== "in" || unsettled(conv.room).length > 0) return;
  conv.state = "out";
  state.socket.send({ type: "leave", room: conv.room });
}

function onJoined(frame) {
  const conv = state.conversations.get(frame.room);
  if (!conv || conv.state !== "joining") return;
  conv.state = "in";
  const epochChanged = conv.epoch !== null && frame.epoch !== conv.epoch;
  const hadMessages = conv.list.querySelector(".msg") !== null;
  if ((conv.resuming && frame.recovered === false) || (epochChanged && hadMessages)) {
    conv.list.append(render.noticeElement(GONE_NOTICE));
    if (conv.wanted) announce(GONE_NOTICE);
  }
  if (epochChanged) {
    // A new epoch numbers messages afresh: old ids mean nothing now.
    conv.seen.clear();
    conv.lastId = null;
  }
  conv.epoch = frame.epoch;
  for (const message of Array.isArray(frame.history) ? frame.history : []) {
    addMessage(conv, message, false);
  }
  // Messages removed while we were away: history leaves them out and lists their ids.
  for (const id of Array.isArray(frame.hidden) ? frame.hidden : []) {
    if (Number.isInteger(id)) removeMessage(conv, id);
  }
  if (Number.isFinite(frame.count)) setCount(frame.room, frame.count);
  flush(conv.room);
  maybeLeave(conv);
  if (conv.wanted && !conv.resuming) follower.toEnd();
}

// ---------- messages ----------

function addMessage(conv, message, live) {
  if (!Number.isInteger(message.id)) return;
  // lastId advances only here: message frames arrive in id order, acks may overtake them.
  if (conv.lastId === null || message.id > conv.lastId) conv.lastId = message.id;
  // Names can repeat (two people may share one); the writer's tag cannot be chosen or copied.
  const own = typeof state.author === "string" && state.author !== "" &&
    message.author === state.author;
  if (conv.seen.has(message.id)) {
    // Our bubble, acked before the room's copy came: show the badge the copy carries.
    const mine = own ? conv.list.querySelector(`.msg.own[data-id="${message.id}"]`) : null;
    if (mine && message.note !== "held") render.setBadge(mine, message.badge);
    return;
  }
  conv.seen.add(message.id);
  if (own && bindOwn(conv, message)) return;
  const li = render.messageElement(message, { own, subject: own ? null : foldSubject(message) });
  conv.list.append(li);
  if (!own && controls.isMuted(state.controls, message.author)) {
    li.hidden = true; // a muted person's words: never shown, announced or counted as new
    return;
  }
  if (live && conv.wanted && !own) {
    const text = message.text.length > 280 ? `${message.text.slice(0, 280)}…` : message.text;
    announce(`${message.from}: ${text}`);
  }
  if (conv.wanted && live) follower.arrived();
}

/** Our own message came back (live or in resumed history) before its ack: turn the oldest
 * matching "sending…" bubble into it instead of showing the text twice. */
function bindOwn(conv, message) {
  for (const item of state.outbox.values()) {
    if (item.room !== conv.room || item.boundId !== null) continue;
    if (item.status !== "inflight" && item.status !== "queued") continue;
    if (item.text !== message.text) continue;
    item.boundId = message.id;
    render.setDelivered(item.el, message.id, message.ts);
    render.setBadge(item.el, message.badge);
    render.placeById(conv.list, item.el, message.id);
    return true;
  }
  return false;
}

function unsettled(roomId) {
  return [...state.outbox.values()].filter((i) => i.room === roomId && i.status !== "failed");
}

function send() {
  const box = $("text");
  // A lone surrogate (half an emoji, from a cut paste) becomes U+FFFD rather than breaking
  // the frame: the server would mend it the same way.
  const text = (box.value.toWellFormed ? box.value.toWellFormed() : box.value).trim();
  const roomId = state.current;
  if (!roomId || !text || codePoints(text) > MAX_CHARS) return;
  if (!paced(roomId)) return; // the words stay in the box
  const clientId = newClientId();
  const thread = state.daily.take(); // "checkin" when it answers the daily check-in
  const item = {
    clientId,
    room: roomId,
    text,
    thread,
    status: "queued",
    el: render.pendingElement(text, state.name, clientId, thread),
    boundId: null,
    drops: 0,
  };
  state.outbox.set(clientId, item);
  conversation(roomId).list.append(item.el);
  box.value = "";
  saveDraft(roomId, "");
  updateCounter();
  follower.toEnd(); // what I just wrote is always in view
  flush(roomId);
}

/** Whether one more message may join the room's outbox now: never more unsent than the
 * server's burst, never faster than its rate, never while it has asked us to wait. Else say
 * "slow down" with the real wait. */
function paced(roomId) {
  const now = Date.now();
  const conv = conversation(roomId);
  const held = conv.holdUntil - now;
  if (held > 0) return slowDown(held);
  if (unsettled(roomId).length >= state.pace.burst) return slowDown(0, STILL_SENDING);
  const wait = state.pace.take(now);
  if (wait > 0) return slowDown(wait);
  hideSlowDown();
  return true;
}

/** Show the wait, counting down each second, until sending is allowed again (or `text` when
 * the wait is not a known time: earlier messages still on their way). */
function slowDown(waitMs, text = null) {
  const until = Date.now() + waitMs;
  const node = $("pace");
  clearTimeout(state.paceTimer);
  node.hidden = false;
  if (text) {
    node.textContent = text;
    return false;
  }
  const tick = () => {
    const left = until - Date.now();
    if (left <= 0) {
      hideSlowDown();
      return;
    }
    node.textContent = slowDownText(left);
    state.paceTimer = setTimeout(tick, Math.min(1000, left));
  };
  tick();
  return false;
}

function hideSlowDown() {
  clearTimeout(state.paceTimer);
  $("pace").hidden = true;
}

/** Transmit the queued messages of a joined room, oldest first (statuses: queued → inflight →
 * acked; queued again after a drop or a retryable refusal; failed after any other refusal). */
function flush(roomId) {
  const conv = state.conversations.get(roomId);
  if (!conv || conv.state !== "in") return;
  const wait = conv.holdUntil - Date.now();
  if (wait > 0) {
    clearTimeout(conv.holdTimer);
    conv.holdTimer = setTimeout(() => flush(roomId), wait);
    return;
  }
  for (const item of state.outbox.values()) {
    if (item.room !== roomId) continue;
    if (conv.throttled && item.status === "inflight") return;
    if (item.status !== "queued") continue;
    const frame = { type: "send", room: roomId, text: item.text, client_id: item.clientId };
    if (item.thread) frame.thread = item.thread;
    if (!state.socket.send(frame)) return;
    item.status = "inflight";
    if (conv.throttled) return;
  }
}

function onAck(frame) {
  const item = state.outbox.get(frame.client_id);
  if (!item) return;
  state.outbox.delete(item.clientId);
  const conv = conversation(item.room);
  conv.tries = 0;
  if ($("pace").textContent === STILL_SENDING) hideSlowDown(); // room in the outbox again
  // The moderation release may hold a message (no id: nothing was published) or publish a
  // stand-in or a redacted text, and says why in `notice_text`.
  const note = typeof frame.notice_text === "string" && frame.notice_text
    ? frame.notice_text
    : frame.held === true ? "Your message is waiting for a volunteer moderator to look at it." : "";
  if (!Number.isInteger(frame.id)) {
    item.el.classList.remove("pending");
    item.el.classList.add("held");
    render.setNote(item.el, note || "Your message is waiting for a volunteer moderator.");
  } else if (frame.held === true) {
    // The room got a short note in place of these words: the writer keeps their own words in
    // their own bubble, at the note's place, and only the others see the note.
    conv.list.querySelector(`.msg[data-id="${frame.id}"]`)?.remove();
    conv.seen.add(frame.id);
    render.setDelivered(item.el, frame.id, Date.now());
    render.placeById(conv.list, item.el, frame.id);
    render.setNote(item.el, note);
  } else if (item.boundId === null && conv.seen.has(frame.id)) {
    item.el.remove(); // already shown from the room's own copy, as the room sees it
    const copy = conv.list.querySelector(`.msg[data-id="${frame.id}"]`);
    if (copy && note) render.setNote(copy, note);
  } else {
    if (item.boundId === null) {
      conv.seen.add(frame.id);
      render.setDelivered(item.el, frame.id, Date.now());
      render.placeById(conv.list, item.el, frame.id);
    }
    if (note) render.setNote(item.el, note);
  }
  if (!unsettled(conv.room).some((i) => i.status === "queued")) conv.throttled = false;
  flush(conv.room);
  maybeLeave(conv);
}

/** A refused send: wait and resend when the server says so, else offer a retry. */
function onSendRefused(item, frame) {
  if (frame.code === "rate_limited" || frame.retryable === true || frame.code === "not_joined") {
    const conv = conversation(item.room);
    item.status = "queued";
    conv.throttled = true;
    conv.tries += 1;
    const wait = Number.isFinite(frame.retry_after_ms)
      ? frame.retry_after_ms
      : Math.min(30_000, 1000 * 2 ** Math.min(conv.tries, 5));
    conv.holdUntil = Math.max(conv.holdUntil, Date.now() + wait);
    if (frame.code === "rate_limited" && conv.room === state.current) slowDown(wait);
    if (frame.code === "not_joined") {
      conv.state = "out";
      join(conv);
    }
    flush(item.room);
    return;
  }
  item.status = "failed";
  render.setPendingState(item.el, "failed", FAILURE_REASONS[frame.code] ?? "");
  announce("A message was not sent. You can retry it.");
  maybeLeave(conversation(item.room));
}

function retry(li) {
  const item = state.outbox.get(li.dataset.clientId);
  if (!item || item.status !== "failed") return;
  item.status = "queued";
  item.drops = 0;
  render.setPendingState(item.el, "sending");
  const conv = conversation(item.room);
  if (conv.state === "out") join(conv);
  flush(item.room);
}

// ---------- reports ----------

function askReport(li) {
  render.askReport(li, controls.REPORT_REASONS).focus();
}

function report(li, reason) {
  const id = Number(li.dataset.id);
  const roomId = state.current;
  const status = li.querySelector(".msg-status");
  const button = li.querySelector(".msg-report");
  if (!roomId || !Number.isInteger(id) || !button) return;
  render.cancelAsk(li);
  if (!state.socket?.send({ type: "report", room: roomId, id, reason })) {
    status.textContent = "Not connected. Try again in a moment.";
    return;
  }
  button.disabled = true;
  status.textContent = "Reporting…";
  const entry = { refused: null };
  state.requests.push(entry);
  // The server answers in order: a pong with no refusal before it means the report was taken.
  state.socket.ping((answered) => {
    state.requests.splice(state.requests.indexOf(entry), 1);
    if (!answered) {
      status.textContent = "Couldn't send the report. Try again in a moment.";
      button.disabled = false;
    } else if (entry.refused) {
      status.textContent = REPORT_REFUSALS[entry.refused];
      button.disabled = entry.refused === "unsupported" || entry.refused === "unknown_message";
    } else {
      status.textContent = reason === controls.REPORT_REASONS[0]
        ? "Thanks, reported. A volunteer will look. Get help now lists crisis lines if it can't wait."
        : "Thanks, reported.";
    }
    button.focus();
  });
}

// ---------- "I'm struggling" ----------

/** One tap: a gentle request for support in the room, and the private urge timer. */
function askForSupport() {
  const roomId = state.current;
  if (!roomId) return;
  const clientId = newClientId();
  const sent = conversation(roomId).state === "in" &&
    state.socket?.send({ type: "struggling", room: roomId, client_id: clientId });
  state.asking = sent ? { clientId, room: roomId } : null;
  startUrge(Date.now() + URGE_MS);
  $("urge-status").textContent = sent ? ASKED.sending : ASKED.failed;
  $("urge-title").focus();
}

function onAsked(frame) {
  state.asking = null;
  const status = frame.type === "ack"
    ? ASKED.sent
    : frame.code === "rate_limited" ? ASKED.again : ASKED.failed;
  $("urge-status").textContent = status;
  if (frame.type === "ack") follower.toEnd();
}

function startUrge(end) {
  state.urgeEnd = end;
  saveUrge(end);
  $("urge-steps").replaceChildren(...STEPS.map((step) => render.el("li", "", step)));
  $("urge").hidden = false;
  // The steps open where there is room; on a phone the conversation keeps the screen.
  $("urge-more").open = window.innerWidth >= 600;
  $("urge-again").hidden = true;
  $("urge-lead").textContent =
    "Urges rise and fall like a wave. Stay with this for fifteen minutes:";
  tickUrge();
}

function tickUrge() {
  clearTimeout(state.urgeTimer);
  if (state.urgeEnd === null) return;
  const left = state.urgeEnd - Date.now();
  $("urge-clock").textContent = clockText(left);
  if (left <= 0) {
    $("urge-lead").textContent =
      "Fifteen minutes. How is the urge now? You can start another timer, or tell the room.";
    $("urge-again").hidden = false;
    saveUrge(null);
    return;
  }
  state.urgeTimer = setTimeout(tickUrge, Math.min(1000, left));
}

function stopUrge() {
  clearTimeout(state.urgeTimer);
  state.urgeEnd = null;
  saveUrge(null);
  $("urge").hidden = true;
  $("urge-status").textContent = "";
  $("text").focus();
}

/** After a reload: a timer still running in this tab goes on. */
function restoreUrge() {
  const end = loadUrge(Date.now());
  if (end !== null) startUrge(end);
}

// ---------- each person's own controls ----------

/** The subject to fold a message under, when this reader chose folding and it has one. */
function foldSubject(message) {
  return controls.folds(state.controls, message) ? controls.SUBJECTS[message.sensitive] : null;
}

function askMute(li) {
  const name = li.querySelector(".msg-from")?.textContent ?? "this person";
  render.askMute(li, name).focus();
}

function muteWriter(li) {
  const author = li.dataset.author;
  if (!author) return;
  const name = li.querySelector(".msg-from")?.textContent ?? "";
  state.controls = controls.mute(state.controls, author, name);
  render.cancelAsk(li);
  applyControls();
  announce(`You muted ${name}. Your settings can undo it.`);
  $("text").focus();
}

/** Show every message as this reader's controls say: muted writers hidden, subjects folded
 * (a message someone chose to show stays shown until folding is turned off and on). */
function applyControls() {
  for (const conv of state.conversations.values()) {
    for (const li of conv.list.querySelectorAll(".msg[data-author]:not(.own)")) {
      li.hidden = controls.isMuted(state.controls, li.dataset.author);
      const subject = foldSubject({ sensitive: li.dataset.sensitive });
      if (subject && li.dataset.shown !== "1") render.fold(li, subject);
      if (!subject) {
        render.unfold(li);
        delete li.dataset.shown;
      }
    }
  }
  renderControls();
}

function showFolded(li) {
  li.dataset.shown = "1";
  render.unfold(li);
  const text = li.querySelector(".msg-text");
  text.tabIndex = -1; // the words take the focus the vanished "Show" had
  text.focus();
}

function renderControls() {
  $("fold-sensitive").checked = state.controls.fold;
  const items = state.controls.mutes.map((m) => {
    const item = render.el("li", "muted-person");
    item.append(render.el("span", "", m.name || "Someone"));
    const undo = render.el("button", "link-button", "Unmute");
    undo.type = "button";
    undo.dataset.author = m.author;
    undo.setAttribute("aria-label", `Unmute ${m.name || "this person"}`);
    item.append(undo);
    return item;
  });
  $("muted-list").replaceChildren(...items);
  $("muted-none").hidden = items.length > 0;
}

function openControls() {
  renderControls();
  $("controls-panel").showModal();
}

// ---------- deleting our own messages ----------

function askDelete(li) {
  render.askDelete(li).focus();
}

function keep(li) {
  render.cancelDelete(li);
  li.querySelector(".msg-delete")?.focus();
}

function deleteOwn(li) {
  const id = Number(li.dataset.id);
  const roomId = state.current;
  const status = li.querySelector(".msg-status");
  if (!roomId || !Number.isInteger(id)) return;
  li.querySelector(".msg-ask")?.remove();
  if (!state.socket?.send({ type: "delete", room: roomId, id })) {
    status.textContent = "Not connected. Try again in a moment.";
    render.cancelDelete(li);
    return;
  }
  const key = `${roomId}:${id}`;
  state.deleting.add(key);
  status.textContent = "Deleting…";
  const entry = { refused: null };
  state.requests.push(entry);
  // As with reports: a pong with no refusal before it means the message is gone for everyone.
  state.socket.ping((answered) => {
    state.requests.splice(state.requests.indexOf(entry), 1);
    if (!answered || entry.refused) {
      state.deleting.delete(key);
      status.textContent = answered
        ? DELETE_REFUSALS[entry.refused]
        : "Couldn't delete it. Try again in a moment.";
      if (!entry.refused || !["not_yours", "unknown_message"].includes(entry.refused)) {
        render.cancelDelete(li);
      }
    } else {
      render.setRemoved(li, REMOVED_BY_ME);
    }
  });
}

/** A message left the room: say as much as this viewer can truly know about who took it. */
function removeMessage(conv, id) {
  const li = conv.list.querySelector(`.msg[data-id="${id}"]`);
  if (!li || li.classList.contains("removed")) return;
  const own = li.classList.contains("own");
  const text = state.deleting.has(`${conv.room}:${id}`)
    ? REMOVED_BY_ME
    : own
      ? REMOVED_BY_MODERATOR
      : REMOVED;
  render.setRemoved(li, text);
}

// ---------- frames ----------

function onFrame(frame) {
  switch (frame.type) {
    case "joined":
      onJoined(frame);
      break;
    case "message": {
      const conv = state.conversations.get(frame.room);
      if (conv && conv.state === "in") addMessage(conv, frame, true);
      break;
    }
    case "ack":
      if (state.asking?.clientId === frame.client_id) onAsked(frame);
      else onAck(frame);
      break;
    case "meeting":
      state.meeting.onMeeting(frame);
      break;
    case "meeting_reaction":
      state.meeting.onReaction(frame);
      break;
    case "presence":
      if (Number.isFinite(frame.count)) setCount(frame.room, frame.count);
      break;
    case "error":
      onError(frame);
      break;
    case "duty":
      showDuty(frame.on_duty === true, frame.next_volunteer_ms);
      break;
    case "support":
      openHelp({
        message: [frame.message, expectedText(frame.next_volunteer_ms)].filter(Boolean).join(" "),
        resources: frame.resources,
      });
      if (typeof frame.on_duty === "boolean") showDuty(frame.on_duty, frame.next_volunteer_ms);
      break;
    case "hidden": {
      const conv = state.conversations.get(frame.room);
      if (conv && Number.isInteger(frame.id)) removeMessage(conv, frame.id);
      break;
    }
    case "attention":
    case "warning":
    case "muted":
      // Direct notices from a volunteer moderator (the moderation release).
      showBanner(frame.message ?? frame.text);
      break;
    case "sanction":
      showSanction(frame); // what, why, until when, and the one appeal (./appeal.js)
      break;
    case "appeal_decided":
      showDecision(frame);
      break;
    case "checkin": {
      // A volunteer invites this person to their own check-in room: offered, never forced.
      const message = typeof frame.message === "string" && frame.message.trim()
        ? frame.message
        : CHECKIN_INVITE;
      showBanner(message);
      if (offerCheckin(frame.room)) {
        saveInvite({ room: frame.room, message, joined: false, dismissed: false });
      }
      break;
    }
    default:
      break; // "left", and frames a newer server may add
  }
}

function onError(frame) {
  if (typeof frame.action === "string") {
    state.meeting.onError(frame); // a meeting action the meeting's rules refused
    return;
  }
  if (state.asking && state.asking.clientId === frame.client_id) {
    onAsked(frame);
    return;
  }
  const item = typeof frame.client_id === "string" ? state.outbox.get(frame.client_id) : null;
  if (item) {
    onSendRefused(item, frame);
    return;
  }
  const joining = [...state.conversations.values()].find((c) => c.state === "joining");
  const joinCode = ["unavailable", "already_joined", "unknown_room", "too_many_rooms"];
  const requestCode = frame.code in REPORT_REFUSALS || frame.code in DELETE_REFUSALS;
  if (requestCode && !(joining && joinCode.includes(frame.code))) {
    const pending = state.requests.find((r) => !r.refused);
    if (pending) {
      pending.refused = frame.code;
      return;
    }
  }
  if (!joining) return;
  if (frame.code === "unavailable") {
    joining.state = "out";
    setTimeout(() => join(joining), JOIN_RETRY_MS);
  } else if (frame.code === "already_joined") {
    joining.state = "in";
  } else if (frame.code === "unknown_room" || frame.code === "too_many_rooms") {
    joining.state = "out";
    joining.list.append(render.noticeElement("This room can't be opened right now."));
  }
}

function showBanner(text) {
  if (typeof text !== "string" || !text.trim()) return;
  $("banner-text").textContent = text;
  $("banner-join").hidden = true; // only a check-in invitation offers to join
  $("banner").hidden = false;
}

function offerCheckin(roomId) {
  if (typeof roomId !== "string" || !/^checkin-[a-z0-9-]+$/.test(roomId)) return false;
  const join = $("banner-join");
  join.dataset.room = roomId;
  join.hidden = false;
  announce("A volunteer moderator invites you to a private check-in.");
  return true;
}

/** After a reload: the invitation this tab had, for this identity's own check-in room only. */
function restoreInvite(welcome) {
  const wanted = state.wantCheckin;
  state.wantCheckin = null;
  let invite = loadInvite();
  if (invite && invite.room !== welcome.checkin_room) {
    forgetInvite(); // made for a name this device no longer has
    invite = null;
  }
  if (invite?.joined) {
    addCheckinRoom(invite.room);
    if (wanted && !state.current) {
      enterRoom(invite.room, wanted);
      return;
    }
  } else if (invite && !invite.dismissed && $("banner").hidden) {
    showBanner(invite.message);
    offerCheckin(invite.room);
  }
  if (wanted === "none" && !state.current) {
    history.replaceState({ harbor: "list", depth: depth() }, "", withQuery("/")); // no check-in
  }
}

function addCheckinRoom(roomId) {
  if (state.privateRooms.has(roomId)) return;
  state.privateRooms.set(roomId, { id: roomId, ...CHECKIN_ROOM });
  renderRoomList();
}

/** Join the check-in: it becomes a room like the others (listed first while this page lives). */
function joinCheckin() {
  const roomId = $("banner-join").dataset.room;
  $("banner").hidden = true;
  if (!roomId) return;
  const invite = loadInvite();
  if (invite?.room === roomId) saveInvite({ ...invite, joined: true });
  addCheckinRoom(roomId);
  if (state.current !== roomId) enterRoom(roomId);
}

function showDuty(onDuty, nextMs) {
  const node = $("duty");
  const expected = onDuty ? "" : expectedText(nextMs);
  node.textContent = onDuty
    ? "Moderators: a volunteer is on duty"
    : `Moderators: none on duty right now${expected ? `. ${expected}` : ""}`;
  node.dataset.onDuty = String(onDuty);
  node.hidden = false;
}

// ---------- connection ----------

function startSocket() {
  if (state.socket) return;
  state.socket = new HarborSocket({
    url: socketUrl(),
    hello: () => {
      // A volunteer moderator chairing a meeting opens the page with ?volunteer: their
      // session cookie rides on the handshake, and no member token is used or kept.
      if (state.volunteer) return { type: "hello", moderator: true };
      const token = storage.get(STORE.token);
      const hello = token ? { type: "hello", token } : { type: "hello" };
      // The region the help lines are shown for: a support frame lists its lines first.
      const region = chosenRegion(Object.keys(REGION_NAMES));
      return region ? { ...hello, region } : hello;
    },
    onReady: (welcome) => {
      // Every welcome brings a fresh token: keeping it is what keeps an active person's name.
      if (!state.volunteer) storage.set(STORE.token, welcome.token);
      state.pace = new SendPace(paceFrom(welcome), Date.now()); // a new connection, a new bucket
      if (typeof welcome.on_duty === "boolean") showDuty(welcome.on_duty, welcome.next_volunteer_ms);
      state.name = welcome.name;
      state.author = typeof welcome.author === "string" ? welcome.author : null;
      $("my-name").textContent = welcome.name;
      $("whoami").hidden = false;
      if (Object.hasOwn(REPLACED, String(welcome.replaced))) newIdentity(welcome);
      restoreInvite(welcome);
      state.milestones.welcomed(); // a new connection carries no badge until told
      for (const conv of state.conversations.values()) {
        conv.state = "out";
        if (conv.wanted || unsettled(conv.room).length > 0) join(conv);
      }
    },
    onDown: () => {
      for (const conv of state.conversations.values()) conv.state = "out";
      for (const item of state.outbox.values()) {
        if (item.status !== "inflight") continue;
        item.drops += 1;
        if (item.drops >= MAX_DROPS_IN_FLIGHT) {
          item.status = "failed";
          render.setPendingState(item.el, "failed", FAILURE_REASONS.dropped);
        } else {
          item.status = "queued"; // resent after the re-join
        }
      }
    },
    onFrame,
    onStatus: setConnection,
  });
  state.socket.start();
}

/** The token this device had no longer opens its identity (unused too long, retired by a ban,
 * or from a server that forgot it): say so plainly, and drop what belonged to the old one. */
function newIdentity(welcome) {
  const text = `${REPLACED[welcome.replaced]}: ${welcome.name}. ${REPLACED_TAIL}`;
  for (const roomId of state.privateRooms.keys()) {
    if (state.current === roomId) {
      leaveRoomView();
      history.replaceState({ harbor: "list", depth: depth() }, "", withQuery("/"));
    }
    state.conversations.delete(roomId);
    for (const [clientId, item] of state.outbox) {
      if (item.room === roomId) state.outbox.delete(clientId);
    }
  }
  forgetInvite();
  if (state.privateRooms.size > 0) {
    state.privateRooms.clear();
    renderRoomList();
  }
  showBanner(text);
  announce(text);
}

function stopSocket() {
  state.socket?.stop();
  state.socket = null;
  setConnection("idle");
}

/** Forget me: a new anonymous person from the next hello on, and the guidelines shown again. */
function forgetMe() {
  stopSocket();
  clearStoredTraces(); // the token, the accepted guidelines, drafts: all of it
  clearInterval(state.roomsTimer);
  for (const conv of state.conversations.values()) clearTimeout(conv.holdTimer);
  state.outbox.clear();
  state.conversations.clear();
  state.privateRooms.clear();
  renderRoomList();
  state.requests = [];
  state.deleting.clear();
  state.controls = controls.loadControls(); // storage was cleared: no mutes, no folding
  state.milestones.forget();
  state.meeting.forget();
  forgetAppeal();
  state.asking = null;
  stopUrge();
  state.current = null;
  state.name = null;
  state.author = null;
  $("text").value = "";
  history.replaceState({ harbor: "list", depth: depth() }, "", withQuery("/"));
  $("messages-host").replaceChildren();
  $("my-name").textContent = "";
  $("whoami").hidden = true;
  $("duty").hidden = true;
  show("welcome");
  $("welcome-heading").focus();
  announce("Harbor forgot you on this device.");
}

// ---------- composer ----------

function codePoints(text) {
  let count = 0;
  for (const _ of text) count += 1; // the server counts code points, not UTF-16 units
  return count;
}

function updateCounter() {
  const length = codePoints($("text").value);
  const counter = $("counter");
  const over = length > MAX_CHARS;
  counter.textContent = over
    ? `${length} / ${MAX_CHARS}: ${length - MAX_CHARS} too many`
    : `${length} / ${MAX_CHARS}`;
  counter.classList.toggle("over", over);
  $("send").disabled = over || $("text").value.trim() === "";
}

function newClientId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues works everywhere.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------- wiring ----------

function wire() {
  setupHelp();
  setupQuickExit();
  onQuickExit(() => {
    state.exiting = true;
    clearTimeout(state.urgeTimer);
    state.milestones.forget();
    stopSocket();
    clearInterval(state.roomsTimer);
    state.conversations.clear();
    state.outbox.clear();
  });
  $("accept").addEventListener("click", accept);
  $("forget").addEventListener("click", forgetMe);
  $("back").addEventListener("click", backToRooms);
  $("banner-close").addEventListener("click", () => {
    $("banner").hidden = true;
    const invite = loadInvite();
    if (invite && !$("banner-join").hidden) saveInvite({ ...invite, dismissed: true });
  });
  $("banner-join").addEventListener("click", joinCheckin);
  $("struggling").addEventListener("click", askForSupport);
  $("urge-stop").addEventListener("click", stopUrge);
  $("urge-again").addEventListener("click", () => startUrge(Date.now() + URGE_MS));
  restoreUrge();
  state.milestones.wire();
  state.volunteer = new URLSearchParams(window.location.search).has("volunteer");
  state.meeting = new MeetingPanel({
    send: (frame) => state.socket?.send(frame) === true,
    me: () => state.author,
    volunteer: () => state.volunteer,
    announce,
  });
  state.meeting.wire();
  state.daily.wire();
  for (const id of ["open-controls", "room-controls"]) {
    $(id).addEventListener("click", openControls);
  }
  $("controls-panel").querySelector("[data-close]").addEventListener("click", () => {
    $("controls-panel").close();
  });
  $("fold-sensitive").addEventListener("change", (event) => {
    state.controls = controls.setFold(state.controls, event.target.checked);
    applyControls();
  });
  $("muted-list").addEventListener("click", (event) => {
    const undo = event.target.closest("button[data-author]");
    if (!undo) return;
    state.controls = controls.unmute(state.controls, undo.dataset.author);
    applyControls();
    $("fold-sensitive").focus();
  });
  $("room-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-room]");
    if (button) enterRoom(button.dataset.room);
  });
  $("messages-host").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const li = button?.closest("li");
    if (!li) return;
    if (button.dataset.action === "report") askReport(li);
    if (button.dataset.action === "report-reason") report(li, button.dataset.reason);
    if (button.dataset.action === "mute") askMute(li);
    if (button.dataset.action === "confirm-mute") muteWriter(li);
    if (button.dataset.action === "cancel-ask") render.cancelAsk(li);
    if (button.dataset.action === "show") showFolded(li);
    if (button.dataset.action === "retry") retry(li);
    if (button.dataset.action === "delete") askDelete(li);
    if (button.dataset.action === "confirm-delete") deleteOwn(li);
    if (button.dataset.action === "keep") keep(li);
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("text").addEventListener("input", () => {
    updateCounter();
    if (state.current) saveDraft(state.current, $("text").value);
  });
  window.addEventListener("popstate", onHistory);
  onHelpToggle(onHelpShown);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  $("no-js").hidden = true;
  restoreAppeal(); // a kept sanction notice, as its appeal stands now (./appeal.js)
  if (storage.get(STORE.accepted) === "1") {
    enterLobby();
    openAddressedRoom();
  } else {
    show("welcome");
  }
}

wire();
