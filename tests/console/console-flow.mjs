// The console's whole path in Debian's Chromium, driven by playwright-core. Started by
// tests/e2e/test_console.py, which runs the server and passes:
//   RS_CONSOLE   console URL (http://console.localhost:<port>)
//   RS_TOKEN     operator token
//   RS_ENDPOINT  S3 endpoint (http://127.0.0.1:<port>)
//   RS_REPO      a repository (with one published snapshot) to look at
//   RS_SHOTS     directory for screenshots
//   RS_TMP       scratch directory
// It prints one line per step and never prints a secret; secrets are masked in screenshots.
import { chromium } from "playwright-core";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import assert from "node:assert/strict";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const [CONSOLE, TOKEN, ENDPOINT, REPO, SHOTS, TMP] = ["RS_CONSOLE", "RS_TOKEN", "RS_ENDPOINT", "RS_REPO", "RS_SHOTS", "RS_TMP"].map(env);
const suffix = Math.random().toString(36).slice(2, 8);
const tenant = `web${suffix}`;
const spaceName = `site${suffix}`;
const bucket = `rs-${tenant}-${spaceName}`;
const secrets = new Set();
const mask = (s) => [...secrets].reduce((t, x) => t.split(x).join("***"), String(s));
const step = (m) => console.log(`step: ${m}`);

function aws(args, key, secret) {
  const e = { ...process.env, AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: secret, AWS_DEFAULT_REGION: "us-east-1" };
  delete e.AWS_CA_BUNDLE;
  return spawnSync("aws", ["--endpoint-url", ENDPOINT, ...args], { env: e, encoding: "utf8", timeout: 120000 });
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let page;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
  const consoleErrors = [];
  // Deliberate bad input answers 4xx, which Chromium logs; anything else is a failure.
  page.on("console", (m) => { if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const shot = (name, opts = {}) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true, ...opts });

  step("log in");
  await page.goto(CONSOLE);
  await page.getByLabel("Admin token").fill("rsat_not_a_real_token");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".field.invalid .error", { hasText: "not valid" }).waitFor();
  await shot("01-login-error");
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.keyboard.press("Enter"); // keyboard submits the form
  await page.getByRole("heading", { name: "Object Spaces" }).waitFor();
  const cookies = await ctx.cookies();
  const sc = cookies.find((c) => c.name === "rs_console");
  assert.ok(sc && sc.httpOnly && sc.sameSite === "Strict", "session cookie is HttpOnly and SameSite=Strict");
  assert.equal(await page.evaluate(() => document.cookie.includes("rs_console")), false, "scripts cannot read the session cookie");

  step("create a tenant and a space");
  await page.getByLabel("Tenant name").fill(tenant);
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.locator(`#create-space select[name=tenant] option[value="${tenant}"]`).waitFor({ state: "attached" });
  // A bad name is refused with the API's message next to the Name field.
  await page.locator("#create-space").getByLabel("Name").fill("Bad_Name");
  await page.locator("#create-space").getByLabel("Tenant").selectOption(tenant);
  await page.getByRole("button", { name: "Create space" }).click();
  await page.locator('#create-space [data-field="name"].invalid .error').waitFor();
  await page.locator("#create-space").getByLabel("Quota").fill("lots");
  await page.locator("#create-space").getByLabel("Name").fill(spaceName);
  await page.getByRole("button", { name: "Create space" }).click();
  await page.locator('#create-space [data-field="quota"].invalid .error', { hasText: "size" }).waitFor();
  await shot("02-spaces-create-errors");
  await page.locator("#create-space").getByLabel("Quota").fill("1GiB");
  await page.locator("#create-space").getByLabel("Purpose").selectOption("artifacts");
  await page.getByRole("button", { name: "Create space" }).click();
  await page.getByRole("heading", { name: `Space ${spaceName}` }).waitFor();
  assert.match(await page.locator("#s3-access h2").innerText(), /S3 API Access: authenticated endpoint/);
  assert.match(await page.locator("#public-access h2").innerText(), /Public Web Access: disabled/);
  await shot("03-space-detail");

  step("create a key; the secret is shown once");
  await page.locator("#create-key").getByLabel("Key name").fill("release-ci");
  await page.locator("#create-key").getByLabel("Mode").selectOption("read-write");
  await page.locator("#create-key").getByLabel("Prefix").fill("releases/");
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.locator("#secret");
  await dialog.waitFor({ state: "visible" });
  const ak = await dialog.locator('[data-secret-field="Access Key"]').innerText();
  const sk = await dialog.locator('[data-secret-field="Secret Key"]').innerText();
  secrets.add(sk);
  assert.match(ak, /^RS3[A-Z0-9]{17}$/);
  assert.equal(sk.length, 40);
  const awsCmd = await dialog.locator('pre[data-command="aws"]').innerText();
  assert.ok(awsCmd.includes(`s3://${bucket}/releases/`) && awsCmd.includes(ak), "aws command names the bucket, prefix and key");
  for (const k of ["s3cmd", "rclone"]) assert.ok((await dialog.locator(`pre[data-command="${k}"]`).innerText()).includes(ak));
  await shot("04-key-secret-dialog", { mask: [dialog.locator('[data-secret-field="Secret Key"]'), dialog.locator("pre")] });
  await dialog.getByRole("button", { name: "I have saved it" }).click();
  await page.locator(`#keys-table tr[data-key="${ak}"]`).waitFor();

  step("reload: the secret is gone");
  await page.reload();
  await page.getByRole("heading", { name: `Space ${spaceName}` }).waitFor();
  const html = await page.content();
  assert.ok(!html.includes(sk), "the secret is not in the page after a reload");
  const body = await page.evaluate(() => document.body.innerText);
  assert.ok(body.includes(ak) && !body.includes(sk));

  step("upload with aws-cli using that key");
  const file = `${TMP}/hello.txt`;
  writeFileSync(file, `hello from the console test ${suffix}\n`);
  let r = aws(["s3", "cp", file, `s3://${bucket}/releases/hello.txt`], ak, sk);
  assert.equal(r.status, 0, `aws s3 cp failed: ${mask(r.stderr)}`);
  r = aws(["s3", "cp", file, `s3://${bucket}/elsewhere/hello.txt`], ak, sk);
  assert.notEqual(r.status, 0, "the key's prefix is enforced");

  step("enable public access and fetch from the CDN face");
  await page.getByRole("button", { name: "Enable public web access" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Enable public access" }).click();
  await page.locator("#public-state", { hasText: "enabled" }).waitFor();
  const publicUrl = await page.locator("#public-url").innerText();
  assert.match(publicUrl, /^http:\/\/cdn\.localhost:\d+\//);
  await page.locator("#rules").waitFor();
  await shot("05-public-enabled");
  const cdnPage = await ctx.newPage();
  const resp = await cdnPage.goto(`${publicUrl}releases/hello.txt`);
  assert.equal(resp.status(), 200);
  assert.equal(await resp.text(), `hello from the console test ${suffix}\n`);
  await cdnPage.close();

  step("publication rules are saved");
  await page.locator("#rules").getByLabel("Cache-Control").fill("public, max-age=42");
  await page.getByRole("button", { name: "Save rules" }).click();
  await page.locator("#rules").waitFor();
  await page.waitForFunction(() => document.querySelector('#rules [name="cache_control"]')?.value === "public, max-age=42");
  // A fresh context: the first one's HTTP cache still holds the earlier response.
  const fresh = await browser.newContext();
  const again = await (await fresh.newPage()).goto(`${publicUrl}releases/hello.txt`);
  assert.equal(again.headers()["cache-control"], "public, max-age=42", "the edge serves the new rules at once");
  await fresh.close();
  // A bad rule is refused next to its field, and nothing changes.
  await page.locator("#rules").getByLabel("CORS allowed origins").fill("not a url");
  await page.getByRole("button", { name: "Save rules" }).click();
  await page.locator('#rules [data-field="cors_origins"].invalid .error').waitFor();

  step("versioning: enable, keep a version, restore it");
  await page.getByRole("button", { name: "Enable versioning" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Enable versioning" }).click();
  await page.locator("#versioning-state", { hasText: "enabled" }).waitFor();
  const file2 = `${TMP}/hello2.txt`;
  writeFileSync(file2, `second version ${suffix}\n`);
  r = aws(["s3", "cp", file2, `s3://${bucket}/releases/hello.txt`], ak, sk);
  assert.equal(r.status, 0, `aws s3 cp failed: ${mask(r.stderr)}`);
  const versions = page.locator("#find-versions");
  await versions.getByLabel("Key or prefix").fill("releases/hello.txt");
  await versions.getByRole("button", { name: "Show versions" }).click();
  await page.locator("#versions-table tbody tr").nth(1).waitFor();
  assert.equal(await page.locator("#versions-table tbody tr").count(), 2, "the version from before versioning, and the new one");
  await shot("12-versions");
  await page.getByRole("button", { name: "Restore version null of releases/hello.txt" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Restore version" }).click();
  await page.locator("#versions-table tbody tr").nth(2).waitFor();
  r = aws(["s3", "cp", `s3://${bucket}/releases/hello.txt`, "-"], ak, sk);
  assert.equal(r.stdout, `hello from the console test ${suffix}\n`, "the restored version is current");
  await page.reload();
  await page.locator("#usage-noncurrent", { hasText: "2 versions" }).waitFor();

  step("object lock: the CDN's immutable prefix made write-once in one step");
  await page.locator("#rules").getByLabel("CORS allowed origins").fill("");
  await page.locator("#rules").getByLabel("Immutable prefixes").fill("releases/");
  await page.getByRole("button", { name: "Save rules" }).click();
  const offer = page.locator('.write-once-offer[data-prefix="releases/"]');
  await offer.waitFor();
  await offer.getByLabel("Keep each object").selectOption("30");
  await offer.getByRole("button", { name: "Make releases/ write-once" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Make write-once" }).click();
  await page.locator('#write-once-prefixes li[data-prefix="releases/"]', { hasText: "30 days" }).waitFor();
  await page.locator("#lock-state", { hasText: "enabled" }).waitFor();
  assert.equal(await page.locator(".write-once-offer").count(), 0, "nothing left to offer");
  await shot("14-write-once");
  // The version there predates the rule; the next write is locked, and then nothing replaces it.
  r = aws(["s3", "cp", file, `s3://${bucket}/releases/hello.txt`], ak, sk);
  assert.equal(r.status, 0, `aws s3 cp failed: ${mask(r.stderr)}`);
  r = aws(["s3", "cp", file2, `s3://${bucket}/releases/hello.txt`], ak, sk);
  assert.notEqual(r.status, 0, "a write-once key cannot be overwritten");
  assert.match(r.stderr, /AccessDenied/);
  r = aws(["s3", "cp", `s3://${bucket}/releases/hello.txt`, "-"], ak, sk);
  assert.equal(r.stdout, `hello from the console test ${suffix}\n`, "the locked version is current");

  step("lifecycle rules: a refused rule at its field, then saved");
  const lc = page.locator("#lifecycle-form");
  await lc.getByLabel("Rules (JSON)").fill('[{"id": "ci", "prefix": "ci/", "expire_days": 0}]');
  await lc.getByRole("button", { name: "Save lifecycle rules" }).click();
  await lc.locator(".field.invalid .error", { hasText: "positive" }).waitFor();
  await lc.getByLabel("Rules (JSON)").fill('[{"id": "ci", "prefix": "ci/", "expire_days": 30, "noncurrent_days": 90, "keep_noncurrent": 5}]');
  await lc.getByRole("button", { name: "Save lifecycle rules" }).click();
  await page.locator("#lifecycle-rules li", { hasText: "objects expire after 30 days" }).waitFor();
  await shot("13-lifecycle");

  step("usage shows the object and the bandwidth");
  await page.reload();
  await page.locator("#usage-objects", { hasText: "1" }).waitFor();
  // Traffic figures reach the database on the next flush (1 s in this test).
  for (let i = 0; i < 60; i++) {
    await page.waitForTimeout(500);
    await page.reload();
    await page.locator("#usage").waitFor();
    if (await page.locator("svg.chart rect").count() > 0) break;
  }
  assert.ok(await page.locator("svg.chart rect").count() > 0, "the bandwidth chart has a bar");
  await shot("06-usage");

  step("rotate the key: a new secret once, the old one refused");
  await page.getByRole("button", { name: "Rotate release-ci" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Rotate key" }).click();
  await dialog.waitFor({ state: "visible" });
  const sk2 = await dialog.locator('[data-secret-field="Secret Key"]').innerText();
  secrets.add(sk2);
  assert.notEqual(sk2, sk);
  await dialog.getByRole("button", { name: "I have saved it" }).click();
  r = aws(["s3", "ls", `s3://${bucket}/releases/`], ak, sk);
  assert.notEqual(r.status, 0, "the old secret stops working at once");
  r = aws(["s3", "ls", `s3://${bucket}/releases/`], ak, sk2);
  assert.equal(r.status, 0, `the new secret works: ${mask(r.stderr)}`);

  step("revoke the key; aws-cli fails");
  await page.getByRole("button", { name: "Revoke release-ci" }).click();
  await page.locator("#confirm").getByRole("button", { name: "Revoke key" }).click();
  await page.locator(`#keys-table tr[data-key="${ak}"] .badge`, { hasText: "revoked" }).waitFor();
  r = aws(["s3", "ls", `s3://${bucket}/releases/`], ak, sk2);
  assert.notEqual(r.status, 0, "a revoked key is refused");
  assert.match(r.stderr, /InvalidAccessKeyId|AccessDenied|Forbidden/);

  step("audit log, filtered and paged");
  await page.goto(`${CONSOLE}/#/audit`);
  await page.getByRole("heading", { name: "Audit log" }).waitFor();
  await page.locator("#audit-filter").getByLabel("Space").selectOption(bucket);
  await page.locator("#audit-filter").getByLabel("Operation").fill("PutObject");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#audit tbody tr", { hasText: "releases/hello.txt" }).first().waitFor();
  // The unfiltered page holds such a row too: wait until the filtered one replaced it.
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll("#audit tbody tr td:nth-child(4)")];
    return cells.length > 0 && cells.every((c) => c.textContent.trim() === "PutObject");
  }, null, { timeout: 10000 }).catch(() => {});
  const ops = await page.locator("#audit tbody tr td:nth-child(4)").allInnerTexts();
  assert.ok(ops.length > 0 && ops.every((o) => o === "PutObject"), `only PutObject rows: ${ops}`);
  assert.ok(!(await page.content()).includes(sk), "no secret in the audit page");
  await shot("07-audit");

  step("repositories");
  await page.goto(`${CONSOLE}/#/repos`);
  await page.getByRole("link", { name: REPO }).click();
  await page.locator("#repo-fingerprint").waitFor();
  assert.match(await page.locator("#apt-sources").innerText(), /Signed-By:/);
  assert.equal(await page.locator("#snapshots tbody tr").count(), 2, "the test published twice");
  // The published packages, filtered by the publisher's query; a bad query is shown at its field.
  await page.locator("#packages tbody tr").nth(1).waitFor();
  assert.deepEqual(await page.locator("#packages tbody tr td:nth-child(3)").allInnerTexts(), ["hello", "hello-doc"]);
  const filter = page.locator("#packages-filter");
  await filter.getByLabel("Package").fill("hello (>= 1.0)");
  await filter.getByRole("button", { name: "Filter" }).click();
  await page.locator("#packages tbody tr").nth(1).waitFor({ state: "detached" });
  assert.deepEqual(await page.locator("#packages tbody tr td:nth-child(3)").allInnerTexts(), ["hello"]);
  await filter.getByLabel("Package").fill("nomatch*");
  await filter.getByRole("button", { name: "Filter" }).click();
  await page.getByText("No packages match.").waitFor();
  await filter.getByLabel("Package").fill("hello (~ 1)");
  await filter.getByRole("button", { name: "Filter" }).click();
  await filter.locator(".field.invalid").waitFor();
  assert.match(await filter.locator(".field.invalid .error").innerText(), /constraint/);
  await filter.getByLabel("Package").fill("");
  await filter.getByRole("button", { name: "Filter" }).click();
  await page.locator("#packages tbody tr").nth(1).waitFor();
  await shot("08-repository");
  // Roll back to the older snapshot: a third, current snapshot appears.
  await page.locator("#snapshots tbody tr").nth(1).getByRole("button", { name: /Roll back/ }).click();
  await page.locator("#confirm").getByRole("button", { name: "Roll back" }).click();
  await page.locator("#snapshots tbody tr").nth(2).waitFor();
  assert.match(await page.locator("#snapshots tbody tr").first().innerText(), /current[\s\S]*rollback to/);

  step("registry namespace and a robot");
  await page.goto(`${CONSOLE}/#/registries`);
  await page.getByRole("heading", { name: "Registry namespaces" }).waitFor();
  await page.locator("#create-namespace").getByLabel("Namespace").fill(`img${suffix}`);
  await page.locator("#create-namespace").getByLabel("Tenant").selectOption(tenant);
  await page.getByRole("button", { name: "Create namespace" }).click();
  await page.getByRole("heading", { name: `Namespace img${suffix}` }).waitFor();
  await page.locator("#create-robot").getByLabel("Robot name").fill("ci");
  await page.locator("#create-robot").getByLabel("Access").selectOption("push");
  await page.getByRole("button", { name: "Create robot" }).click();
  await dialog.waitFor({ state: "visible" });
  const robotSecret = await dialog.locator('[data-secret-field="Secret"]').innerText();
  secrets.add(robotSecret);
  assert.equal(await dialog.locator('[data-secret-field="Login"]').innerText(), `img${suffix}+ci`);
  await shot("09-registry-robot-secret", { mask: [dialog.locator('[data-secret-field="Secret"]'), dialog.locator("pre")] });
  await dialog.getByRole("button", { name: "I have saved it" }).click();
  await page.locator(`#robots tr[data-robot="img${suffix}+ci"]`).waitFor();
  assert.ok(!(await page.content()).includes(robotSecret), "the robot secret is gone once the dialog closes");
  await shot("10-registry");

  step("phone width");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${CONSOLE}/#/spaces`);
  await page.locator(`tr[data-space="${bucket}"] .badge`, { hasText: "public web" }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
  await shot("11-spaces-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  step("log out");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("Admin token").waitFor();
  const after = await page.evaluate(async () => (await fetch("/api/v1/spaces")).status);
  assert.equal(after, 401, "the API refuses the browser after logout");
  assert.deepEqual(consoleErrors, [], "no script errors");
  step("done");
} catch (e) {
  if (page) {
    const hide = [page.locator('[data-secret-field="Secret Key"]'), page.locator("#secret pre")];
    await page.screenshot({ path: `${SHOTS}/failure.png`, fullPage: true, mask: hide }).catch(() => {});
  }
  console.error(mask(e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
