// Signing in and out in a real browser: the projects page asks to sign in, a wrong
// password is refused with a message and the name kept, the right one opens the
// session (HttpOnly cookie) and the projects page, signing out ends it. axe-core on
// the sign-in page and the projects page. Prints {"failures": [...]}.
//
// Usage: node signin.cjs BASE_URL SCREENSHOT_DIR USER PASSWORD
const path = require('path');
const { accessible, check, run, watch } = require('./common.cjs');

const crypto = require('crypto');

const [base, shots, user, password] = process.argv.slice(2);

// The RFC 6238 code of base-32 `secret` now (`skip` seconds later: a code is taken
// once only, so a second sign-in uses the next window's).
function totp(secret, skip = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map(b => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor((Date.now() / 1000 + skip) / 30)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

run(async browser => {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  // A refused sign-in answers 401, a refused form 400, which the console reports.
  watch(page, { allowed: [base], expected: [400, 401] });
  await page.goto(base + '/projects');
  check(page.url().startsWith(base + '/sign-in?next='), `the projects page asks to sign in first: ${page.url()}`);
  check((await page.textContent('h1')).trim() === 'Sign in', 'sign-in heading');
  await accessible(browser, base + '/sign-in', 'sign-in', await context.storageState());

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
  check((await page.textContent('header .who')).includes(user), 'signed in, the name in the header');
  const cookies = await context.cookies();
  const session = cookies.find(c => c.name === '__Host-bastide_session');
  for (const name of ['__Host-bastide_session', '__Host-bastide_csrf']) {
    const c = cookies.find(c => c.name === name);
    check(c && c.httpOnly && c.secure && c.sameSite === 'Strict', `${name} is HttpOnly, Secure and Strict: ${JSON.stringify(c)}`);
  }
  await accessible(browser, base + '/projects', 'projects', await context.storageState());

  // Applying for access: a field left wrong is said, with everything typed kept.
  await Promise.all([page.waitForURL(base + '/projects/new'), page.click('text=Apply for access')]);
  await accessible(browser, base + '/projects/new', 'application form', await context.storageState());
  await page.fill('#title', 'Statins and strokes');
  await page.fill('#purpose', 'Counting strokes after statin treatment');
  await page.fill('#legal_basis', 'GDPR 9(2)(j)');
  await page.fill('#organisation', 'Inserm');
  await page.selectOption('#dataset', 'snds');
  await page.fill('#duration_days', '365');
  // No table ticked: the hub refuses it.
  await Promise.all([page.waitForNavigation(), page.click('text=Save the application')]);
  check(await page.isVisible('[role=alert]'), 'a refused application says why');
  check((await page.textContent('[role=alert]')).includes('table'), 'the refusal names what to fix');
  check(await page.inputValue('#title') === 'Statins and strokes', 'the title typed is kept');
  check(await page.inputValue('#purpose') === 'Counting strokes after statin treatment', 'the purpose typed is kept');
  check(await page.inputValue('#duration_days') === '365', 'the duration typed is kept');
  await page.check('input[name=table][value="snds/IR_BEN_R"]');
  await Promise.all([page.waitForURL(/\/projects\/[^/]+$/), page.click('text=Save the application')]);
  check((await page.textContent('h1')).includes('Statins and strokes'), 'the application\'s page');
  await page.goto(base + '/projects');
  check((await page.textContent('main')).includes('Statins and strokes'), 'the application is among the projects');
  await page.screenshot({ path: path.join(shots, 'projects.png') });

  // A form sent without the session's token is refused.
  const forged = await page.request.post(base + '/projects/new', {
    form: { title: 'Forged', purpose: 'x', legal_basis: 'x', organisation: 'x', dataset: 'snds', table: 'snds/IR_BEN_R', duration_days: '30' },
  });
  check(forged.status() === 403, `a form without the CSRF token is refused: ${forged.status()}`);
  await page.goto(base + '/projects');
  check(!(await page.textContent('main')).includes('Forged'), 'the forged application was not filed');

  // A form from another site is refused, whatever it carries.
  const foreign = await page.request.post(base + '/sign-out', {
    headers: { Origin: 'https://evil.example' }, form: { csrf: 'x' }, maxRedirects: 0,
  });
  check(foreign.status() === 403, `a form from another site is refused: ${foreign.status()}`);

  // A second factor: set up from the account page, confirmed with a first code; the
  // next sign-in asks for a code.
  await Promise.all([page.waitForURL(base + '/account'), page.click('header a.who')]);
  await accessible(browser, base + '/account', 'account', await context.storageState());
  await Promise.all([page.waitForNavigation(), page.click('text=Set up a second factor')]);
  const secret = (await page.textContent('#totp ~ p code.secret, section code.secret')).trim();
  await page.fill('#code', totp(secret));
  await Promise.all([page.waitForNavigation(), page.click('text=Confirm')]);
  check((await page.textContent('[role=status]')).includes('Second factor set up'), 'the second factor is confirmed');

  // Signing out ends the session on the hub, not only in this browser.
  const kept = `__Host-bastide_session=${session.value}`;
  await Promise.all([page.waitForURL(base + '/'), page.click('text=Sign out')]);
  await page.goto(base + '/projects');
  check(page.url().startsWith(base + '/sign-in'), 'after signing out, the projects page asks to sign in again');
  const replayed = await page.request.get(base + '/projects', { headers: { Cookie: kept }, maxRedirects: 0 });
  check(replayed.status() === 303 && replayed.headers()['location'].startsWith('/sign-in'),
    `the old session cookie opens nothing: ${replayed.status()}`);

  // With the second factor, the password alone is refused; with the code, signed in.
  await page.fill('#name', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('form.sign-in button[type=submit]')]);
  check(await page.isVisible('[role=alert]'), 'the password alone is refused once a second factor is set');
  await page.fill('#password', password);
  await page.fill('#totp', totp(secret, 30));
  await Promise.all([page.waitForNavigation(), page.click('form.sign-in button[type=submit]')]);
  check(page.url().startsWith(base + '/projects'), `signed in with the code: ${page.url()}`);
  await context.close();
});
