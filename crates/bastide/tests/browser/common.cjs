// What the browser tests share: playwright-core and axe-core from the folder
// scripts/test installs them into, the failures a script reports and how it runs and
// prints them, what a page may ask for, and an accessibility check of one page.
const path = require('path');
const modules = path.join(process.env.BROWSER_TESTS_NPM, 'node_modules');
const { chromium } = require(path.join(modules, 'playwright-core'));
const axePath = path.join(modules, 'axe-core', 'axe.min.js');

// What a script found wrong, and a check that adds to it. Each script is its own
// process: one list per run.
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

// Runs axe-core on `url` and adds its serious and critical violations to the failures.
// axe is injected as a script, which the page's policy rightly forbids: this context
// alone bypasses it. `state` carries a session's cookies, when the page needs one.
async function accessible(browser, url, name, state) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', storageState: state });
  const page = await context.newPage();
  await page.goto(url);
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => await window.axe.run());
  for (const v of result.violations) {
    if (v.impact === 'serious' || v.impact === 'critical') {
      failures.push(`axe on ${name}: ${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join('; ')}`);
    }
  }
  await context.close();
}

// Watches `page`: a request to anywhere but the `allowed` origins, or a console error
// other than one reporting an HTTP status in `expected` (the pages answering refusals
// on purpose), is a failure, named after `who`.
function watch(page, { allowed, expected = [], who = '' }) {
  const prefix = who ? `${who}: ` : '';
  page.on('request', r => {
    const url = r.url();
    if (!url.startsWith('data:') && !allowed.some(origin => url.startsWith(origin))) {
      failures.push(`${prefix}a request outside ${allowed.join(' and ')}: ${url}`);
    }
  });
  const statuses = new RegExp(`status of (${expected.join('|') || 'none'}) \\(`);
  page.on('console', m => {
    if (m.type() === 'error' && !statuses.test(m.text())) failures.push(`${prefix}console error: ${m.text()}`);
  });
}

// Runs `body(browser)` in a launched browser; an exception is a failure. Prints
// {"failures": [...]} and exits non-zero when there is any.
function run(body) {
  (async () => {
    const browser = await launch();
    try {
      await body(browser);
    } catch (e) {
      failures.push(`error: ${e.stack || e.message}`);
    } finally {
      await browser.close();
    }
    console.log(JSON.stringify({ failures }));
    process.exit(failures.length ? 1 : 0);
  })();
}

function launch() {
  return chromium.launch({
    executablePath: process.env.BROWSER_TESTS_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
}

module.exports = { accessible, check, failures, run, watch };
