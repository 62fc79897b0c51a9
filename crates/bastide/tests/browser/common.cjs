// What the browser tests share: playwright-core and axe-core from the folder
// scripts/test installs them into, and an accessibility check of one page.
const path = require('path');
const modules = path.join(process.env.BROWSER_TESTS_NPM, 'node_modules');
const { chromium } = require(path.join(modules, 'playwright-core'));
const axePath = path.join(modules, 'axe-core', 'axe.min.js');

// Runs axe-core on `url` and adds its serious and critical violations to `failures`.
// axe is injected as a script, which the page's policy rightly forbids: this context
// alone bypasses it. `state` carries a session's cookies, when the page needs one.
async function accessible(browser, failures, url, name, state) {
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

function launch() {
  return chromium.launch({
    executablePath: process.env.BROWSER_TESTS_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
}

module.exports = { accessible, launch };
