// A sanction, told truly: what a moderator paused, why, until when, the one appeal the person
// may send, and what became of it (docs/protocol.md `sanction`, `appeal_decided`;
// server/appeal_api.py). The notice stays on the page after a ban closes the connection: the
// appeal needs no name, only the signed ticket the notice carried. The notice and its ticket are
// kept on this device (localStorage, like the other per-device state) until the person closes
// the notice, so a reload can still appeal once and shows the decision, asked of the server with
// the ticket; quick exit and "Forget me" clear it with everything else.

const KEY = "harbor.appeal";
const until = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "numeric", minute: "2-digit" });

const SENT = "Your appeal was sent. A volunteer who did not make this decision will look at it.";
const ALREADY = "You have appealed this already; a volunteer will look at it.";
const ENDED = "This pause has already ended.";

function node(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function load() {
  try {
    const kept = JSON.parse(window.localStorage.getItem(KEY) ?? "null");
    return kept && typeof kept.message === "string" && typeof kept.appeal === "string" ? kept : null;
  } catch {
    return null;
  }
}

function keep(notice) {
  try {
    window.localStorage.setItem(KEY, JSON.stringify(notice));
  } catch {
    // storage blocked: the notice lasts as long as the page
  }
}

function forget() {
  try {
    window.localStorage.removeItem(KEY);
  } catch {
    // nothing was kept
  }
}

/** Show the notice of a `sanction` frame, with its appeal form, and keep it on this device. */
export function showSanction(frame) {
  if (typeof frame.message !== "string") return;
  const notice = { message: frame.message, until_ms: frame.until_ms, appeal: frame.appeal };
  if (typeof frame.appeal === "string") keep(notice);
  render(notice, typeof frame.appeal === "string" ? appealForm(frame.appeal) : null);
}

/** An `appeal_decided` frame: the notice says the decision (never who made it). */
export function showDecision(frame) {
  if (typeof frame.message !== "string") return;
  const kept = load();
  const decided = { message: frame.message, until_ms: frame.until_ms ?? null };
  if (kept) keep({ ...kept, decided });
  render({ ...(kept ?? { message: "", until_ms: null }), decided }, decisionText(decided));
}

/** On page load: the kept notice, as the server says its appeal stands now. */
export async function restoreAppeal() {
  const kept = load();
  if (!kept) return;
  const answer = await askStatus(kept.appeal);
  if (answer?.state === "ended") {
    forget();
    return;
  }
  if (answer?.state === "decided") {
    const decided = { message: String(answer.message ?? ""), until_ms: answer.until_ms ?? null };
    keep({ ...kept, decided });
    render({ ...kept, decided }, decisionText(decided));
  } else if (answer?.state === "waiting") {
    render(kept, node("p", "small", ALREADY));
  } else {
    render(kept, appealForm(kept.appeal)); // open, or unknown while offline: the server decides
  }
}

/** "Forget me": the page's copy goes too (storage is already cleared). */
export function forgetAppeal() {
  document.getElementById("sanction-notice")?.remove();
}

function render(notice, tail) {
  document.getElementById("sanction-notice")?.remove();
  const box = node("section", "card sanction-notice");
  box.id = "sanction-notice";
  box.setAttribute("role", "alert");
  box.setAttribute("aria-label", "A moderator's decision");
  if (notice.message) box.append(node("p", "", notice.message));
  if (Number.isFinite(notice.until_ms) && !notice.decided) {
    box.append(node("p", "small", `It ends on its own at ${until.format(new Date(notice.until_ms))}.`));
  }
  if (tail) box.append(tail);
  const close = node("button", "btn btn-quiet", "OK");
  close.type = "button";
  close.addEventListener("click", () => {
    box.remove();
    forget();
  });
  box.append(close);
  document.querySelector("main")?.prepend(box);
}

function decisionText(decided) {
  const said = node("div", "appeal-decision");
  said.setAttribute("role", "status");
  said.append(node("p", "", decided.message));
  if (Number.isFinite(decided.until_ms)) {
    said.append(node("p", "small", `It now ends at ${until.format(new Date(decided.until_ms))}.`));
  }
  return said;
}

function appealForm(ticket) {
  const form = node("form", "stack appeal-form");
  form.noValidate = true;
  const label = node("label", "", "Think this was wrong? You can appeal once. Another volunteer will read it:");
  label.htmlFor = "appeal-text";
  const text = node("textarea");
  text.id = "appeal-text";
  text.rows = 2;
  text.maxLength = 1000;
  const send = node("button", "btn", "Send appeal");
  send.type = "submit";
  const said = node("p", "small");
  said.setAttribute("role", "status");
  form.append(label, text, send, said);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      said.textContent = "Say why first.";
      return;
    }
    send.disabled = true;
    const answer = await sendAppeal(ticket, text.value.trim());
    said.textContent = answer;
    const done = answer === SENT || answer === ALREADY || answer === ENDED; // nothing more to send
    text.disabled = done;
    send.disabled = done;
  });
  return form;
}

async function post(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
}

async function askStatus(ticket) {
  try {
    const response = await post("/api/appeal/status", { ticket });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

async function sendAppeal(ticket, text) {
  try {
    const response = await post("/api/appeal", { ticket, text });
    if (response.ok) return SENT;
    const body = await response.json().catch(() => ({}));
    if (body.error === "already_appealed") return ALREADY;
    if (body.error === "ended") return ENDED;
    return "The appeal couldn't be sent. Please try again in a moment.";
  } catch {
    return "Harbor can't be reached right now. Please try again in a moment.";
  }
}
