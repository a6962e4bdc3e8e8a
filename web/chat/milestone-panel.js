// The Milestones part of "Your settings": a start date, the private count, the opt-in badge and
// a new start. What the person chooses is kept by milestones.js; this wires the panel to it and
// tells the server the badge to show (a `profile` frame) whenever the choice or the day changes.

import * as milestones from "./milestones.js";

const $ = (id) => document.getElementById(id);
// The badge can change at midnight with the page open: looked at again this often.
const RECHECK_MS = 10 * 60 * 1000;

export class MilestonePanel {
  /** @param {(frame: object) => boolean} send  sends one frame if connected */
  constructor(send) {
    this.send = send;
    this.state = milestones.loadMilestones();
    this.declared = undefined; // the badge the server last heard from us on this connection
    this.timer = null;
  }

  wire() {
    $("milestone-start").max = milestones.dateText(new Date());
    $("milestone-save").addEventListener("click", () => this.saveDate());
    $("milestone-show").addEventListener("change", (event) => {
      this.state = milestones.setShow(this.state, event.target.checked);
      this.changed();
    });
    $("milestone-again").addEventListener("click", () => {
      $("milestone-confirm").hidden = false;
      $("milestone-again-no").focus();
    });
    $("milestone-again-no").addEventListener("click", () => {
      $("milestone-confirm").hidden = true;
      $("milestone-again").focus();
    });
    $("milestone-again-yes").addEventListener("click", () => {
      this.state = milestones.startAgain(this.state, Date.now());
      $("milestone-confirm").hidden = true;
      this.changed();
      $("milestone-count").focus();
    });
    $("milestone-clear").addEventListener("click", () => {
      this.state = milestones.setStart(this.state, null, Date.now());
      this.changed();
      $("milestone-start").focus();
    });
    this.render();
  }

  saveDate() {
    const input = $("milestone-start");
    const next = milestones.setStart(this.state, input.value, Date.now());
    if (next === null) {
      $("milestone-count").textContent = "That date is still to come. Pick today or a day before.";
      return;
    }
    this.state = next;
    this.changed();
  }

  changed() {
    this.render();
    this.declare();
  }

  render() {
    const now = Date.now();
    const { start, show } = this.state;
    $("milestone-start").value = start ?? "";
    $("milestone-count").textContent = milestones.countText(this.state, now);
    $("milestone-count").tabIndex = -1;
    $("milestone-show").checked = show;
    $("milestone-show").disabled = start === null;
    $("milestone-actions").hidden = start === null;
    const badge = milestones.shownBadge(this.state, now);
    const note = $("milestone-badge-note");
    note.hidden = !show;
    note.textContent = badge
      ? `Others see "${milestones.BADGE_WORDS[badge]}" beside your name on what you write from now on.`
      : "Your badge appears once your first 24 hours are through.";
  }

  /** Tell the server the badge to carry, once per change (and after each welcome). */
  declare(force = false) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.render();
      this.declare();
    }, RECHECK_MS);
    const badge = milestones.shownBadge(this.state, Date.now());
    if (!force && badge === this.declared) return;
    if (this.send({ type: "profile", badge })) this.declared = badge;
  }

  /** A new connection knows no badge: say it again (nothing to say when none is shown). */
  welcomed() {
    this.declared = null;
    this.declare(milestones.shownBadge(this.state, Date.now()) !== null);
  }

  /** Forget me and quick exit: storage is already cleared; forget the page's copy too. */
  forget() {
    clearTimeout(this.timer);
    this.state = milestones.loadMilestones();
    this.declared = undefined;
    this.render();
  }
}
