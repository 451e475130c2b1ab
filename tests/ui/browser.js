// e2e.ui-browser's browser half: drives Debian's Chromium (puppeteer-core, no downloaded browser) through kbk ui.
// Usage: node browser.js BASE_URL TOKEN SCREENSHOT_DIR. Prints "ok - ..." / "not ok - ..." per check.
'use strict';
const http = require('http');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [base, token, shots] = process.argv.slice(2);
let failed = 0;
function check(name, cond, detail) {
  console.log((cond ? 'ok - ' : 'not ok - ') + name);
  if (!cond) { failed++; if (detail) console.log('    ' + String(detail).slice(0, 2000).replace(/\n/g, '\n    ')); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--no-proxy-server', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) outside.push(r.url()); });

    // ---- backups list and an object ----------------------------------------------------------------------------
    await page.goto(base + '/?token=' + token, { waitUntil: 'networkidle0' });
    await page.waitForSelector('table#backups');
    const names = await page.$$eval('table#backups tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
    check('the backups list shows b1', names.includes('b1'), names);
    check('the token left the address bar', !page.url().includes('token='), page.url());
    await page.screenshot({ path: path.join(shots, 'backups.png') });
    await page.click('button[aria-label="Open backup b1"]');
    await page.waitForSelector('button[data-ref="configmaps/shop/settings"]');
    await page.click('button[data-ref="configmaps/shop/settings"]');
    await page.waitForSelector('pre.yaml');
    const yaml = await page.$eval('pre.yaml', (e) => e.textContent);
    check("the object view shows the ConfigMap's YAML", yaml.includes('color: blue') && yaml.includes('kind: ConfigMap'), yaml);
    await page.screenshot({ path: path.join(shots, 'object.png') });

    // ---- compose a restore -------------------------------------------------------------------------------------
    await page.click('.row button.primary');  // Restore from this backup
    await page.waitForSelector('#backup-select');
    await page.click('input.ns[value="shop"]');
    const addMap = await page.$$('fieldset.card button');
    for (const b of addMap) if ((await b.evaluate((e) => e.textContent)) === 'Add namespace mapping') { await b.click(); break; }
    const pair = await page.$$('fieldset.card .pair input');
    await pair[0].type('shop');
    await pair[1].type('shop2');
    const clickText = async (text) => {
      const bs = await page.$$('button');
      for (const b of bs) if ((await b.evaluate((e) => e.textContent)) === text) return b.click();
      throw new Error('no button ' + text);
    };
    await clickText('Edit ConfigMap values');
    await page.select('fieldset.kv select', 'configmaps/shop/settings');
    await page.waitForSelector('fieldset.kv .kvrow');
    const rows = await page.$$('fieldset.kv .kvrow');
    for (const r of rows) {
      const key = await r.$eval('input.key', (e) => e.value);
      if (key === 'color') { const v = await r.$('input.value'); await v.click({ clickCount: 3 }); await v.type('green'); }
    }
    // Secret values are masked until shown.
    await clickText('Edit Secret values');
    await page.select('fieldset.kv:last-of-type select', 'secrets/shop/creds');
    await page.waitForSelector('fieldset.kv:last-of-type .kvrow');
    const masked = await page.$eval('fieldset.kv:last-of-type input.value', (e) => [e.type, e.value]);
    const showBtn = await page.$('fieldset.kv:last-of-type .kvrow button');
    await showBtn.click();
    const shown = await page.$eval('fieldset.kv:last-of-type input.value', (e) => e.type);
    check('a Secret value is masked until shown (decoded from base64)', masked[0] === 'password' && masked[1] === 's3cret' && shown === 'text', masked + ' ' + shown);
    await showBtn.click();
    // The Service's target port, with the ports editor.
    await clickText('Change Service type or ports');
    await page.select('fieldset.svc select', 'services/shop/web');
    await page.waitForSelector('fieldset.svc .port input.target');
    const tp = await page.$('fieldset.svc .port input.target');
    await tp.click({ clickCount: 3 });
    await tp.type('9090');
    await clickText('Add patch');
    const card = await page.$('fieldset.patch');
    const inputs = await card.$$('.row input');
    await inputs[0].type('services');
    await inputs[1].type('shop');
    await inputs[2].type('web');
    // A bad strategic merge patch: the error at its line (line 3: NodePort is not a JSON value).
    await card.$eval('textarea', (t) => { t.value = '{\n  "spec": {\n    "type": NodePort\n  }\n}'; t.dispatchEvent(new Event('input')); });
    await page.waitForSelector('fieldset.patch .patch-error');
    const err = await page.$eval('fieldset.patch .patch-error', (e) => e.textContent);
    const marked = await page.$$eval('fieldset.patch .gutter .err', (es) => es.map((e) => e.textContent));
    check('a bad patch shows its error at line 3, and the gutter marks line 3', err.startsWith('Line 3,') && marked.join() === '3', err + ' / ' + marked);
    check('the text area is marked invalid for screen readers', await card.$eval('textarea', (t) => t.getAttribute('aria-invalid') === 'true'));
    await page.screenshot({ path: path.join(shots, 'patch-error.png'), fullPage: true });
    await card.$eval('textarea', (t) => { t.value = 'spec:\n  type: NodePort\n'; t.dispatchEvent(new Event('input')); });
    await page.waitForFunction(() => document.querySelector('fieldset.patch p.ok'));
    check('the fixed patch is valid', true);

    // The export: command line and modifier file.
    await page.waitForFunction(() => { const m = document.querySelector('#modifiers'); return m && m.textContent.includes('NodePort') && m.textContent.includes('green') && m.textContent.includes('"targetPort":9090'); }, { timeout: 10000 });
    const command = await page.$eval('#command', (e) => e.textContent);
    check('the exported command line maps the namespace and names the modifier file',
      command.includes('kbk restore create') && command.includes('--namespace-mappings=shop:shop2') && command.includes('--resource-modifiers=MODIFIERS.yaml'), command);

    // Preview.
    await page.click('#preview');
    await page.waitForSelector('#preview-summary', { timeout: 60000 });
    const summary = await page.$eval('#preview-summary', (e) => e.textContent);
    const diff = await page.$eval('#preview-diff', (e) => e.textContent);
    check('the preview names its sides b1 and restore', diff.includes('--- b1/configmaps/shop2/settings') && diff.includes('+++ restore/configmaps/shop2/settings'), diff.slice(0, 400));
    check('the preview diff shows the ConfigMap value and the Service type changed (2 changed)',
      summary.startsWith('2 changed') && /\+\s*color: green/.test(diff) && /\+\s*type: NodePort/.test(diff), summary + '\n' + diff);
    await page.screenshot({ path: path.join(shots, 'compose.png'), fullPage: true });

    // Run it.
    await page.click('#run');
    await page.waitForSelector('#run-status', { timeout: 120000 });
    const st = await page.$eval('#run-status', (e) => e.textContent + ' ' + e.className);
    check('the restore ran from the page and finished', st.includes('finished') && st.includes('ok'), st);
    const items = await page.$$eval('#result-items tr', (trs) => trs.length);
    check('per-item results are listed', items > 3, items);
    await page.screenshot({ path: path.join(shots, 'results.png'), fullPage: true });

    await clickText('Restores');
    await page.waitForSelector('main table');
    await page.screenshot({ path: path.join(shots, 'restores.png') });
    const restoreBtn = await page.$('button[aria-label^="Open restore b1-"]');
    check('the restores page lists the restore run from the page', restoreBtn !== null);
    if (restoreBtn) {
      await restoreBtn.click();
      await page.waitForSelector('dl.facts');
      await clickText('Log');
      await page.waitForSelector('main div > h3 + pre');
      const log = await page.$eval('main div > h3 + pre', (e) => e.textContent).catch(() => '');
      check("the restore's log is shown", log.includes('restore b1-'), log.slice(0, 300));
      await page.screenshot({ path: path.join(shots, 'restore.png'), fullPage: true });
    }
    await clickText('Back up');
    await page.waitForSelector('main form');
    await page.screenshot({ path: path.join(shots, 'backup.png') });

    // ---- phone width -------------------------------------------------------------------------------------------
    await page.setViewport({ width: 390, height: 844 });
    await clickText('Backups');
    await page.waitForSelector('table#backups');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    check('at phone width (390px) the backups view has no horizontal scroll', overflow <= 392, overflow);
    await page.screenshot({ path: path.join(shots, 'phone.png') });
    // Keyboard: Tab from the top reaches the skip link, then the location picker and the views.
    await page.setViewport({ width: 1280, height: 800 });
    const focused = await page.evaluate(() => document.activeElement.textContent);
    await page.keyboard.press('Tab');
    const next = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
    check('a new view focuses its heading; the next Tab stop is the first backup', focused === 'Backups' && next === 'Open backup b1', focused + ' / ' + next);
    check('a skip link leads to the content', await page.$eval('a.skip', (a) => a.getAttribute('href') === '#main'));
    const unlabeled = await page.$$eval('input, select, textarea', (es) => es.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length);
    check('every input of the page has a label', unlabeled === 0, unlabeled);

    check('no request left the kbk ui origin', outside.length === 0, outside.join('\n'));
    check('no script error on the page', consoleErrors.length === 0, consoleErrors.join('\n'));

    // ---- no token: 401; a cross-site POST: refused ---------------------------------------------------------------
    const anon = await browser.createBrowserContext();
    const p2 = await anon.newPage();
    const r401 = await p2.goto(base + '/api/backups');
    check('a browser without the token gets 401', r401.status() === 401, r401.status());
    await anon.close();

    const evil = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><form id=f method=POST action="' + base + '/api/restores" enctype="text/plain">' +
        '<input name=\'{"backup":"b1","namespaceMappings":{"shop":"evil"},"x":"\' value=\'"}\'></form>' +
        '<script>fetch(' + JSON.stringify(base + '/api/restores') + ',{method:"POST",mode:"no-cors",credentials:"include",' +
        'body:JSON.stringify({backup:"b1",namespaceMappings:{shop:"evil"}})});document.getElementById("f").submit();</script>');
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const statuses = [];
    const listener = (r) => { if (r.url().startsWith(base + '/api/restores')) statuses.push(r.status()); };
    page.on('response', listener);
    await page.goto('http://localhost:' + evil.address().port + '/', { waitUntil: 'networkidle0' }).catch(() => {});
    await sleep(500);
    page.off('response', listener);
    evil.close();
    check('cross-site POSTs (fetch and form) to /api/restores are refused (401/403)',
      statuses.length >= 1 && statuses.every((s) => s === 401 || s === 403), statuses);
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(failed ? 1 : 0), (e) => { console.log('not ok - the browser run: ' + (e.stack || e)); process.exit(1); });
