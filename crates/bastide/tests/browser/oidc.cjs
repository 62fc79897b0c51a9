// Signing in through the organisation's identity provider in a real browser: the
// sign-in page's link, the provider (which logs in as rita at once), back to the hub,
// a page of the hub that leads on to the projects with the session's cookies. axe on
// the page the provider comes back to. Prints {"failures": [...]}.
//
// Usage: node oidc.cjs BASE_URL PROVIDER_URL
const { accessible, launch } = require('./common.cjs');

const [base, provider] = process.argv.slice(2);
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

(async () => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ locale: 'en-GB' });
    const page = await context.newPage();
    page.on('request', r => {
      const url = r.url();
      if (!url.startsWith(base) && !url.startsWith(provider)) failures.push(`a request outside the hub and its provider: ${url}`);
    });
    await page.goto(base + '/sign-in');
    await Promise.all([
      page.waitForURL(u => u.toString().startsWith(base + '/api/v1/auth/oidc/callback')),
      page.click('text=Sign in with your organisation'),
    ]);
    check((await page.textContent('[role=status]')).includes('Signed in as rita'), 'back from the provider, signed in');
    const cookies = await context.cookies();
    for (const name of ['__Host-bastide_session', '__Host-bastide_csrf']) {
      const c = cookies.find(c => c.name === name);
      check(c && c.httpOnly && c.sameSite === 'Strict', `${name} set: ${JSON.stringify(c)}`);
    }
    await Promise.all([page.waitForURL(base + '/projects'), page.click('text=Continue to my projects')]);
    check((await page.textContent('header .who')).includes('rita'), 'the projects page knows rita');
    await accessible(browser, failures, base + '/projects', 'projects after OIDC', await context.storageState());
    await context.close();
  } catch (e) {
    failures.push(`error: ${e.stack || e.message}`);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ failures }));
  process.exit(failures.length ? 1 : 0);
})();
