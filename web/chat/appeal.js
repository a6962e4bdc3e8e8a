// A sanction, told truly: what a moderator paused, why, until when, and the one appeal the
// person may send (docs/protocol.md `sanction`; server/appeal_api.py). The notice stays on the
// page after a ban closes the connection: the appeal needs no name, only the signed ticket the
// notice carried. Nothing here is stored: quick exit and a reload leave no trace of it.

const until = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "numeric", minute: "2-digit" });

function node(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

/** Show the notice of a `sanction` frame, with its appeal form. */
export function showSanction(frame) {
  if (typeof frame.message !== "string") return;
  document.getElementById("sanction-notice")?.remove();
  const box = node("section", "card sanction-notice");
  box.id = "sanction-notice";
  box.setAttribute("role", "alert");
  box.setAttribute("aria-label", "A moderator's decision");
  box.append(node("p", "", frame.message));
  if (Number.isFinite(frame.until_ms)) {
    box.append(node("p", "small", `It ends on its own at ${until.format(new Date(frame.until_ms))}.`));
  }
  if (typeof frame.appeal === "string") box.append(appealForm(frame.appeal));
  const close = node("button", "btn btn-quiet", "OK");
  close.type = "button";
  close.addEventListener("click", () => box.remove());
  box.append(close);
  document.querySelector("main")?.prepend(box);
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
    const done = answer === SENT || answer === ALREADY; // one appeal: nothing more to send
    text.disabled = done;
    send.disabled = done;
  });
  return form;
}

const SENT = "Your appeal was sent. A volunteer who did not make this decision will look at it.";
const ALREADY = "You have appealed this already; a volunteer will look at it.";

async function sendAppeal(ticket, text) {
  try {
    const response = await fetch("/api/appeal", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ticket, text }),
      credentials: "omit",
    });
    if (response.ok) return SENT;
    const body = await response.json().catch(() => ({}));
    if (body.error === "already_appealed") return ALREADY;
    if (body.error === "ended") return "This pause has already ended.";
    return "The appeal couldn't be sent. Please try again in a moment.";
  } catch {
    return "Harbor can't be reached right now. Please try again in a moment.";
  }
}
