// The daily check-in thread: a prompt pinned at the top of every topic room ("How did today
// go?"), answered with ordinary messages marked `thread: "checkin"` (docs/protocol.md). The
// answers live in the room's history like any message, so the thread holds what history still
// holds (at most a day); "today" is the reader's own calendar day. Answering is a choice made
// per message; "Show only check-ins" filters the room's list on this page only.

const $ = (id) => document.getElementById(id);
export const THREAD = "checkin";

/** Whether `ts` (ms) falls on the reader's local calendar day of `now`. */
export function isToday(ts, now) {
  if (!Number.isFinite(ts)) return false;
  const a = new Date(ts);
  const b = new Date(now);
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate();
}

export function countText(count) {
  if (count === 0) return "No check-ins yet today.";
  return count === 1 ? "1 check-in today." : `${count} check-ins today.`;
}

export class DailyThread {
  constructor({ focusComposer }) {
    this.focusComposer = focusComposer;
    this.list = null;
    this.answering = false;
    this.observer = new MutationObserver(() => this.recount());
  }

  wire() {
    $("daily-answer").addEventListener("click", () => this.answer(true));
    $("daily-cancel").addEventListener("click", () => this.answer(false));
    $("daily-only").addEventListener("click", () => this.only(!this.filtered()));
  }

  /** A room is on screen: its list, and whether it has a daily check-in (topic rooms do). */
  show(list, hasThread) {
    this.observer.disconnect();
    this.list = hasThread ? list : null;
    this.answer(false, false);
    $("daily").hidden = !hasThread;
    if (!hasThread) return;
    this.only(false);
    this.observer.observe(list, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["class", "hidden"],
    });
    this.recount();
  }

  /** The composer's next message answers the check-in (or not). */
  answer(on, focus = true) {
    this.answering = on && this.list !== null;
    $("daily-mode").hidden = !this.answering;
    $("daily-answer").setAttribute("aria-pressed", String(this.answering));
    document.getElementById("text").placeholder = this.answering ? "How did today go?" : "";
    if (focus) this.focusComposer();
  }

  /** The thread for the message being sent now, and back to ordinary messages after it. */
  take() {
    if (!this.answering) return "";
    this.answer(false, false);
    return THREAD;
  }

  filtered() {
    return this.list?.dataset.only === THREAD;
  }

  only(on) {
    if (this.list) {
      if (on) this.list.dataset.only = THREAD;
      else delete this.list.dataset.only;
    }
    $("daily-only").setAttribute("aria-pressed", String(on));
    $("daily-only").textContent = on ? "Show the whole room" : "Show only check-ins";
  }

  recount() {
    if (!this.list) return;
    const now = Date.now();
    let count = 0;
    for (const li of this.list.querySelectorAll(".msg.daily-answer:not(.removed):not([hidden])")) {
      const time = li.querySelector("time")?.dateTime;
      if (time && isToday(Date.parse(time), now)) count += 1;
    }
    const text = countText(count);
    if ($("daily-count").textContent !== text) $("daily-count").textContent = text;
  }
}
