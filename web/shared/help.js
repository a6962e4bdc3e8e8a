// "Get help now": a real link to /help/ (works with JavaScript off) that this module upgrades
// to an in-page panel, so reaching crisis lines never costs someone their place in the chat.

const DEFAULT_MESSAGE =
  "If you're struggling right now, you don't have to wait. These lines are free and open any time.";

let link = null;
let panel = null;

export function setupHelp() {
  link = document.getElementById("help-link");
  panel = document.getElementById("help-panel");
  if (!link || !panel || typeof panel.showModal !== "function") return; // the link still works
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openHelp();
  });
  for (const button of panel.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => panel.close());
  }
  panel.addEventListener("close", () => {
    // A later open without a server message shows the general wording again.
    setMessage(DEFAULT_MESSAGE);
    document.getElementById("help-extra").replaceChildren();
    document.getElementById("help-extra-section").hidden = true;
  });
}

/** Open the panel; `message` and `resources` come from a server `support` frame. */
export function openHelp({ message = null, resources = null } = {}) {
  if (!panel || typeof panel.showModal !== "function") {
    window.location.assign("/help/");
    return;
  }
  setMessage(typeof message === "string" && message.trim() ? message : DEFAULT_MESSAGE);
  const extra = Array.isArray(resources) ? resources.map(resourceItem).filter(Boolean) : [];
  document.getElementById("help-extra").replaceChildren(...extra);
  document.getElementById("help-extra-section").hidden = extra.length === 0;
  if (!panel.open) panel.showModal();
}

function setMessage(text) {
  document.getElementById("help-message").textContent = text;
}

/** One server-suggested resource. Its shape isn't fixed yet, so accept a string or an object
 * with a name and a number or address; links only for tel:, sms: and https: (never javascript:). */
function resourceItem(resource) {
  const li = document.createElement("li");
  if (typeof resource === "string") {
    li.textContent = resource;
    return li;
  }
  if (resource === null || typeof resource !== "object") return null;
  const name = firstString(resource, ["name", "title", "label"]);
  const detail = firstString(resource, ["phone", "call", "text", "sms", "contact", "description"]);
  const url = firstString(resource, ["url", "href", "link"]);
  if (!name && !detail && !url) return null;
  if (name) {
    const strong = document.createElement("strong");
    strong.textContent = name;
    li.append(strong);
  }
  if (detail) li.append(`${name ? ": " : ""}${detail}`);
  if (url && /^(https:|tel:|sms:)/i.test(url)) {
    const a = document.createElement("a");
    a.href = url;
    a.rel = "noreferrer";
    a.textContent = url.replace(/^(tel:|sms:)/i, "");
    li.append(" ", a);
  }
  return li;
}

function firstString(object, keys) {
  for (const key of keys) {
    if (typeof object[key] === "string" && object[key].trim()) return object[key].trim();
  }
  return "";
}
