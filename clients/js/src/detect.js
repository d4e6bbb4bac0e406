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
  if (ext && ("," + extensions + ",").indexOf("," + ext + ",") >= 0) return ext;
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

/**
 * What identifies a page for view counting: the path, plus the hash when it is a route
 * ("#/cart", "#!/cart"). In-page anchors ("#reviews") and query strings are not new pages.
 */
export function routeOf(loc) {
  const hash = loc.hash || "";
  return loc.pathname + (/^#!?\//.test(hash) ? hash : "");
}
