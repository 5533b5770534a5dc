// Opens a page holding a notebook output (flopscope's `_repr_html_`) in the system's headless
// Chromium with the network off, and prints what it saw as JSON: console errors, requests
// the page tried, and the summary cards as they are rendered. The Python test decides what
// is right; this script only observes.
//
// usage: node check_fragment.mjs PAGE.html SCREENSHOT.png
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [file, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const out = { errors: [], requests: [], cards: [], svg_bars: 0, rows: 0 };
try {
  const context = await browser.newContext({ offline: true, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') out.errors.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', e => out.errors.push(`page error: ${e.message}`));
  const url = pathToFileURL(file).href;
  await page.route('**/*', route => {
    const u = route.request().url();
    if (u === url) return route.continue();
    out.requests.push(u);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load' });
  // What a person sees: the visible text of each card, the bars drawn, the table rows.
  out.cards = await page.$$eval('.flopscope-card', cs => cs.filter(c => c.offsetWidth > 0).map(c => ({ text: c.innerText.replace(/\s+/g, ' ').trim(), title: c.getAttribute('title') })));
  out.svg_bars = await page.$$eval('svg.flopscope-chart rect', rs => rs.filter(r => +r.getAttribute('width') > 0).length);
  out.rows = await page.$$eval('table.flopscope-layers tbody tr', rs => rs.length);
  await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
  out.errors.push(`driver: ${e.message}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
