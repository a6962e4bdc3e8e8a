// Roles on the dashboard (server: casework/roles.py, server/accounts_api.py). The page shows
// each moderator only what their role may do; the server checks every request again, so hiding
// is a courtesy, never the guard.
//
// Coordinators and admins get the Accounts panel: every account with its role and whether it is
// on duty, a role to change and an account to remove (each asked to confirm).

import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { $, announce, el } from "./dom.js";

const RANK = { volunteer: 0, coordinator: 1, admin: 2 };
const ROLES = Object.keys(RANK);

let myRole = null;
let myName = null;

/** Whether the signed-in moderator's role reaches `needed`. */
export function allows(needed) {
  return myRole !== null && RANK[myRole] >= RANK[needed];
}

/** Set on sign-in (and cleared on sign-out): shows or hides what the role opens. */
export function setRole(name, role) {
  myName = name;
  myRole = name !== null && role in RANK ? role : null;
  document.body.dataset.role = myRole ?? "";
  $("my-role").textContent = myRole ? ` (${myRole})` : "";
  for (const node of document.querySelectorAll("[data-needs-role]")) {
    node.hidden = !allows(node.dataset.needsRole);
  }
  if (allows("coordinator")) loadAccounts();
  else $("accounts-body").replaceChildren();
}

function say(text) {
  $("accounts-status").textContent = text;
  announce(text);
}

/** Load the accounts list. A refresh (`quiet`: the timer's, and the one after an action)
 * keeps the last list on failure and leaves the status line alone: the line holds the answer
 * to what the moderator just did, and a screen reader should not hear a failure every few
 * seconds. */
export async function loadAccounts({ quiet = false } = {}) {
  if (!allows("coordinator")) return;
  let data;
  try {
    data = await api.accounts();
  } catch (failure) {
    if (!quiet) say(`Couldn't load the accounts: ${failure.message}`);
    return;
  }
  const rows = (Array.isArray(data.accounts) ? data.accounts : []).map(accountRow);
  $("accounts-body").replaceChildren(...rows);
}

function accountRow(account) {
  const tr = el("tr");
  tr.dataset.name = account.name;
  const own = account.name === myName;
  // What this moderator may do to the account (the server's casework.roles.may_manage).
  const manageable = !own && allows(account.role);
  const select = el("select");
  select.setAttribute("aria-label", `Role of ${account.name}`);
  for (const role of ROLES) {
    const option = el("option", "", role);
    option.value = role;
    option.disabled = !allows(role);
    select.append(option);
  }
  select.value = account.role;
  select.disabled = !manageable;
  select.addEventListener("change", () => changeRole(account, select));
  const remove = el("button", "btn btn-quiet", "Remove");
  remove.type = "button";
  remove.disabled = !manageable;
  remove.setAttribute("aria-label", `Remove ${account.name}`);
  remove.addEventListener("click", () => removeAccount(account));
  const duty = account.on_duty ? "on duty" : "";
  tr.append(
    el("td", "", own ? `${account.name} (you)` : account.name),
    cell(select),
    el("td", "small", duty),
    cell(remove),
  );
  return tr;
}

function cell(child) {
  const td = el("td");
  td.append(child);
  return td;
}

async function changeRole(account, select) {
  const role = select.value;
  try {
    await api.setRole(account.name, role);
    say(`${account.name} is now ${role === "admin" ? "an" : "a"} ${role}.`);
  } catch (failure) {
    say(`Couldn't change ${account.name}'s role: ${failure.message}`);
  }
  loadAccounts({ quiet: true });
}

async function removeAccount(account) {
  const sure = await confirmAction(
    `Remove ${account.name}'s account? Their dashboards close at once and they can't sign in again until an operator adds them back.`,
    "Remove account",
  );
  if (!sure) return;
  try {
    await api.removeAccount(account.name);
    say(`${account.name}'s account was removed.`);
  } catch (failure) {
    say(`Couldn't remove ${account.name}: ${failure.message}`);
  }
  loadAccounts({ quiet: true });
}
