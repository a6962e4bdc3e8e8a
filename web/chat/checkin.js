// A volunteer's check-in invitation, kept for this tab only (sessionStorage) so a reload does
// not lose it: gone when the tab closes, and cleared with everything else by quick exit and
// "Forget me". It is only ever restored for the identity it was made for (welcome.checkin_room).

const KEY = "harbor.checkin";

/** {room, message, joined, dismissed} or null. */
export function loadInvite() {
  try {
    const value = JSON.parse(window.sessionStorage.getItem(KEY) ?? "null");
    return value && typeof value.room === "string" ? value : null;
  } catch {
    return null;
  }
}

export function saveInvite(invite) {
  try {
    window.sessionStorage.setItem(KEY, JSON.stringify(invite));
  } catch {
    // storage blocked: the invitation lasts as long as the page
  }
}

export function forgetInvite() {
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    // nothing was kept
  }
}
