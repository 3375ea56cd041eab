// The console's object browser in Debian's Chromium, driven by playwright-core. Started by
// tests/e2e/test_console.py, which runs the server, makes the space and passes:
//   RS_CONSOLE   console URL (http://console.localhost:<port>)
//   RS_TOKEN     operator token
//   RS_SPACE     the space's bucket (empty, with a quota)
//   RS_SHOTS     directory for screenshots
//   RS_TMP       scratch directory
// Walks: upload a folder of 20 files and a 200 MiB file with progress, open the folder,
// download a file and compare its bytes, make a share link and fetch it in a fresh context
// without cookies, delete the folder (the count confirmed), see usage drop; upload and delete
// with the keyboard only; screenshots at desktop and phone width; no script errors.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { randomBytes, createHash } from "node:crypto";
import assert from "node:assert/strict";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const [CONSOLE, TOKEN, SPACE, SHOTS, TMP] = ["RS_CONSOLE", "RS_TOKEN", "RS_SPACE", "RS_SHOTS", "RS_TMP"].map(env);
const step = (m) => console.log(`step: ${m}`);
const sha = (b) => createHash("sha256").update(b).digest("hex");

// The files: a folder of 20, and one of 200 MiB.
const folder = `${TMP}/release-1.0`;
mkdirSync(folder, { recursive: true });
const small = {};
for (let i = 0; i < 20; i++) {
  const name = `asset-${String(i).padStart(2, "0")}.txt`;
  const body = `asset ${i} ${"x".repeat(i * 100)}\n`;
  writeFileSync(`${folder}/${name}`, body);
  small[name] = body;
}
const bigPath = `${TMP}/image.iso`;
const big = randomBytes(200 * 1024 * 1024);
writeFileSync(bigPath, big);
const bigSum = sha(big);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let page;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page = await ctx.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = async (name) => {
    await page.screenshot({ path: `${SHOTS}/${name}-desktop.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/${name}-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  };

  step("log in and open the space's objects");
  await page.goto(CONSOLE);
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Object Spaces" }).waitFor();
  await page.goto(`${CONSOLE}/#/spaces/${SPACE}`);
  await page.getByRole("link", { name: "Browse objects" }).click();
  await page.getByRole("heading", { name: /^Objects in / }).waitFor();
  await page.locator("#objects-status", { hasText: "Empty." }).waitFor();
  const usageBefore = await page.locator("#objects-usage").innerText();
  await shot("20-objects-empty");

  step("upload a folder of 20 files");
  await page.locator("#upload-folder").setInputFiles(folder);
  await page.locator("#upload-progress li", { hasText: "asset-19.txt" }).locator("text=done").waitFor({ timeout: 60000 });
  await page.locator('#objects-table tr[data-prefix="release-1.0/"]').waitFor();

  step("upload a 200 MiB file in parts, with progress");
  await page.locator("#upload-files").setInputFiles(bigPath);
  const bar = page.locator('#upload-progress li[data-path="image.iso"] progress');
  await bar.waitFor();
  // Progress moves while the parts go.
  await page.waitForFunction(() => {
    const b = document.querySelector('#upload-progress li[data-path="image.iso"] progress');
    return b && b.value > 0 && b.value < b.max;
  }, null, { timeout: 120000 });
  await shot("21-objects-uploading");
  await page.locator('#upload-progress li[data-path="image.iso"]', { hasText: "done" }).waitFor({ timeout: 300000 });
  await page.locator('#objects-table tr[data-key="image.iso"]').waitFor();
  assert.match(await page.locator('#objects-table tr[data-key="image.iso"]').innerText(), /200 MiB/);

  step("a large upload can be cancelled: no object, no parts left");
  // 80 MiB: five parts, and the quota (300 MiB, 200 used) still allows it. The second part is
  // held back, so the cancel lands mid-upload however fast this machine is.
  writeFileSync(`${TMP}/cancelled.bin`, randomBytes(80 * 1024 * 1024));
  await page.route(/\/objects\/multipart\/[^/]+\/2\?/, () => { /* held until the cancel aborts it */ });
  await page.locator("#upload-files").setInputFiles(`${TMP}/cancelled.bin`);
  await page.waitForFunction(() => {
    const b = document.querySelector('#upload-progress li[data-path="cancelled.bin"] progress');
    return b && b.value > 0;
  }, null, { timeout: 120000 });
  await page.getByRole("button", { name: "Cancel upload" }).click();
  await page.locator('#upload-progress li[data-path="cancelled.bin"]', { hasText: "cancelled" }).waitFor();
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await page.locator("#objects-status", { hasText: "1 folders, 1 objects" }).waitFor();
  assert.equal(await page.locator('#objects-table tr[data-key="cancelled.bin"]').count(), 0);

  step("the big file's bytes come back whole");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download image.iso" }).click()]);
  assert.equal(dl.suggestedFilename(), "image.iso");
  assert.equal(sha(readFileSync(await dl.path())), bigSum, "the 200 MiB file downloads byte for byte");

  step("open the folder and sort it");
  await page.getByRole("link", { name: "release-1.0/" }).click();
  await page.locator("#crumbs", { hasText: "release-1.0" }).waitFor();
  await page.locator("#objects-table tbody tr").nth(19).waitFor();
  assert.equal(await page.locator("#objects-table tbody tr").count(), 20);
  await page.getByRole("button", { name: "Size" }).click();
  await page.getByRole("button", { name: "Size" }).click();
  assert.equal(await page.locator("#objects-table tbody tr").first().getAttribute("data-key"), "release-1.0/asset-19.txt", "largest first");
  await page.getByLabel("Filter by name").fill("asset-0");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#objects-status", { hasText: "10 objects" }).waitFor();
  await page.getByLabel("Filter by name").fill("");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#objects-status", { hasText: "20 objects" }).waitFor();
  await shot("22-objects-folder");

  step("download a file and compare its bytes");
  const [d2] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download asset-07.txt" }).click()]);
  assert.equal(d2.suggestedFilename(), "asset-07.txt");
  assert.equal(readFileSync(await d2.path(), "utf8"), small["asset-07.txt"]);

  step("details and a share link, fetched with no session");
  await page.getByRole("button", { name: "asset-07.txt" }).click();
  await page.locator("#object-details #od-size", { hasText: `${Buffer.byteLength(small["asset-07.txt"])} bytes` }).waitFor();
  assert.equal(await page.locator("#object-versions").innerText(), "", "nothing about versions in an unversioned space");
  await page.locator("#share-form").getByLabel("Valid for").selectOption("86400");
  await page.getByRole("button", { name: "Create share link" }).click();
  const url = await page.locator("#share-url").inputValue();
  assert.match(url, /X-Amz-Signature=/);
  await shot("23-objects-share");
  const fresh = await browser.newContext();
  assert.equal((await fresh.cookies()).length, 0);
  const r = await fresh.request.get(url);
  assert.equal(r.status(), 200);
  assert.equal(await r.text(), small["asset-07.txt"]);
  await fresh.close();

  step("delete the folder: the count is confirmed, usage drops");
  await page.locator("#crumbs").getByRole("link", { name: SPACE }).click();
  await page.locator('#objects-table tr[data-prefix="release-1.0/"]').waitFor();
  await page.getByLabel("Select folder release-1.0/").check();
  await page.getByRole("button", { name: "Delete selected" }).click();
  await page.locator("#confirm-title", { hasText: "Delete 20 objects?" }).waitFor();
  await shot("24-objects-delete-confirm");
  await page.locator("#confirm").getByRole("button", { name: "Delete 20 objects" }).click();
  await page.locator('#objects-table tr[data-prefix="release-1.0/"]').waitFor({ state: "detached" });
  await page.locator("#objects-usage", { hasText: "in 1 objects" }).waitFor();
  assert.notEqual(await page.locator("#objects-usage").innerText(), usageBefore);

  step("keyboard only: upload a file, then delete it");
  writeFileSync(`${TMP}/notes.txt`, "typed with the keyboard\n");
  await page.locator("#upload-files").focus();
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Space")]);
  await chooser.setFiles(`${TMP}/notes.txt`);
  await page.locator('#objects-table tr[data-key="notes.txt"]').waitFor();
  await page.getByLabel("Select notes.txt").focus();
  await page.keyboard.press("Space");
  await page.getByRole("button", { name: "Delete selected" }).focus();
  await page.keyboard.press("Enter");
  await page.locator("#confirm-title", { hasText: "Delete 1 object?" }).waitFor();
  await page.locator("#confirm").getByRole("button", { name: "Delete 1 object" }).focus();
  await page.keyboard.press("Enter");
  await page.locator('#objects-table tr[data-key="notes.txt"]').waitFor({ state: "detached" });

  step("the quota is checked before any byte is sent");
  // The space's quota is 300 MiB and 200 MiB are used.
  writeFileSync(`${TMP}/huge.bin`, Buffer.alloc(150 * 1024 * 1024));
  await page.locator("#upload-files").setInputFiles(`${TMP}/huge.bin`);
  await page.locator("#upload-error", { hasText: "quota" }).waitFor();
  assert.match(await page.locator("#upload-error").innerText(), /Nothing was sent/);
  assert.equal(await page.locator('#objects-table tr[data-key="huge.bin"]').count(), 0);
  await shot("25-objects-quota");

  step("drag and drop: dropped files are uploaded");
  await page.locator("#dropzone").evaluate((zone) => {
    const dt = new DataTransfer();
    dt.items.add(new File(["dropped one\n"], "dropped-1.txt", { type: "text/plain" }));
    dt.items.add(new File(["dropped two\n"], "dropped-2.txt", { type: "text/plain" }));
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.locator('#objects-table tr[data-key="dropped-2.txt"]').waitFor();
  await page.getByLabel("Select dropped-1.txt").check();
  await page.getByLabel("Select dropped-2.txt").check();
  await page.getByRole("button", { name: "Delete selected" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Delete 2 objects" }).click();
  await page.locator('#objects-table tr[data-key="dropped-2.txt"]').waitFor({ state: "detached" });

  step("operator views: spaces filtered by tenant and purpose, and the tenant's page");
  const tenant = SPACE.split("-")[1];
  await page.goto(`${CONSOLE}/#/spaces?tenant=${tenant}&purpose=artifacts`);
  await page.locator(`#spaces tr[data-space="${SPACE}"]`).waitFor();
  assert.equal(await page.locator("#spaces tbody tr").count(), 1);
  assert.match(await page.locator("#spaces-count").innerText(), /1–1 of 1/);
  await shot("27-spaces-filtered");
  await page.goto(`${CONSOLE}/#/spaces?tenant=${tenant}&purpose=registry`);
  await page.getByText("No spaces match.").waitFor();
  await page.goto(`${CONSOLE}/#/spaces?tenant=${tenant}`);
  await page.locator(`#spaces tr[data-space="${SPACE}"]`).getByRole("link", { name: tenant }).click();
  await page.getByRole("heading", { name: `Tenant ${tenant}` }).waitFor();
  assert.equal(await page.locator("#tenant-spaces").innerText(), "1");
  assert.equal(await page.locator("#tenant-ceiling").innerText(), "300 MiB");
  assert.equal(await page.locator("#tenant-keys").innerText(), "1", "the share link's signing key");
  await shot("26-tenant");

  assert.deepEqual(errors, [], "no script errors");
  step("done");
} catch (e) {
  if (page) await page.screenshot({ path: `${SHOTS}/objects-failure.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
