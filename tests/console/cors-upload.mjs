// A web application uploading straight to the S3 endpoint from Debian's Chromium, under the
// bucket's CORS rules: a presigned PUT (with its preflight) and a presigned POST form from the
// allowed origin, and the same PUT refused by the browser from another origin. Started by
// tests/e2e/test_console.py, which passes:
//   RS_APP       the allowed page's origin (http://app.localhost:<port>)
//   RS_EVIL      another origin (http://evil.localhost:<port>)
//   RS_PUT       a presigned PUT URL (Content-Type text/plain)
//   RS_PUT2      another presigned PUT URL, for the other origin
//   RS_POST      JSON of a presigned POST: {"url": ..., "fields": {...}}
// It prints one JSON line with what the pages saw.
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const [APP, EVIL, PUT, PUT2, POST] = ["RS_APP", "RS_EVIL", "RS_PUT", "RS_PUT2", "RS_POST"].map(env);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const errors = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${APP}/index.html`);
  const put = await page.evaluate(async (url) => {
    const r = await fetch(url, { method: "PUT", body: "uploaded by a web page", headers: { "Content-Type": "text/plain" } });
    return { status: r.status, etag: r.headers.get("ETag") };
  }, PUT);
  const post = await page.evaluate(async (p) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(p.fields)) form.append(k, v);
    form.append("file", new Blob(["posted by a web page"], { type: "text/plain" }), "post.txt");
    const r = await fetch(p.url, { method: "POST", body: form });
    return { status: r.status };
  }, JSON.parse(POST));

  const other = await browser.newPage();
  await other.goto(`${EVIL}/index.html`);
  const blocked = await other.evaluate(async (url) => {
    try {
      const r = await fetch(url, { method: "PUT", body: "from elsewhere", headers: { "Content-Type": "text/plain" } });
      return { status: r.status };
    } catch (e) {
      return { error: String(e) };
    }
  }, PUT2);
  console.log(JSON.stringify({ put, post, blocked, errors }));
} finally {
  await browser.close();
}
