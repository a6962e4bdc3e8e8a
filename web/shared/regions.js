// Which country's crisis lines to show first, guessed from the browser (its time zone, then its
// language's region), never asked of a server and never sent anywhere but the chat's hello.
// Pure: the caller passes what the browser reports.

/** Regions with default lines (server/support.py), in the order the picker lists them. */
export const REGION_NAMES = {
  US: "United States",
  CA: "Canada",
  GB: "United Kingdom",
  IE: "Ireland",
  EU: "European Union",
  AU: "Australia",
  NZ: "New Zealand",
};

// European Union members: 112 reaches emergency services in each.
const EU = new Set([
  "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IT", "LV",
  "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
]);

// Time zones that name a region unambiguously enough to pick its lines.
const ZONES = [
  [/^Europe\/London$|^Europe\/Belfast$/, "GB"],
  [/^Europe\/Dublin$/, "IE"],
  [/^Australia\//, "AU"],
  [/^Pacific\/(Auckland|Chatham)$/, "NZ"],
  [/^America\/(Toronto|Vancouver|Edmonton|Winnipeg|Halifax|St_Johns|Regina|Moncton|Whitehorse|Yellowknife|Iqaluit|Glace_Bay|Goose_Bay|Dawson_Creek|Rankin_Inlet)$/, "CA"],
  [/^America\/(New_York|Chicago|Denver|Los_Angeles|Phoenix|Anchorage|Detroit|Boise|Indiana\/.*|Kentucky\/.*|North_Dakota\/.*|Adak|Juneau|Sitka|Nome|Menominee)$|^Pacific\/Honolulu$/, "US"],
  [/^Europe\/(Vienna|Brussels|Sofia|Zagreb|Nicosia|Prague|Copenhagen|Tallinn|Helsinki|Paris|Berlin|Athens|Budapest|Rome|Riga|Vilnius|Luxembourg|Malta|Amsterdam|Warsaw|Lisbon|Bucharest|Bratislava|Ljubljana|Madrid|Stockholm)$|^Atlantic\/(Canary|Madeira|Azores)$/, "EU"],
];

/** A region code for a country code: EU members map to "EU". */
export function regionOfCountry(country) {
  const code = String(country ?? "").toUpperCase();
  if (EU.has(code)) return "EU";
  return code === "UK" ? "GB" : code;
}

/** The region to show first: from the time zone when it names one, else from the first
 * language with a region ("en-GB"), else null (then every region is listed alike). */
export function guessRegion({ timeZone = "", languages = [] } = {}, known = REGION_NAMES) {
  for (const [pattern, region] of ZONES) {
    if (pattern.test(timeZone) && region in known) return region;
  }
  for (const language of languages) {
    const country = /^[a-z]{2,3}[-_]([A-Za-z]{2})\b/.exec(String(language))?.[1];
    const region = country ? regionOfCountry(country) : null;
    if (region && region in known) return region;
  }
  return null;
}

/** What this browser reports, for guessRegion. */
export function browserHints() {
  let timeZone = "";
  try {
    timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
  } catch {
    // no Intl time zone: the language decides
  }
  const languages = navigator.languages?.length ? navigator.languages : [navigator.language];
  return { timeZone, languages };
}

export function regionName(code) {
  if (code in REGION_NAMES) return REGION_NAMES[code];
  if (code === "INT") return "Everywhere";
  try {
    return new Intl.DisplayNames(["en"], { type: "region" }).of(code) ?? code;
  } catch {
    return code;
  }
}
