// Opens a flopscope HTML report in the system's headless Chromium with the network off, drives
// it (sort, filter, hover), saves a screenshot and prints what it saw as JSON on stdout. The
// Rust test `report_browser.rs` decides what is right; this script only observes.
//
// usage: node check_report.mjs REPORT.html SCREENSHOT.png
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [file, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const out = { errors: [], requests: [], charts: {}, table: null, diff_rows: null, compare_rows: null };
try {
  const context = await browser.newContext({  offline: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') out.errors.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', e => out.errors.push(`page error: ${e.message}`));
  const url = pathToFileURL(file).href;
  // Anything but the report itself is a network access the page must not make.
  await page.route('**/*', route => {
    const u = route.request().url();
    if (u === url) return route.continue();
    out.requests.push(u);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load' });
  out.title = await page.title();
  out.sections = await page.$$eval('main > section', s => s.map(e => e.id));
  out.charts = await page.$$eval('[id^="chart-"]', els => Object.fromEntries(els.map(e => [e.id,
    { svgs: e.querySelectorAll('svg').length, marks: e.querySelectorAll('svg rect, svg circle, svg polyline').length,
      text: [...e.querySelectorAll('svg text')].map(t => t.textContent).join('|').slice(0, 4000) }])));

  if (await page.$('#layer-table')) {
    const names = () => page.$$eval('#layer-table tbody tr td:nth-child(2)', tds => tds.map(t => t.getAttribute('title')));
    const t = { initial: await names() };
    await page.click('#layer-table th[data-key="flops"]');
    t.flops_desc = await names();
    t.flops_sort_attr = await page.getAttribute('#layer-table th[data-key="flops"]', 'aria-sort');
    await page.click('#layer-table th[data-key="flops"]');
    t.flops_asc = await names();
    await page.click('#layer-table th[data-key="name"]');
    t.name_asc = await names();
    await page.fill('#layer-filter', 'Conv');
    t.filter_conv = await names();
    t.count_text = await page.textContent('#layer-count');
    await page.fill('#layer-filter', '');
    await page.check('#layer-all');
    t.all = (await names()).length;
    await page.uncheck('#layer-all');
    out.table = t;
    // A tooltip appears over a bar of the layer chart.
    // Hover the tallest bar (thin ones may be under a pixel high).
    const bars = await page.$$('#chart-layers svg g.bars rect');
    if (bars.length) {
      const tallest = await page.$$eval('#chart-layers svg g.bars rect',
        rs => rs.reduce((b, r, i) => (+r.getAttribute('height') > +rs[b].getAttribute('height') ? i : b), 0));
      await bars[tallest].hover();
      out.tooltip = await page.textContent('#tip');
    }
    // Zoom into the first block of the treemap.
    const block = await page.$('#chart-treemap svg rect.tm-inner');
    if (block) {
      await block.click();
      out.treemap_crumbs = await page.textContent('#treemap .crumbs');
    }
    await page.click('#layer-table th[data-key="flops"]');
  }
  if (await page.$('#compare-table')) {
    out.compare_rows = await page.$$eval('#compare-table tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)));
  }
  if (await page.$('#diff-table')) {
    out.diff_rows = await page.$$eval('#diff-table tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)));
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
  out.errors.push(`driver: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
