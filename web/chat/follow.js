// Keeping the newest message in view: a room follows its end while the reader is there, and
// offers a "new messages" pill when they have scrolled up to read.
//
// Whether the reader is "at the end" is decided only when *they* scroll, never measured at the
// moment a message arrives: a measurement taken mid-layout or mid-animation (a phone's taller
// bubbles, a smooth scroll still under way) once left a phone stranded near the top. Every
// change in the conversation's size is then seen by a ResizeObserver, and while following the
// page jumps (never animates) to the end, so no later arrival can find it half-way.

/** How close to the end (px) still counts as "at the end": a line or two of slack. */
export const AT_END_SLACK_PX = 48;

/** Distance between the bottom of the viewport and the end of the document, in px. */
export function distanceFromEnd(scrollTop, viewportHeight, scrollHeight) {
  return Math.max(0, scrollHeight - (scrollTop + viewportHeight));
}

export class Follower {
  #following = true;
  #expected = null; // the scroll position our own jump will produce, to tell it from the reader's
  #observer = null;
  #observed = null;

  /**
   * @param {object} options
   * @param {HTMLElement} options.pill   the "new messages" button
   * @param {() => boolean} options.active   whether a room is on screen
   */
  constructor({ pill, active }) {
    this.pill = pill;
    this.active = active;
    window.addEventListener("scroll", () => this.#onScroll(), { passive: true });
    window.addEventListener("resize", () => this.#settle());
    window.visualViewport?.addEventListener("resize", () => this.#settle());
    this.#observer = new ResizeObserver(() => this.#settle());
    pill.addEventListener("click", () => this.toEnd());
  }

  get following() {
    return this.#following;
  }

  /** Watch this conversation's list (the one on screen) and go to its end. */
  watch(list) {
    if (this.#observed) this.#observer.unobserve(this.#observed);
    this.#observed = list;
    this.#observer.observe(list);
    this.toEnd();
  }

  /** Follow again and jump to the end: entering a room, sending a message, the pill. */
  toEnd() {
    this.#following = true;
    this.pill.hidden = true;
    this.#jump();
  }

  /** Someone else's message arrived: follow it, or tell a reader who scrolled up. */
  arrived() {
    if (this.#following) this.#jump();
    else if (this.active()) this.pill.hidden = false;
  }

  #settle() {
    if (this.#following && this.active()) this.#jump();
  }

  #jump() {
    if (!this.active()) return;
    const doc = document.documentElement;
    const top = Math.max(0, doc.scrollHeight - window.innerHeight);
    if (Math.abs(window.scrollY - top) < 1) return;
    this.#expected = top;
    window.scrollTo({ top, behavior: "instant" });
  }

  #onScroll() {
    if (!this.active()) return;
    const doc = document.documentElement;
    if (this.#expected !== null && Math.abs(window.scrollY - this.#expected) < 2) {
      this.#expected = null; // our own jump landing
      return;
    }
    this.#expected = null;
    const distance = distanceFromEnd(window.scrollY, window.innerHeight, doc.scrollHeight);
    this.#following = distance <= AT_END_SLACK_PX;
    if (this.#following) this.pill.hidden = true;
  }
}
