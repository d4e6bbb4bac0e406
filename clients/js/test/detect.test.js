import assert from "node:assert/strict";
import { test } from "node:test";
import { DOWNLOAD_EXTENSIONS, KEEP_PARAMS, asksNotToTrack, cleanUrl, downloadFormat, isOutbound, listed, routeOf } from "../src/detect.js";

test("a listed extension is the download format, in lower case", () => {
  assert.equal(downloadFormat("https://x.org/data/report.CSV?v=2", DOWNLOAD_EXTENSIONS, false), "csv");
  assert.equal(downloadFormat("https://x.org/maps/city.kml#top", "kml,shp", false), "kml");
});

test("pages and unlisted extensions are not downloads", () => {
  assert.equal(downloadFormat("https://x.org/about", DOWNLOAD_EXTENSIONS, false), null);
  assert.equal(downloadFormat("https://x.org/index.html", DOWNLOAD_EXTENSIONS, false), null);
  assert.equal(downloadFormat("https://x.org/a.csv", ["pdf"], false), null);
  // "cs" is not "csv": the list matches whole extensions
  assert.equal(downloadFormat("https://x.org/a.cs", "csv,pdf", false), null);
  assert.equal(downloadFormat("not a url", DOWNLOAD_EXTENSIONS, true), null);
});

test("a link with a download attribute is a download even without a listed extension", () => {
  assert.equal(downloadFormat("https://x.org/export?id=3", DOWNLOAD_EXTENSIONS, true), "file");
  assert.equal(downloadFormat("https://x.org/a.heic", DOWNLOAD_EXTENSIONS, true), "heic");
});

test("outbound means http(s) to another host", () => {
  assert.equal(isOutbound("https://github.com/x", "shop.example.org"), true);
  assert.equal(isOutbound("https://shop.example.org/cart", "shop.example.org"), false);
  assert.equal(isOutbound("http://shop.example.org:8080/", "shop.example.org"), true);
  assert.equal(isOutbound("mailto:a@b.org", "shop.example.org"), false);
  assert.equal(isOutbound("javascript:void(0)", "shop.example.org"), false);
});

test("Do Not Track and Global Privacy Control are both honoured", () => {
  assert.equal(asksNotToTrack({ doNotTrack: "1" }, {}), true);
  assert.equal(asksNotToTrack({}, { doNotTrack: "1" }), true);
  assert.equal(asksNotToTrack({ doNotTrack: "yes" }, {}), true);
  assert.equal(asksNotToTrack({ globalPrivacyControl: true }, {}), true);
  assert.equal(asksNotToTrack({ doNotTrack: "0", globalPrivacyControl: false }, {}), false);
  assert.equal(asksNotToTrack({ doNotTrack: "unspecified" }, {}), false);
});

test("a route is the path plus a hash route, never an anchor", () => {
  assert.equal(routeOf({ pathname: "/shop", hash: "" }), "/shop");
  assert.equal(routeOf({ pathname: "/shop", hash: "#reviews" }), "/shop");
  assert.equal(routeOf({ pathname: "/", hash: "#/cart" }), "/#/cart");
  assert.equal(routeOf({ pathname: "/", hash: "#!/cart" }), "/#!/cart");
  assert.equal(routeOf({ pathname: "/", hash: "#/reset?token=abc" }), "/#/reset");
  assert.equal(routeOf({ pathname: "/", hash: "#access_token=abc" }), "/");
});

test("a clean URL has no fragment but a route, and only the kept query parameters", () => {
  const clean = (href) => cleanUrl(href, KEEP_PARAMS);
  assert.equal(clean("https://x.org/a?utm_source=n&token=1&utm_campaign=c&ref=hn"), "https://x.org/a?utm_source=n&utm_campaign=c&ref=hn");
  assert.equal(clean("https://x.org/cb#access_token=abc&state=1"), "https://x.org/cb");
  assert.equal(clean("https://x.org/#!/inbox?mail=a@b.org"), "https://x.org/#!/inbox");
  assert.equal(clean("https://x.org/?email=a@b.org"), "https://x.org/");
  assert.equal(clean("https://x.org/?utm_id=7&refx=1&xref=2"), "https://x.org/?utm_id=7");
  assert.equal(cleanUrl("https://x.org/?a=1&b=2#top", ["b"]), "https://x.org/?b=2");
  assert.equal(cleanUrl("https://x.org/?a=1#top", "*"), "https://x.org/?a=1");
  assert.equal(clean("not a url"), "");
});

test("a list names whole names, or every name an entry ending in * starts", () => {
  assert.equal(listed("utm_*,ref", "utm_source"), true);
  assert.equal(listed("utm_*,ref", "ref"), true);
  assert.equal(listed("utm_*,ref", "referrer"), false);
  assert.equal(listed(["page", "q"], "q"), true);
  assert.equal(listed("*", "anything"), true);
  assert.equal(listed("", "a"), false);
});
