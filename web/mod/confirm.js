// A confirmation step in the page's own dialog (not window.confirm, which blocks the page, can't
// be styled for dark mode and which browsers let people suppress). Focus starts on Cancel: the
// safe answer is the one a stray Enter gives.

import { $ } from "./dom.js";

let settle = null;

export function setupConfirm() {
  const dialog = $("confirm");
  $("confirm-cancel").addEventListener("click", () => dialog.close("cancel"));
  $("confirm-ok").addEventListener("click", () => dialog.close("ok"));
  // Escape, or close() from anywhere: whatever returnValue says is the answer.
  dialog.addEventListener("close", () => {
    const done = settle;
    settle = null;
    if (done) done(dialog.returnValue === "ok");
  });
}

/** Ask; resolves true only on an explicit Confirm. */
export function confirmAction(summary, confirmLabel = "Confirm") {
  const dialog = $("confirm");
  if (settle) settle(false);
  $("confirm-summary").textContent = summary;
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  const answer = new Promise((resolve) => {
    settle = resolve;
  });
  dialog.showModal();
  $("confirm-cancel").focus();
  return answer;
}
