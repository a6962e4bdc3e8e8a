// Room addresses: /r/<room> for a room, / for the list. Pure: paths in, paths out.
//
// A private check-in has the fixed address /r/checkin: its room id belongs to one identity, and
// an address stays in the browser's history, which quick exit cannot clear.

export const CHECKIN_ADDRESS = "checkin";
const ROOM_PATH = /^\/r\/([a-z0-9][a-z0-9-]{0,63})\/?$/;

/** The room named by `pathname` ("checkin" for the check-in), or null for the list. */
export function roomFromPath(pathname) {
  const match = ROOM_PATH.exec(pathname);
  return match ? match[1] : null;
}

/** The address of `roomId`: check-in rooms share one. */
export function pathForRoom(roomId, isCheckin) {
  return `/r/${encodeURIComponent(isCheckin ? CHECKIN_ADDRESS : roomId)}`;
}
