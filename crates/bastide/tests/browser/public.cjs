// The public pages in a real browser (Debian's chromium driven by playwright-core):
// the catalogue, its search, the registry, the language switch, a page that does not
// exist. Checks that no page asks anything of another host, that the Content-Security-
// Policy holds (no violation reported), and that axe-core finds no serious or critical
// accessibility violation. Prints one JSON object: {"failures": [...]}.
//
// Usage: node public.cjs BASE_URL SCREENSHOT_DIR PROJECT_TITLE
const path = require('path');
const { accessible, check, run, watch } = require('./common.cjs');

const [base, shots, projectTitle] = process.argv.slice(2);

run(async browser => {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Nothing asked of another host; the not-found page is meant to answer 404, which
  // the console reports.
  watch(page, { allowed: [base + '/'], expected: [404] });

  // The catalogue, in the browser's language.
  let response = await page.goto(base + '/');
  check(response.status() === 200, `catalogue status ${response.status()}`);
  check(await page.getAttribute('html', 'lang') === 'en', 'the page follows the browser language (en)');
  check((await page.textContent('h1')).trim() === 'Catalogue', 'catalogue heading');
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("default-src 'none'") && !csp.includes('unsafe-inline'), `strict policy: ${csp}`);
  await page.click('summary:has-text("IR_BEN_R")');
  check(await page.isVisible('text=BEN_SEX_COD'), 'a table opens on its columns');
  const dummy = await page.getAttribute('details:has(summary:has-text("IR_BEN_R")) a[download]', 'href');
  check(dummy && dummy.startsWith('/api/v1/catalogue/datasets/'), `a dummy data link: ${dummy}`);
  const csv = await (await page.request.get(base + dummy)).text();
  check(csv.split('\n')[0].includes('BEN_SEX_COD'), 'the dummy data has the table\'s columns');
  await page.screenshot({ path: path.join(shots, 'catalogue.png'), fullPage: false });

  // Search, by keyboard.
  await page.focus('#q');
  await page.keyboard.type('sexe');
  await page.keyboard.press('Enter');
  await page.waitForURL(/q=sexe/);
  check(await page.inputValue('#q') === 'sexe', 'the search keeps what was typed');
  check((await page.textContent('main')).includes('IR_BEN_R'), 'the search finds the table of the column');
  await page.goto(base + '/?q=zzzz-nothing');
  check((await page.textContent('main')).includes('No dataset matches'), 'a search that finds nothing says so');
  check(!(await page.textContent('main')).includes('IR_BEN_R'), 'a search narrows the catalogue');

  // The registry.
  await Promise.all([page.waitForURL(base + '/registry'), page.click('nav >> text=Project registry')]);
  check((await page.textContent('h1')).trim() === 'Project registry', 'registry heading');
  check((await page.textContent('main')).includes(projectTitle), 'the approved project is in the registry');
  await page.screenshot({ path: path.join(shots, 'registry.png') });

  // French, kept from page to page.
  await Promise.all([page.waitForNavigation(), page.click('a.lang')]);
  check(await page.getAttribute('html', 'lang') === 'fr', 'switched to French');
  check((await page.textContent('h1')).trim() === 'Registre des projets', 'French registry heading');
  await Promise.all([page.waitForURL(base + '/'), page.click('nav >> text=Catalogue')]);
  check(await page.getAttribute('html', 'lang') === 'fr', 'French kept on the next page');
  check((await page.textContent('h1')).trim() === 'Catalogue', 'the French catalogue');
  check((await page.textContent('main')).includes('Rechercher'), 'French texts on the next page');

  // An address that leads nowhere.
  response = await page.goto(base + '/nowhere');
  check(response.status() === 404, `404 status ${response.status()}`);
  check((await page.textContent('h1')).trim() === 'Page introuvable', 'a page says it was not found');

  await context.close();

  for (const [name, url] of [['catalogue', '/'], ['search', '/?q=sexe'], ['registry', '/registry'], ['not found', '/nowhere']]) {
    await accessible(browser, base + url, name);
  }
});
