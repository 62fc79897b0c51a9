// Every role's journey through the whole chain, in a real browser, on the demo hub
// (`bastide demo`, its accounts read from demo-accounts.txt): a researcher applies, a
// steward approves and grants a permit with the editor, the researcher queries in the
// console (completion, an error keeping the query, an answer with a chart), keeps
// their query across an ended session, asks for a release, two stewards approve, one
// releases, the researcher downloads; the registry shows the output's title; the
// steward records an opt-out; the auditor verifies the log and filters it; the admin
// creates a token. No request leaves the hub, no console or policy error, axe-core on
// every page. Prints {"failures": [...]}.
//
// Usage: node journey.cjs BASE_URL SCREENSHOT_DIR ACCOUNTS_FILE
const fs = require('fs');
const path = require('path');
const { accessible, check, run, watch } = require('./common.cjs');

const [base, shots, accountsFile] = process.argv.slice(2);
const passwords = {};
for (const line of fs.readFileSync(accountsFile, 'utf8').split('\n')) {
  const [name, password] = line.trim().split(/\s+/);
  if (name && !name.startsWith('#') && password) passwords[name] = password;
}

// A signed-in page for `name`, watched for requests elsewhere and console errors.
async function signIn(browser, name) {
  const context = await browser.newContext({ locale: 'en-GB', acceptDownloads: true });
  const page = await context.newPage();
  watch(page, { allowed: [base], expected: [400, 401, 403, 404, 409], who: name });
  await page.goto(base + '/sign-in');
  await page.fill('#name', name);
  await page.fill('#password', passwords[name] || 'missing');
  await Promise.all([page.waitForURL(base + '/projects'), page.click('form.sign-in button[type=submit]')]);
  return { context, page };
}

async function axe(browser, session, url, name) {
  await accessible(browser, base + url, name, await session.context.storageState());
}

const submit = async (page, selector) => {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
};

run(async browser => {
  for (const name of ['researcher', 'steward', 'reviewer', 'auditor', 'admin']) {
    check(passwords[name], `the demo accounts file has ${name}'s password`);
  }
  // The researcher applies.
  const researcher = await signIn(browser, 'researcher');
  let r = researcher.page;
  check((await r.textContent('main')).includes('(demonstration)'), 'the demo project is among the researcher\'s projects');
  await r.click('text=Apply for access');
  await r.fill('#title', 'Care after seventy');
  await r.fill('#purpose', 'Counting visits by sex');
  await r.fill('#legal_basis', 'GDPR 9(2)(j)');
  await r.fill('#organisation', 'Inserm');
  await r.selectOption('#dataset', 'snds_demo');
  await r.check('input[name=table][value="snds_demo/IR_BEN_R"]');
  await r.fill('#duration_days', '365');
  await submit(r, 'text=Save the application');
  const projectUrl = r.url();
  check(/\/projects\/[^/]+$/.test(projectUrl), `the application's page: ${projectUrl}`);
  await submit(r, 'text=Submit the application');
  check((await r.textContent('.state')).includes('submitted'), 'the application is submitted');
  const projectPath = projectUrl.slice(base.length);

  // The steward approves it and grants a permit with the editor.
  const steward = await signIn(browser, 'steward');
  let s = steward.page;
  await s.goto(base + '/review');
  check((await s.textContent('#applications + ul, main')).includes('Care after seventy'), 'the steward sees the application to review');
  await axe(browser, steward, '/review', 'steward desk');
  await s.click('text=Care after seventy');
  await s.fill('#note', 'Purpose and legal basis in order');
  await submit(s, 'button[value=approve]');
  check((await s.textContent('.state')).includes('approved'), 'approved');
  // A filter with one value where two are needed: refused, what was typed kept.
  await s.selectOption('#pf-IR_BEN_R-0-column', 'BEN_NAI_ANN');
  await s.selectOption('#pf-IR_BEN_R-0-op', 'between');
  await s.fill('#pf-IR_BEN_R-0-values', '1900');
  await submit(s, 'text=Grant the permit');
  check(await s.isVisible('[role=alert]'), 'a wrong filter is said');
  check(await s.inputValue('#pf-IR_BEN_R-0-values') === '1900', 'the filter typed is kept');
  // A text in a numeric column: refused, naming the column, not echoing the value.
  await s.fill('#pf-IR_BEN_R-0-values', '1900, soon');
  await submit(s, 'text=Grant the permit');
  check((await s.textContent('[role=alert]')).includes('IR_BEN_R.BEN_NAI_ANN'), 'a wrong value names its column');
  check(!(await s.textContent('[role=alert]')).includes('soon'), 'and does not repeat the value');
  await s.fill('#pf-IR_BEN_R-0-values', '1900, 2030');
  await submit(s, 'text=Grant the permit');
  check(!(await s.isVisible('[role=alert]')), `the permit is granted: ${await s.isVisible('[role=alert]') ? await s.textContent('[role=alert]') : ''}`);
  check((await s.textContent('dl.permit')).includes('BEN_NAI_ANN ∈ [1900, 2030]'), 'the permit shows its filter');
  await s.screenshot({ path: path.join(shots, 'permit.png'), fullPage: true });
  await axe(browser, steward, projectPath, 'project page (steward)');

  // The researcher queries in the console.
  await r.goto(projectUrl);
  check((await r.textContent('.state')).includes('active'), 'the project is active');
  await r.click('text=Open the SQL console');
  const consoleUrl = r.url();
  await r.click('#sql');
  await r.keyboard.type('SELECT ben_sex_cod, count(*) AS persons FROM ir_b');
  check(await r.isVisible('#completions'), 'completion is offered');
  check((await r.textContent('#completions')).includes('ir_ben_r'), 'completion names the permitted table');
  await r.keyboard.press('Enter');
  check((await r.inputValue('#sql')).endsWith('ir_ben_r'), `completion accepted: ${await r.inputValue('#sql')}`);
  check(await r.isVisible('pre.highlight .tok-keyword'), 'the query is highlighted');
  await r.keyboard.type(' GROUP BY nope');
  await Promise.all([r.waitForNavigation(), r.keyboard.press('Control+Enter')]);
  check(await r.isVisible('[role=alert]'), 'a query error is said');
  check((await r.inputValue('#sql')).includes('GROUP BY nope'), 'the query typed is kept after an error');
  await r.fill('#sql', 'SELECT ben_sex_cod, count(*) AS persons FROM ir_ben_r GROUP BY ben_sex_cod ORDER BY ben_sex_cod');
  await submit(r, 'form.editor button[type=submit]');
  check(await r.isVisible('table.answer'), 'the answer is shown');
  check(await r.isVisible('figure.chart svg rect.bar'), 'aggregate answers are charted');
  check((await r.textContent('section.history')).includes('ben_sex_cod'), 'the query is in the history');
  await r.screenshot({ path: path.join(shots, 'console.png'), fullPage: true });
  await axe(browser, researcher, consoleUrl.slice(base.length), 'console');

  // A long query, cancelled from another tab's history: its page says so.
  // (A hundred billion numbers summed: minutes of work, little memory. Tables about
  // persons meet only on their person, which cannot multiply rows this much.)
  await r.fill('#sql', 'SELECT sum(value % 7) AS n FROM range(1, 100000000000)');
  const ran = r.waitForNavigation({ timeout: 120000 });
  await r.click('form.editor button[type=submit]', { noWaitAfter: true });
  const tab = await researcher.context.newPage();
  await tab.goto(consoleUrl);
  for (let i = 0; i < 20 && !(await tab.isVisible('section.history button')); i++) {
    await tab.waitForTimeout(250);
    await tab.goto(consoleUrl);
  }
  await Promise.all([tab.waitForNavigation(), tab.click('section.history button')]);
  await tab.close();
  await ran;
  check(await r.isVisible('[role=alert]') && /cancel/i.test(await r.textContent('[role=alert]')),
    `a cancelled query says so: ${await r.isVisible('[role=alert]') ? await r.textContent('[role=alert]') : r.url()}`);

  // A session that ends while a query is typed: signed in again, the query is sent again.
  await researcher.context.clearCookies();
  await r.fill('#sql', 'SELECT count(*) AS persons FROM ir_ben_r');
  await submit(r, 'form.editor button[type=submit]');
  check((await r.textContent('main')).includes('What you typed is kept'), 'an ended session keeps what was typed');
  await r.fill('#name', 'researcher');
  await r.fill('#password', passwords.researcher);
  await submit(r, 'form.sign-in button[type=submit]');
  check((await r.textContent('main')).includes('SELECT count(*) AS persons FROM ir_ben_r'), 'the query is shown to send again');
  await submit(r, 'form.again button');
  check(await r.isVisible('table.answer'), `the query sent again is answered: ${r.url()}`);

  // The researcher asks for a release of an answer.
  await r.goto(projectUrl);
  await r.fill('#release-title', 'Persons by sex');
  await r.fill('#justification', 'For the article');
  await submit(r, 'text=Prepare a release request');
  const releaseUrl = r.url();
  check(/\/releases\//.test(releaseUrl), `the release request's page: ${releaseUrl}`);
  await r.click('text=Add an answer from the console');
  await r.fill('#sql', 'SELECT ben_sex_cod, count(*) AS persons FROM ir_ben_r GROUP BY ben_sex_cod ORDER BY ben_sex_cod');
  await submit(r, 'form.editor button[type=submit]');
  await r.fill('#save-name', 'persons-by-sex');
  await submit(r, 'form.save button');
  check(r.url() === releaseUrl, 'back on the release request');
  check((await r.textContent('main')).includes('every cell checked by the hub'), 'the file carries the hub\'s disclosure report');
  await submit(r, 'text=Submit for review');
  check((await r.textContent('.state')).includes('submitted'), 'the release request is submitted');
  await axe(browser, researcher, releaseUrl.slice(base.length), 'release request');
  await axe(browser, researcher, projectPath, 'project page (researcher)');
  // Not released yet: the file cannot be taken, and the page says why.
  const early = await r.goto(releaseUrl + '/files/persons-by-sex.csv');
  check(early.status() === 403, `a file not released is refused: ${early.status()}`);
  check(await r.isVisible('[role=alert]'), 'the refusal is said');

  // Two stewards who are not the requester approve; one releases.
  await s.goto(base + '/review');
  await s.click('text=Persons by sex');
  await submit(s, 'text=Preview the file');
  check((await s.textContent('table.preview')).includes('persons'), 'reviewers see a preview');
  await axe(browser, steward, s.url().slice(base.length), 'file preview');
  await s.goBack();
  await s.fill('#review-note', 'Counts above the threshold');
  await submit(s, 'button[value=approve]');
  check((await s.textContent('.state')).includes('approved once'), 'one approval');
  // The same steward cannot approve twice.
  const again = await s.isVisible('button[value=approve]');
  if (again) {
    await submit(s, 'button[value=approve]');
    check(await s.isVisible('[role=alert]'), 'a second approval by the same steward is refused');
  }
  const reviewer = await signIn(browser, 'reviewer');
  const v = reviewer.page;
  await v.goto(releaseUrl);
  await v.fill('#review-note', 'Agreed');
  await submit(v, 'button[value=approve]');
  check((await v.textContent('.state')).includes('approved'), 'two approvals');
  // A steward who is not a member has no workspace: the console refuses their query.
  await v.goto(consoleUrl);
  await v.fill('#sql', 'SELECT ben_sex_cod, count(*) AS persons FROM ir_ben_r GROUP BY ben_sex_cod');
  await submit(v, 'form.editor button[type=submit]');
  check(await v.isVisible('[role=alert]') && !(await v.isVisible('table.answer')), 'a non-member gets no answer from the console');
  await s.goto(releaseUrl);
  await submit(s, 'text=Release the files');
  check((await s.textContent('.state')).includes('released'), 'released');
  await s.screenshot({ path: path.join(shots, 'release.png'), fullPage: true });

  // The researcher downloads.
  await r.goto(releaseUrl);
  const [download] = await Promise.all([r.waitForEvent('download'), r.click('a[download="persons-by-sex.csv"]')]);
  const file = await download.path();
  const text = fs.readFileSync(file, 'utf8');
  check(text.startsWith('ben_sex_cod,persons'), `the released file is the answer: ${text.slice(0, 40)}`);

  // The registry shows the title, never the contents.
  const pub = await browser.newContext({ locale: 'en-GB' });
  const p = await pub.newPage();
  await p.goto(base + '/registry');
  check((await p.textContent('main')).includes('Persons by sex'), 'the registry shows the released output');
  await pub.close();

  // The steward records an objection; the identifier is never shown back.
  await s.goto(base + '/review');
  await s.fill('#identifier', '1840512345678');
  await submit(s, 'text=Record the objection');
  check((await s.textContent('[role=status]')).includes('Objection recorded'), 'the objection is recorded');
  check(!(await s.content()).includes('1840512345678'), 'the identifier is not in the page');

  // The auditor verifies the log and filters it.
  const auditor = await signIn(browser, 'auditor');
  const a = auditor.page;
  // A released file is its requester's alone.
  const taken = await a.goto(releaseUrl + '/files/persons-by-sex.csv');
  check(taken.status() !== 200 && taken.headers()['content-type'].startsWith('text/html'), `an auditor cannot take a released file: ${taken.status()}`);
  await a.goto(base + '/audit');
  await submit(a, 'text=Verify the whole log');
  check((await a.textContent('main')).includes('Log intact'), 'the log verifies');
  // A day not written as a date: said, with the form to fix.
  await a.goto(base + '/audit?since=yesterday');
  check((await a.textContent('[role=alert]')).includes('YYYY-MM-DD'), 'a wrong day is said, with its form');
  await a.fill('#since', '');
  await a.fill('#action', 'release');
  await submit(a, 'form.filters button');
  check((await a.textContent('table.events')).includes('release.released'), 'the filtered log shows the release');
  await a.screenshot({ path: path.join(shots, 'audit.png'), fullPage: true });
  await axe(browser, auditor, '/audit', 'audit log');

  // The admin sees the users and creates a token, shown once.
  const admin = await signIn(browser, 'admin');
  const d = admin.page;
  await d.goto(base + '/admin');
  check((await d.textContent('#users ~ div')).includes('researcher'), 'the admin sees the users');
  await d.fill('#token-name', 'nightly export');
  await submit(d, 'form.row button');
  check((await d.textContent('code.secret')).startsWith('bst_'), 'the new token is shown once');
  await d.screenshot({ path: path.join(shots, 'admin.png'), fullPage: true });
  await d.goto(base + '/admin');
  check(!(await d.isVisible('code.secret')), 'and not again');
  await axe(browser, admin, '/admin', 'admin');

  // A researcher sees no steward, auditor or admin page.
  for (const url of ['/audit', '/admin', '/review']) {
    const response = await r.goto(base + url);
    check(response.status() === 403, `${url} is refused to a researcher: ${response.status()}`);
  }
  // A feasibility count, spending some of the privacy budget.
  await r.goto(base + '/feasibility');
  const before = await r.textContent('main p.meta');
  await r.selectOption('#c0\\.column', 'IR_BEN_R.BEN_SEX_COD');
  await r.selectOption('#c0\\.op', 'eq');
  await r.fill('#c0\\.values', '2');
  await submit(r, 'text=Count (spends budget)');
  check((await r.textContent('.count')).includes('persons'), 'a feasibility count is shown');
  check((await r.textContent('main p.meta')) !== before, 'the budget shown moves');
  await axe(browser, researcher, '/feasibility', 'feasibility');

  // The same pages in French, from the header's switch.
  await r.goto(consoleUrl);
  await Promise.all([r.waitForNavigation(), r.click('header a.lang')]);
  check((await r.textContent('h1')).includes('Console SQL'), `the console in French: ${await r.textContent('h1')}`);
  check((await r.textContent('section.history')).includes('réussie'), 'statuses in French');
  await axe(browser, researcher, consoleUrl.slice(base.length), 'console (French)');
  await axe(browser, researcher, releaseUrl.slice(base.length), 'release request (French)');
});
