// "Get help now": a real link to /help/ (works with JavaScript off) that this module upgrades
// to an in-page panel, so reaching crisis lines never costs someone their place in the chat.

import { showResourcesByRegion } from "./resources.js";

const DEFAULT_MESSAGE =
  "If you're struggling right now, you don't have to wait. These lines are free and open any time.";

let link = null;
let panel = null;
const toggles = [];

/** Call `fn(open)` each time the panel opens or closes (the chat page gives it a history entry,
 * so Back closes it first, as Android's back gesture is expected to). */
export function onHelpToggle(fn) {
  toggles.push(fn);
}

/** Whether the panel is open now. */
export function helpIsOpen() {
  return Boolean(panel?.open);
}

/** Close the panel if it is open. */
export function closeHelp() {
  if (panel?.open) panel.close();
}

export function setupHelp() {
  link = document.getElementById("help-link");
  panel = document.getElementById("help-panel");
  if (!link || !panel || typeof panel.showModal !== "function") return; // the link still works
  showResourcesByRegion(document.getElementById("help-static"), {
    idPrefix: "help",
    headingLevel: 3,
  });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openHelp();
  });
  for (const button of panel.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => panel.close());
  }
  panel.addEventListener("close", () => {
    if (panel.open) return; // opened again before this event came: it is not closed
    // A later open without a server message shows the general wording again.
    setMessage(DEFAULT_MESSAGE);
    showServerResources([]);
    for (const fn of toggles) fn(false);
  });
}

/** Open the panel; `message` and `resources` come from a server `support` frame. */
export function openHelp({ message = null, resources = null } = {}) {
  if (!panel || typeof panel.showModal !== "function") {
    window.location.assign("/help/");
    return;
  }
  setMessage(typeof message === "string" && message.trim() ? message : DEFAULT_MESSAGE);
  showServerResources(Array.isArray(resources) ? resources.map(resourceItem).filter(Boolean) : []);
  if (panel.open) return;
  panel.showModal();
  for (const fn of toggles) fn(true);
}

/** The server's list (region first, operator-configurable) replaces the built-in one. */
function showServerResources(items) {
  document.getElementById("help-extra").replaceChildren(...items);
  document.getElementById("help-extra").hidden = items.length === 0;
  document.getElementById("help-static").hidden = items.length > 0;
}

function setMessage(text) {
  document.getElementById("help-message").textContent = text;
}

/** One server resource ({name, action, href, region} today; a plain string is accepted too).
 * Links only for tel:, sms: and https: (never javascript:). */
function resourceItem(resource) {
  const li = document.createElement("li");
  if (typeof resource === "string") {
    li.textContent = resource;
    return li;
  }
  if (resource === null || typeof resource !== "object") return null;
  const name = firstString(resource, ["name", "title", "label"]);
  const detail = firstString(resource, ["action", "phone", "text", "contact", "description"]);
  const url = firstString(resource, ["url", "href", "link"]);
  if (!name && !detail && !url) return null;
  if (name) {
    const strong = document.createElement("strong");
    strong.textContent = name;
    li.append(strong);
  }
  const safe = url && /^(https:|tel:|sms:)/i.test(url);
  if (name && (detail || safe)) li.append(": ");
  if (safe) {
    const a = document.createElement("a");
    a.href = url;
    a.rel = "noreferrer";
    a.textContent = detail || url.replace(/^(tel:|sms:)/i, "");
    li.append(a);
  } else if (detail) {
    li.append(detail);
  }
  return li;
}

function firstString(object, keys) {
  for (const key of keys) {
    if (typeof object[key] === "string" && object[key].trim()) return object[key].trim();
  }
  return "";
}
