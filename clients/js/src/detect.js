// Pure functions that look at URLs and browser signals. No state, no side effects.

/** File extensions whose links count as downloads unless configured otherwise. */
export const DOWNLOAD_EXTENSIONS =
  "7z,apk,csv,dmg,doc,docx,epub,exe,gz,iso,json,kml,kmz,mp3,mp4,msi,ods,odt,parquet,pdf,ppt,pptx,rar,shp,tar,tgz,tsv,txt,xls,xlsx,xml,zip";

/**
 * The download format of a link: its extension when it is one of `extensions` (an array or
 * a comma-separated string, lower case, no dots),
 * "file" for a link with a `download` attribute and no listed extension, else null.
 */
export function downloadFormat(href, extensions, hasDownloadAttribute) {
  let path = "";
  try {
    path = new URL(href).pathname;
  } catch (_) {
    return null;
  }
  const match = /\.([a-z0-9]{1,10})$/i.exec(path);
  const ext = match ? match[1].toLowerCase() : "";
  if (ext && listed(extensions, ext)) return ext;
  return hasDownloadAttribute ? ext || "file" : null;
}

/** True for an http(s) link to another host than the page's. */
export function isOutbound(href, pageHost) {
  try {
    const url = new URL(href);
    return /^https?:$/.test(url.protocol) && url.host !== pageHost;
  } catch (_) {
    return false;
  }
}

/** True when the browser asks not to be tracked: Do Not Track or Global Privacy Control. */
export function asksNotToTrack(nav, win) {
  const dnt = (nav && nav.doNotTrack) || (win && win.doNotTrack);
  return dnt === "1" || dnt === "yes" || !!(nav && nav.globalPrivacyControl === true);
}

/** Query parameters kept in sent URLs unless configured otherwise: campaign tags, not secrets. */
export const KEEP_PARAMS = "utm_*,ref";

/**
 * `href` as it may leave the page: without its fragment, except a hash route ("#/cart", minus
 * any "?..." of its own), and with only the query parameters `keep` lists. URLs carry
 * password-reset tokens, "#access_token=..." and e-mail addresses that must not end up in
 * analytics. "" when `href` is not a URL.
 */
export function cleanUrl(href, keep) {
  try {
    const url = new URL(href);
    const params = url.searchParams;
    url.hash = hashRoute(url.hash);
    [...params.keys()].map((name) => listed(keep, name) || params.delete(name));
    return url.href;
  } catch (_) {
    return "";
  }
}

/**
 * True when `list` (an array or "a,b") names `name`; an entry ending in "*" names every name
 * it starts ("utm_*"; "*" alone: all). Whole names only: "cs" does not list "csv".
 */
export function listed(list, name) {
  return String(list)
    .split(",")
    .some((entry) => entry == name || (entry.slice(-1) == "*" && !name.indexOf(entry.slice(0, -1))));
}

/**
 * What identifies a page for view counting: the path, plus the hash when it is a route
 * ("#/cart", "#!/cart"). In-page anchors ("#reviews") and query strings (of the page or of
 * the route: "#/cart?coupon=...") are not new pages.
 */
export function routeOf(loc) {
  return loc.pathname + hashRoute(loc.hash);
}

/** The route in a fragment ("#/cart" of "#/cart?x=1"), or "" for an anchor or a token. */
function hashRoute(hash) {
  return /^#!?\//.test(hash) ? hash.split("?")[0] : "";
}
