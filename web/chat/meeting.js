// A meeting in the room on screen (docs/protocol.md, Meetings): the format as it goes, who has
// the floor (highlighted, with the time left when there is a turn limit), the share queue, quiet
// support while cross-talk is off, "just listening", a greeting for late-comers, and the chair's
// controls for whoever holds the chair. Every `meeting` frame is whole: the panel is redrawn
// from the latest one. The server enforces the rules; this only shows them and asks.

import { el } from "./render.js";

const $ = (id) => document.getElementById(id);
// Quiet support (the server's REACTIONS), in words: clearer than pictures, and shown the same
// on every device whatever its fonts.
export const REACTIONS = {
  heart: "With you",
  hug: "Hug",
  strength: "Strength",
  thanks: "Thank you",
  me_too: "Me too",
};
// What the person sharing is told, gently, when their time is nearly up (the server says when).
const WRAP_UP = "Your time is nearly up. Take a moment to finish your thought.";
// A late-comer: someone whose first look at a chaired meeting comes this long after its start.
const LATE_MS = 60_000;
// What a refused meeting action says (error frames carry `action`).
const REFUSED = {
  not_chair: "Only the chair can do that.",
  no_meeting: "There's no meeting in this room right now.",
  not_in_queue: "That person hasn't raised a hand.",
  queue_empty: "Nobody has raised a hand yet.",
  queue_full: "The share queue is full. Try again in a little while.",
  not_sharing: "You don't have the floor.",
  meeting_ended: "This meeting has ended.",
  rate_limited: "A little slower, please.",
  unavailable: "That didn't go through. Try again in a moment.",
};

function clock(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

const hours = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

function button(text, onClick, className = "btn btn-quiet") {
  const node = el("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

export class MeetingPanel {
  /**
   * @param {object} options
   * @param {(frame: object) => boolean} options.send  sends one frame if connected
   * @param {() => string|null} options.me  our writer's tag
   * @param {() => boolean} options.volunteer  whether this page is a volunteer moderator's
   * @param {(text: string) => void} options.announce
   */
  constructor({ send, me, volunteer, announce }) {
    this.send = send;
    this.me = me;
    this.volunteer = volunteer;
    this.announce = announce;
    this.frames = new Map(); // room -> the latest meeting frame
    this.seen = new Set(); // occurrences this page has looked at (a greeting comes once)
    this.room = null;
    this.list = null;
    this.timer = null;
    this.endTimer = null;
    this.reactions = {};
    this.observer = new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) this.decorate(node);
      }
    });
  }

  wire() {
    $("meeting-greeting-close").addEventListener("click", () => {
      $("meeting-greeting").hidden = true;
    });
  }

  /** The room on screen changed (null: none). */
  show(room, list) {
    this.observer.disconnect();
    this.room = room;
    this.list = list;
    if (list) this.observer.observe(list, { childList: true });
    this.render();
  }

  /** Forget me and quick exit: nothing of the meetings this page saw stays in it. */
  forget() {
    this.frames.clear();
    this.seen.clear();
    this.reactions = {};
    this.show(null, null);
  }

  /** Whether the room on screen is in a running meeting (the daily prompt steps aside). */
  active() {
    const frame = this.frames.get(this.room);
    return Boolean(frame && !frame.ended);
  }

  onMeeting(frame) {
    if (typeof frame.room !== "string") return;
    const before = this.frames.get(frame.room);
    this.frames.set(frame.room, frame);
    if (before?.floor?.author !== frame.floor?.author) this.reactions = {};
    if (frame.room !== this.room) return;
    this.greet(frame);
    this.tell(before, frame);
    this.render();
  }

  onReaction(frame) {
    if (frame.room !== this.room || !Object.hasOwn(REACTIONS, String(frame.reaction))) return;
    this.reactions[frame.reaction] = (this.reactions[frame.reaction] ?? 0) + 1;
    this.renderReactions();
  }

  onError(frame) {
    $("meeting-said").textContent = REFUSED[frame.code] ?? "That didn't go through.";
  }

  act(action, fields = {}) {
    $("meeting-said").textContent = "";
    if (!this.room || !this.send({ type: "meeting", room: this.room, action, ...fields })) {
      $("meeting-said").textContent = REFUSED.unavailable;
    }
  }

  /** A late-comer (whose first look finds the meeting already running) is welcomed once, in
   * the meeting's own words; those who were here when it opened saw it open. */
  greet(frame) {
    const key = `${frame.id}@${frame.start_ms}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (frame.ended || !frame.chair || Date.now() - frame.start_ms < LATE_MS) return;
    $("meeting-greeting-text").textContent = frame.greeting;
    $("meeting-greeting").hidden = false;
  }

  /** Say out loud what changed for this person (screen readers; the panel shows it too). */
  tell(before, frame) {
    const me = this.me();
    if (frame.floor?.author === me && before?.floor?.author !== me) {
      this.announce("You have the floor. Share when you're ready.");
    } else if (frame.floor && before?.floor?.author !== frame.floor.author) {
      this.announce(`${frame.floor.name} has the floor.`);
    }
    if (frame.floor?.author === me && frame.floor.warned && !before?.floor?.warned) {
      this.announce(WRAP_UP);
    }
    // A share the turn limit ended: a thank-you, never a telling-off.
    const timedOut = frame.timed_out && before?.floor?.author === frame.timed_out.author &&
      before?.timed_out?.author !== frame.timed_out.author;
    if (timedOut) {
      const words = frame.timed_out.author === me
        ? "Your time is up. Thank you for sharing."
        : `${frame.timed_out.name}'s time is up. Thank you, ${frame.timed_out.name}.`;
      $("meeting-said").textContent = words;
      this.announce(words);
    }
    if (frame.chair?.author === me && before?.chair?.author !== me) {
      this.announce("You are the chair now.");
    }
    if (frame.ended && !before?.ended) this.announce("The meeting has ended.");
  }

  /** Messages from the person sharing stand out while they have the floor. */
  decorate(node) {
    const frame = this.frames.get(this.room);
    if (!(node instanceof HTMLElement) || !node.classList.contains("msg")) return;
    const sharing = Boolean(frame && !frame.ended && frame.floor &&
      node.dataset.author === frame.floor.author);
    node.classList.toggle("sharing", sharing);
  }

  render() {
    clearTimeout(this.timer);
    clearTimeout(this.endTimer);
    let frame = this.frames.get(this.room);
    if (frame && Date.now() >= frame.end_ms) {
      this.frames.delete(this.room); // its time is over: the room is a room again
      frame = undefined;
    }
    if (frame) this.endTimer = setTimeout(() => this.render(), Math.min(frame.end_ms - Date.now(), 2 ** 31 - 1));
    const panel = $("meeting");
    panel.hidden = !frame;
    if (this.list) for (const li of this.list.querySelectorAll(".msg")) this.decorate(li);
    if (!frame) return;
    const me = this.me();
    const chairing = frame.chair?.author === me;
    const sharing = frame.floor?.author === me;
    const queued = frame.queue.some((p) => p.author === me);
    const start = new Date(frame.start_ms);
    $("meeting-title").textContent =
      `${frame.title} · ${hours.format(start)}–${hours.format(new Date(frame.end_ms))}`;
    $("meeting-status").textContent = this.status(frame, chairing);
    panel.dataset.state = frame.ended ? "ended" : frame.paused ? "paused" : frame.chair ? "on" : "waiting";

    const step = frame.steps[frame.step] ?? frame.steps[0];
    $("meeting-step").textContent = `Now: ${step?.title ?? ""} (part ${frame.step + 1} of ${frame.steps.length})`;
    $("meeting-step-text").textContent = step?.text ?? "";
    $("meeting-steps").replaceChildren(...frame.steps.map((s, i) => {
      const li = el("li", "", s.title);
      if (i === frame.step) li.setAttribute("aria-current", "step");
      return li;
    }));

    this.renderFloor(frame, sharing);
    this.renderReactions();
    const waiting = frame.queue.map((p) => (p.author === me ? `${p.name} (you)` : p.name));
    $("meeting-queue").textContent = frame.ended ? "" : [
      waiting.length ? `Hands raised: ${waiting.join(", ")}.` : "No hands raised.",
      frame.listening ? `${frame.listening} just listening.` : "",
    ].join(" ").trim();

    const quiet = !frame.ended && frame.chair && !chairing && (frame.paused || (!frame.crosstalk && !sharing));
    $("meeting-note").hidden = !quiet;
    $("meeting-note").textContent = frame.paused
      ? "The chair paused the meeting for a moment."
      : "Cross-talk is off: only the person sharing posts. Send quiet support, or raise your hand. In danger? Write anyway: that always goes through.";

    this.renderActions(frame, { chairing, sharing, queued });
    this.renderSupport(frame, sharing);
    this.renderChair(frame, chairing);
  }

  status(frame, chairing) {
    if (frame.ended) return "This meeting has ended. Thank you for coming.";
    if (!frame.chair) {
      return Date.now() < frame.start_ms
        ? `Starts at ${hours.format(new Date(frame.start_ms))}. Waiting for the chair.`
        : "Waiting for the chair to open the meeting.";
    }
    const chair = chairing ? "You are the chair" : `Chair: ${frame.chair.name}`;
    return frame.paused ? `${chair}. Paused.` : `${chair}.`;
  }

  renderFloor(frame, sharing) {
    const node = $("meeting-floor");
    node.hidden = !frame.floor || frame.ended;
    if (node.hidden) return;
    const who = sharing ? "You have the floor" : `Sharing now: ${frame.floor.name}`;
    const until = Number(frame.floor.until_ms);
    if (!Number.isFinite(until)) {
      node.textContent = `${who}.`;
      return;
    }
    if (frame.paused) {
      // A pause stops the turn's clock on the server; the time left comes back on resuming.
      node.textContent = `${who} · the clock is paused.`;
      node.classList.remove("wrap-up");
      return;
    }
    const left = until - Date.now();
    const wrapUp = sharing && frame.floor.warned && left > 0 ? ` ${WRAP_UP}` : "";
    node.textContent = left > 0 ? `${who} · ${clock(left)} left.${wrapUp}` : `${who} · time's up.`;
    node.classList.toggle("wrap-up", Boolean(wrapUp));
    if (left > 0) this.timer = setTimeout(() => this.renderFloor(frame, sharing), Math.min(1000, left));
  }

  renderReactions() {
    const node = $("meeting-reactions");
    const parts = Object.entries(this.reactions).map(([k, n]) => `${REACTIONS[k]} ×${n}`);
    node.hidden = parts.length === 0;
    node.textContent = parts.length ? `Quiet support: ${parts.join(", ")}` : "";
  }

  renderActions(frame, { chairing, sharing, queued }) {
    const buttons = [];
    if (!frame.ended) {
      if (sharing) buttons.push(button("I'm done sharing", () => this.act("done"), "btn btn-primary"));
      else if (queued) buttons.push(button("Lower my hand", () => this.act("lower")));
      else if (!chairing) buttons.push(button("Raise my hand", () => this.act("raise"), "btn btn-primary"));
      if (!chairing && !sharing) buttons.push(button("Just listening", () => this.act("listen")));
      if (this.volunteer() && !chairing) buttons.push(button("Take the chair", () => this.act("chair")));
    }
    $("meeting-actions").replaceChildren(...buttons);
  }

  renderSupport(frame, sharing) {
    const node = $("meeting-support");
    node.hidden = frame.ended || !frame.floor || sharing;
    if (node.hidden) return;
    node.replaceChildren(...Object.entries(REACTIONS).map(([key, words]) => {
      const b = button(words, () => this.act("react", { reaction: key }), "btn btn-quiet btn-react");
      b.dataset.reaction = key;
      return b;
    }));
  }

  renderChair(frame, chairing) {
    const node = $("meeting-chair");
    node.hidden = !chairing || frame.ended;
    if (node.hidden) return;
    const controls = [];
    if (frame.floor) controls.push(button(`End ${frame.floor.name}'s share`, () => this.act("done")));
    controls.push(button("Give the floor to the next hand", () => this.act("give")));
    controls.push(frame.crosstalk
      ? button("Turn cross-talk off", () => this.act("crosstalk", { on: false }))
      : button("Turn cross-talk on", () => this.act("crosstalk", { on: true })));
    if (frame.step + 1 < frame.steps.length) {
      controls.push(button(`Next: ${frame.steps[frame.step + 1].title}`, () => this.act("step", { step: frame.step + 1 })));
    }
    if (frame.step > 0) controls.push(button("Back a part", () => this.act("step", { step: frame.step - 1 })));
    controls.push(frame.paused
      ? button("Resume", () => this.act("pause", { on: false }))
      : button("Pause", () => this.act("pause", { on: true })));
    controls.push(button("End the meeting", () => this.act("end")));
    const people = [frame.floor, ...frame.queue].filter(Boolean);
    const list = el("ul", "meeting-people");
    for (const person of people) {
      const li = el("li", "", person.name);
      li.dataset.author = person.author;
      if (person.author !== frame.floor?.author) {
        li.append(" ", button("Give the floor", () => this.act("give", { to: person.author }), "link-button"));
        li.append(" ", button("Lower their hand", () => this.act("remove", { to: person.author }), "link-button"));
      }
      li.append(" ", button("Hand the chair", () => this.act("hand", { to: person.author }), "link-button"));
      list.append(li);
    }
    node.replaceChildren(...controls, list);
  }
}
