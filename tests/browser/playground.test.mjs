// The playground page in a real browser: Debian's chromium, headless, driven by playwright-core.
// Starts `gradstack playground` on the tiny checkpoint at a free port, loads the page, types a
// prompt, moves the temperature slider (the bars must change), clicks an attention cell (the
// enlarged map must show it), runs a greedy generation (the streamed text must equal
// `gradstack generate --greedy`) and saves a screenshot into $PLAYGROUND_OUT (else $TMPDIR).
// ctest runs it (tests/CMakeLists.txt); exit 77 = skipped, only outside CI, when chromium or
// playwright-core is missing. PLAYGROUND_MODEL and PLAYGROUND_PANELS=DIR (one PNG per panel)
// serve the closing notes' screenshots on another model.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.GRADSTACK_SOURCE_DIR || path.resolve(here, "../..");
const bin = process.env.GRADSTACK_BIN || path.join(source, "build/bin/gradstack");
const modelDir = process.env.PLAYGROUND_MODEL || path.join(source, "tests/data/tiny_gpt2");
const tokenizerArgs = process.env.PLAYGROUND_MODEL
  ? [] : ["--tokenizer", path.join(source, "data/gpt2-tokenizer")];
const outDir = process.env.PLAYGROUND_OUT || tmpdir();
const chromiumPath = "/usr/bin/chromium";
const prompt = process.env.PLAYGROUND_PROMPT || "Hello world";
const newTokens = 12;

function skipOrFail(why) {
  if (process.env.CI) {
    console.error(`FAIL: ${why} (CI must run this test: scripts/setup.sh installs it)`);
    process.exit(1);
  }
  console.error(`SKIP: ${why}; run scripts/setup.sh`);
  process.exit(77);
}
let chromium;
try {
  chromium = createRequire(path.join(here, "package.json"))("playwright-core").chromium;
} catch (e) {
  skipOrFail("playwright-core is not installed in tests/browser (npm ci)");
}
if (!existsSync(chromiumPath)) skipOrFail(`${chromiumPath} is missing`);

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  console.log("ok: " + what);
}

// The CLI's greedy text for the same prompt.
const cli = JSON.parse(execFileSync(bin, ["generate", "--model", modelDir, ...tokenizerArgs,
  "--greedy", "--max-new-tokens", String(newTokens), "--prompt", prompt, "--json"]).toString());
const cliText = cli.prompts[0].outputs[0].text;

// The server, on any free port; its first line names the URL.
const server = spawn(bin, ["playground", "--model", modelDir, ...tokenizerArgs, "--port", "0"],
                     { stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
    if (m) resolve(m[0]);
  });
  server.on("exit", (code) => reject(new Error(`the playground exited with ${code}: ${out}`)));
  setTimeout(() => reject(new Error("the playground did not start in 60 s")), 60000);
});

const profile = mkdtempSync(path.join(tmpdir(), "gradstack-chromium-"));
let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || await context.newPage();
  page.on("pageerror", (e) => { console.error("page error: " + e.message); failed = true; });
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 60000 });
  check(await page.locator("#next-bars g.bar").count() === 20, "20 next-token bars drawn");

  // Type a prompt: the bars follow it.
  const want = (await (await page.request.post(url + "api/next",
    { data: { text: prompt, temperature: 1, top_k: 0, top_p: 1, n: 1 } })).json()).ids;
  const strip = `${want.length} tokens: ${want.join(" ")}`;
  await page.fill("#prompt", "");
  await page.locator("#prompt").pressSequentially(prompt, { delay: 20 });
  await page.waitForFunction((t) => document.querySelector("#token-strip").textContent === t,
                             strip, { timeout: 30000 });
  check(true, "the token strip shows the typed prompt's ids");
  const filtered = () => page.$$eval("#next-bars g.bar", (gs) => gs.map((g) => g.dataset.filtered));
  const before = await filtered();

  // Move the temperature slider: the filtered bars change, the plain softmax does not.
  const plainBefore = await page.$$eval("#next-bars g.bar", (gs) => gs.map((g) => g.dataset.prob));
  await page.locator("#temperature").fill("2.5");
  await page.waitForFunction((b) => {
    const now = [...document.querySelectorAll("#next-bars g.bar")].map((g) => g.dataset.filtered);
    return now.length === b.length && now.some((v, i) => v !== b[i]);
  }, before, { timeout: 30000 });
  const after = await filtered();
  check(after.some((v, i) => v !== before[i]), "temperature 2.5 changes the bars");
  const plainAfter = await page.$$eval("#next-bars g.bar", (gs) => gs.map((g) => g.dataset.prob));
  check(JSON.stringify(plainAfter) === JSON.stringify(plainBefore),
        "the plain softmax outline does not move with the temperature");
  await page.locator("#top_k").fill("5");
  await page.waitForFunction(() =>
    document.querySelectorAll("#next-bars g.bar.removed").length === 15, null, { timeout: 30000 });
  check(true, "top-k 5 greys out the other 15 bars");
  await page.locator("#top_k").fill("0");

  // Attention: click one cell of the grid; the enlarged map shows that layer and head.
  await page.click("#trace-run");
  await page.waitForSelector("#attn-grid canvas.attn-cell", { timeout: 60000 });
  const info = await (await page.request.get(url + "api/model")).json();
  const cells = await page.locator("#attn-grid canvas.attn-cell").count();
  check(cells === info.config.n_layer * info.config.n_head, `${cells} attention cells (L x H)`);
  const L = info.config.n_layer - 1, H = info.config.n_head - 1;
  await page.click(`#attn-grid canvas[data-layer='${L}'][data-head='${H}']`);
  const big = page.locator("#attn-big");
  check(await big.getAttribute("data-layer") === String(L) &&
        await big.getAttribute("data-head") === String(H), `enlarged map is layer ${L}, head ${H}`);
  const rects = await page.locator("#attn-big rect.attn-big-cell").count();
  const tokens = await page.locator("#lens table tr").first().locator("th").count() - 1;
  check(rects === tokens * tokens, `enlarged map has T x T = ${tokens} x ${tokens} cells`);
  check((await page.locator("#attn-big-title").textContent()).includes(`layer ${L}, head ${H}`),
        "enlarged map is titled with its layer and head");
  check(await page.locator("#saliency .row").count() >= 1, "saliency row drawn");

  // Greedy generation: the streamed text equals the CLI's.
  await page.selectOption("#strategy", "greedy");
  await page.fill("#max_new_tokens", String(newTokens));
  await page.click("#gen-run");
  await page.waitForSelector("#gen-status[data-done='1']", { timeout: 120000 });
  const streamed = await page.$eval("#gen-seq-0", (e) => e.dataset.streamed);
  const done = await page.$eval("#gen-seq-0", (e) => e.dataset.text);
  check(streamed === cliText, `streamed text ${JSON.stringify(streamed)} equals the CLI's`);
  check(done === cliText, "the final text equals the CLI's");
  check(await page.locator("#gen-seq-0 span.tok").count() === cli.prompts[0].outputs[0].new_ids.length,
        "one shaded span per generated token");

  mkdirSync(outDir, { recursive: true });
  const shot = path.join(outDir, "playground.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log("screenshot: " + shot);

  if (process.env.PLAYGROUND_PANELS) {  // one PNG per panel (the closing notes)
    const dir = process.env.PLAYGROUND_PANELS;
    mkdirSync(dir, { recursive: true });
    await page.fill("#forced", process.env.PLAYGROUND_FORCED || " and the");
    await page.click("#sal-run");
    await page.waitForFunction(() => document.querySelectorAll("#saliency .row").length >= 2,
                               null, { timeout: 120000 });
    await page.hover("#gen-seq-0 span.tok >> nth=2");
    for (const p of ["next", "generate", "attention", "lens", "saliency"])
      await page.locator(`#panel-${p}`).screenshot({ path: path.join(dir, `${p}.png`) });
    if (info.bags.length) {
      await page.selectOption("#pplm-bag", info.bags.includes("science") ? "science" : info.bags[0]);
      await page.click("#pplm-run");
      await page.waitForFunction(() => document.querySelector("#pplm-status").textContent
        .startsWith("bag words"), null, { timeout: 300000 });
      await page.locator("#panel-pplm").screenshot({ path: path.join(dir, "pplm.png") });
    }
    await page.screenshot({ path: path.join(dir, "page.png"), fullPage: true });
    console.log("panel screenshots in " + dir);
  }
  check(!failed, "no errors in the page");
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  if (context) await context.close();
  server.kill("SIGTERM");
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
