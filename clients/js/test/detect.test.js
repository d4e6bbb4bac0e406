import assert from "node:assert/strict";
import { test } from "node:test";
import { DOWNLOAD_EXTENSIONS, asksNotToTrack, downloadFormat, isOutbound, routeOf } from "../src/detect.js";

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
});
