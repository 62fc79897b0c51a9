// Signing in and out in a real browser: the projects page asks to sign in, a wrong
// password is refused with a message and the name kept, the right one opens the
// session (HttpOnly cookie) and the projects page, signing out ends it. axe-core on
// the sign-in page and the projects page. Prints {"failures": [...]}.
//
// Usage: node signin.cjs BASE_URL SCREENSHOT_DIR USER PASSWORD
const path = require('path');
const modules = path.join(process.env.BROWSER_TESTS_NPM, 'node_modules');
const { chromium } = require(path.join(modules, 'playwright-core'));
const axePath = path.join(modules, 'axe-core', 'axe.min.js');

const [base, shots, user, password] = process.argv.slice(2);
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

async function accessible(browser, state, url, name) {
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

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.BROWSER_TESTS_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const context = await browser.newContext({ locale: 'en-GB' });
    const page = await context.newPage();
    page.on('console', m => {
      // A refused sign-in answers 401, which the console reports.
      if (m.type() === 'error' && !m.text().includes('status of 401')) failures.push(`console error: ${m.text()}`);
    });
    await page.goto(base + '/projects');
    check(page.url() === base + '/sign-in', `the projects page asks to sign in first: ${page.url()}`);
    check((await page.textContent('h1')).trim() === 'Sign in', 'sign-in heading');
    await accessible(browser, await context.storageState(), base + '/sign-in', 'sign-in');

    // A wrong password: refused, said, the name kept, the password not.
    await page.fill('#name', user);
    await page.fill('#password', 'not the password');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    check(await page.isVisible('[role=alert]'), 'a refusal is said');
    check(await page.inputValue('#name') === user, 'the name typed is kept');
    check(await page.inputValue('#password') === '', 'the password is not sent back');

    // The right one, by keyboard.
    await page.fill('#password', password);
    await Promise.all([page.waitForURL(base + '/projects'), page.press('#password', 'Enter')]);
    check((await page.textContent('main')).includes(`Signed in as ${user}`), 'signed in');
    const cookies = await context.cookies();
    const session = cookies.find(c => c.name === 'bastide_session');
    check(session && session.httpOnly && session.sameSite === 'Strict', `the session cookie is HttpOnly and Strict: ${JSON.stringify(cookies)}`);
    await page.screenshot({ path: path.join(shots, 'projects.png') });
    await accessible(browser, await context.storageState(), base + '/projects', 'projects');

    // Signing out ends the session.
    await Promise.all([page.waitForURL(base + '/'), page.click('text=Sign out')]);
    await page.goto(base + '/projects');
    check(page.url() === base + '/sign-in', 'after signing out, the projects page asks to sign in again');
    await context.close();
  } catch (e) {
    failures.push(`error: ${e.message}`);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ failures }));
  process.exit(failures.length ? 1 : 0);
})();
