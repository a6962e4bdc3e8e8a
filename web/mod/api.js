// The moderator HTTP API (/mod/api, server/moderator_api.py) as small async functions.
//
// The session is an HttpOnly cookie: this page never sees it, the browser sends it with every
// same-origin request. Every write is JSON (the server refuses anything else, and cross-site
// writes), so each call sends a JSON body even when it has nothing to say.

export class ApiError extends Error {
  /** @param {number} status  @param {object} body  the server's {error, message, …} */
  constructor(status, body) {
    super(typeof body?.message === "string" ? body.message : `request failed (${status})`);
    this.status = status;
    this.code = typeof body?.error === "string" ? body.error : "http_error";
    this.body = body ?? {};
  }
}

/** Called on any 401: the session ended (expired, signed out elsewhere). */
let onSignedOut = () => {};

export function whenSignedOut(fn) {
  onSignedOut = fn;
}

export async function request(method, path, body = undefined) {
  const options = { method, credentials: "same-origin", cache: "no-store", headers: {} };
  if (method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError(0, { error: "network", message: "Harbor can't be reached right now." });
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    // Sign-in's own 401 (wrong password) is an answer, not a lost session.
    if (response.status === 401 && path !== "/mod/api/session") onSignedOut();
    throw error;
  }
  return data ?? {};
}

export const api = {
  // {"name": null} means nobody is signed in (the server answers 200, so no console error).
  me: async () => {
    const data = await request("GET", "/mod/api/me");
    if (!data.name) {
      onSignedOut();
      throw new ApiError(401, { error: "sign_in_required", message: "Sign in first." });
    }
    return data;
  },
  signIn: (name, password) => request("POST", "/mod/api/session", { name, password }),
  redeemLink: (token) => request("POST", "/mod/api/link", { token }),
  signOut: () => request("DELETE", "/mod/api/session"),
  flags: () => request("GET", "/mod/api/flags"),
  next: () => request("POST", "/mod/api/flags/next"),
  act: (flagId, action, body = {}) =>
    request("POST", `/mod/api/flags/${encodeURIComponent(flagId)}/${action}`, body),
  audit: () => request("GET", "/mod/api/audit"),
  duty: () => request("GET", "/mod/api/duty"),
  response: () => request("GET", "/mod/api/response"),
  // The case around the person (server/casebook_api.py).
  oneCase: (flagId) => request("GET", `/mod/api/cases/${encodeURIComponent(flagId)}`),
  addNote: (flagId, text) =>
    request("POST", `/mod/api/cases/${encodeURIComponent(flagId)}/notes`, { text }),
  followedUp: (flagId) =>
    request("POST", `/mod/api/cases/${encodeURIComponent(flagId)}/followed-up`),
  handover: () => request("GET", "/mod/api/handover"),
  addHandover: (text) => request("POST", "/mod/api/handover", { text }),
  writers: () => request("GET", "/mod/api/writers"),
  searchCases: (query) => request("GET", `/mod/api/cases?${new URLSearchParams(query)}`),
  // The rota (server/rota_api.py).
  rota: () => request("GET", "/mod/api/rota"),
  setShifts: (name, shifts) =>
    request("POST", `/mod/api/rota/${encodeURIComponent(name)}`, { shifts }),
  // Accounts, for coordinators and admins (server/accounts_api.py).
  accounts: () => request("GET", "/mod/api/accounts"),
  setRole: (name, role) =>
    request("POST", `/mod/api/accounts/${encodeURIComponent(name)}/role`, { role }),
  removeAccount: (name) =>
    request("POST", `/mod/api/accounts/${encodeURIComponent(name)}/remove`),
};
