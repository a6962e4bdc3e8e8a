// Crisis lines by region: the chosen region's lines first, a picker to change it, and every
// other region's lines one tap further (in a <details>). The list is the server's
// (/api/resources: HARBOR_RESOURCES or the defaults); the HTML each page ships with lists the
// defaults, so help works before this runs and without JavaScript.

import { browserHints, guessRegion, regionName } from "./regions.js";

const STORE_KEY = "harbor.region"; // cleared with everything else by quick exit and Forget me
const SAFE_HREF = /^(tel:|sms:|https:)/i;

let listPromise = null;

/** The server's resources, fetched once per page; null when they can't be had. */
export function fetchResources() {
  listPromise ??= fetch("/api/resources", { cache: "no-store", credentials: "omit" })
    .then((response) => (response.ok ? response.json() : null))
    .then((data) => (Array.isArray(data?.resources) ? data.resources.filter(valid) : null))
    .catch(() => null);
  return listPromise;
}

function valid(r) {
  return r && typeof r === "object" && ["name", "action", "href", "region"].every(
    (key) => typeof r[key] === "string" && r[key].trim(),
  );
}

function stored() {
  try {
    return window.localStorage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

function remember(code) {
  try {
    window.localStorage.setItem(STORE_KEY, code);
  } catch {
    // storage blocked: the guess stands next time
  }
}

/** The region whose lines come first: the person's choice, else the browser's hint. */
export function chosenRegion(codes) {
  const known = Object.fromEntries(codes.map((c) => [c, true]));
  const choice = stored();
  if (choice !== null && (choice === "" || choice in known)) return choice || null;
  return guessRegion(browserHints(), known);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function item(resource, headingLevel) {
  const li = el("li");
  li.append(el(`h${headingLevel}`, "", resource.name));
  const p = el("p");
  if (SAFE_HREF.test(resource.href)) {
    const a = el("a", "", resource.action);
    a.href = resource.href;
    a.rel = "noreferrer";
    p.append(a);
  } else {
    p.textContent = resource.action;
  }
  li.append(p);
  return li;
}

function regionList(resources, headingLevel) {
  const ul = el("ul", "resources");
  ul.append(...resources.map((r) => item(r, headingLevel)));
  return ul;
}

/**
 * Replace `container`'s children with the lines by region.
 * @param {HTMLElement} container
 * @param {object[]} resources  {name, action, href, region}
 * @param {{idPrefix: string, headingLevel: number, onChange?: (code: string|null) => void}} options
 */
export function renderByRegion(container, resources, options) {
  const { idPrefix, headingLevel } = options;
  const codes = [...new Set(resources.map((r) => r.region).filter((c) => c !== "INT"))];
  const region = chosenRegion(codes);
  const everywhere = resources.filter((r) => r.region === "INT");

  const pick = el("p", "region-pick");
  const label = el("label", "", "Lines for ");
  const select = el("select");
  select.id = `${idPrefix}-region`;
  label.htmlFor = select.id;
  select.append(new Option("All countries", ""));
  for (const code of codes) select.append(new Option(regionName(code), code));
  select.value = region ?? "";
  pick.append(label, select);

  const parts = [pick];
  if (region) {
    parts.push(regionList([...resources.filter((r) => r.region === region), ...everywhere], headingLevel));
    const others = el("details", "other-regions");
    others.append(el("summary", "", "Lines in other countries"));
    for (const code of codes.filter((c) => c !== region)) {
      others.append(el(`h${headingLevel}`, "region-name", regionName(code)));
      others.append(regionList(resources.filter((r) => r.region === code), headingLevel + 1));
    }
    parts.push(others);
  } else {
    for (const code of codes) {
      parts.push(el(`h${headingLevel}`, "region-name", regionName(code)));
      parts.push(regionList(resources.filter((r) => r.region === code), headingLevel + 1));
    }
    if (everywhere.length) parts.push(regionList(everywhere, headingLevel));
  }
  container.replaceChildren(...parts);
  container.dataset.region = region ?? "";
  select.addEventListener("change", () => {
    remember(select.value);
    renderByRegion(container, resources, options);
    container.querySelector("select")?.focus();
    options.onChange?.(select.value || null);
  });
}

/** Upgrade `container` (the shipped default list) to the server's list by region. */
export async function showResourcesByRegion(container, options) {
  if (!container) return;
  const resources = await fetchResources();
  if (resources && resources.length) renderByRegion(container, resources, options);
}
