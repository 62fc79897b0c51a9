// Signing in through the organisation's identity provider in a real browser: the
// sign-in page's link, the provider (which logs in as rita at once), back to the hub,
// a page of the hub that leads on to the projects with the session's cookies. axe on
// the page the provider comes back to. Prints {"failures": [...]}.
//
// Usage: node oidc.cjs BASE_URL PROVIDER_URL
const { accessible, check, run, watch } = require('./common.cjs');

const [base, provider] = process.argv.slice(2);

run(async browser => {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  watch(page, { allowed: [base, provider] });
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
  await accessible(browser, base + '/projects', 'projects after OIDC', await context.storageState());
  await context.close();
});
