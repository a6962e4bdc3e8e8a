// Quick exit: someone may need to hide this page in a second (a person walking in, a shared
// phone). The chat is wiped from the DOM first, everything Harbor keeps in this browser (the
// identity token, drafts, the accepted guidelines) is deleted, then the page is *replaced* so
// Back can't return. Without the token the next person at the device cannot reopen this
// person's name or their private check-in.

const DEFAULT_EXIT_URL = "https://www.wikipedia.org/wiki/Special:Random";
const PRESSES = 3;
const WINDOW_MS = 1500;
// Stepping back over a page's own entries is same-document and near instant; past this the
// page is replaced wherever it stands.
const STEP_BACK_WAIT_MS = 300;

const beforeExit = [];

/** Run `fn` (close sockets, drop state) just before leaving. */
export function onQuickExit(fn) {
  beforeExit.push(fn);
}

/** Where quick exit goes: a `?exit=` override (only about:blank or this site, so a crafted link
 * can't turn the button into a redirect elsewhere), else <html data-exit-url>, else Wikipedia. */
export function exitTarget(loc = window.location, root = document.documentElement) {
  const override = new URLSearchParams(loc.search).get("exit");
  if (override === "about:blank") return override;
  if (override) {
    try {
      const url = new URL(override, loc.href);
      if (url.origin === loc.origin) return url.href;
    } catch {
      // not a URL: ignore it
    }
  }
  return root.dataset.exitUrl || DEFAULT_EXIT_URL;
}

/** Delete everything this site keeps in the browser's storage. The origin serves only Harbor,
 * so every key there is Harbor's: the token, drafts, whatever a later page adds. */
export function clearStoredTraces(win = window) {
  for (const area of ["localStorage", "sessionStorage"]) {
    try {
      win[area].clear();
    } catch {
      // storage unavailable (strict privacy settings): nothing was kept there
    }
  }
}

export function quickExit() {
  const target = exitTarget();
  for (const fn of beforeExit) {
    try {
      fn();
    } catch {
      // leaving matters more than tidying up
    }
  }
  clearStoredTraces();
  // Listeners run in the order they were added: this one runs after any that would save a
  // draft as the page goes away, and deletes it again.
  window.addEventListener("pagehide", () => clearStoredTraces());
  document.title = "";
  document.body.replaceChildren();
  leaveHistory(target);
}

/** Replace the first entry this page had, so neither Back nor the rooms it opened lead back:
 * a page that added entries (history.state.depth, the chat's room addresses) steps back over
 * them first. The screen is already blank; this takes a moment at most. */
function leaveHistory(target) {
  const depth = history.state?.depth;
  if (!Number.isInteger(depth) || depth <= 0) {
    window.location.replace(target);
    return;
  }
  let gone = false;
  const go = () => {
    if (gone) return;
    gone = true;
    window.location.replace(target);
  };
  window.addEventListener("popstate", go, { once: true });
  setTimeout(go, STEP_BACK_WAIT_MS);
  history.go(-depth);
}

/** Wire the Quick exit control (a real link, so it works without JS too) and Escape × 3. */
export function setupQuickExit(control = document.getElementById("quick-exit")) {
  if (control) {
    control.addEventListener("click", (event) => {
      event.preventDefault();
      quickExit();
    });
  }
  let presses = [];
  // Capture phase: an open dialog or a text box must not be able to swallow the key.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const now = performance.now();
    presses = presses.filter((t) => now - t < WINDOW_MS);
    presses.push(now);
    if (presses.length >= PRESSES) quickExit();
  }, { capture: true });
}
