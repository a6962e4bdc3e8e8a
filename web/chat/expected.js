// When the next volunteer is expected, said only when the server says the rota says so
// (`next_volunteer_ms` on welcome, duty and support frames; docs/protocol.md). Without it the
// page names no time: it never comforts with a time that isn't true.

const hourOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric" });
const hourMinute = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "long" });

/** "The next volunteer is expected around 6 AM." (or "… Tuesday around 6 AM"), or "". */
export function expectedText(ms, now = Date.now()) {
  if (!Number.isFinite(ms) || ms <= now) return "";
  const at = new Date(ms);
  const time = at.getMinutes() ? hourMinute.format(at) : hourOnly.format(at);
  const sameDay = at.toDateString() === new Date(now).toDateString();
  const tomorrow = at.toDateString() === new Date(now + 86_400_000).toDateString();
  const when = sameDay ? "" : tomorrow ? "tomorrow " : `${weekday.format(at)} `;
  return `The next volunteer is expected ${when}around ${time}.`;
}
