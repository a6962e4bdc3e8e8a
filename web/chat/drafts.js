// Unsent words, kept per room on this device until they are sent, or until quick exit or
// "Forget me" clears everything Harbor keeps in the browser (shared/quickexit.js).

const PREFIX = "harbor.draft.";

function area() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: drafts live only as long as the text box
  }
}

export function loadDraft(roomId) {
  try {
    return area()?.getItem(PREFIX + roomId) ?? "";
  } catch {
    return "";
  }
}

/** Keep `text` for `roomId`; an empty draft leaves no key behind. */
export function saveDraft(roomId, text) {
  try {
    if (text.trim()) area()?.setItem(PREFIX + roomId, text);
    else area()?.removeItem(PREFIX + roomId);
  } catch {
    // storage full or blocked: the draft stays in the box while the page lives
  }
}
