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
const out = { errors: [], requests: [], charts: {}, table: null, diff_rows: null, compare_rows: null, roofline: null };
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

  if (await page.$('#training')) {
    out.training = {
      title: await page.textContent('#training h2'),
      cards: await page.$$eval('#training-cards .card', cs => cs.map(c => ({
        k: c.querySelector('.k').textContent, v: c.querySelector('.v').textContent, x: (c.querySelector('.x') || {}).textContent }))),
    };
  }
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
  if (await page.$('#roofline')) {
    // The roofline section: cards, runs, the chart's roof, points and a tooltip, the table.
    const r = {};
    r.cards = await page.$$eval('#roofline-cards .card', cs => cs.map(c => ({ id: c.id,
      k: c.querySelector('.k').textContent, v: c.querySelector('.v').textContent, x: (c.querySelector('.x') || {}).textContent })));
    r.runs = await page.$$eval('#roofline-runs tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)));
    const chart = await page.$('#roofline-chart');
    if (chart) {
      r.chart = await page.$eval('#roofline-chart', svg => ({
        cls: svg.getAttribute('class'),
        peak: +svg.dataset.peakGflops, bandwidth: +svg.dataset.bandwidthGbs, ridge: +svg.dataset.ridge,
        slope: svg.querySelectorAll('polyline.roof-line.roof-slope').length,
        flat: svg.querySelectorAll('polyline.roof-line.roof-flat').length,
        ridge_marks: svg.querySelectorAll('.roof-ridge').length,
        labels: [...svg.querySelectorAll('text')].map(t => t.textContent),
        points: [...svg.querySelectorAll('.roof-point')].map(c => ({ name: c.dataset.name, op: c.dataset.op, bound: c.dataset.bound,
          intensity: +c.dataset.intensity, gflops: +c.dataset.gflops, min_ms: +c.dataset.minMs,
          ms: c.dataset.ms == null ? null : +c.dataset.ms, pct: c.dataset.pct == null ? null : +c.dataset.pct,
          cls: c.getAttribute('class') })),
      }));
      r.left_out = await page.$eval('#roofline-left-out', e => ({ n: +e.dataset.leftOut, text: e.textContent }));
      // Hover a point that nothing covers (points overlap) and read the tooltip.
      await chart.scrollIntoViewIfNeeded();
      const at = await page.$$eval('#roofline-chart .roof-point', cs => {
        for (let i = cs.length - 1; i >= 0; i--) {
          const b = cs[i].getBoundingClientRect(), x = b.left + b.width / 2, y = b.top + b.height / 2;
          if (document.elementFromPoint(x, y) === cs[i]) return { x, y };
        }
        return null;
      });
      if (at) {
        await page.mouse.move(at.x, at.y);
        r.tooltip = await page.textContent('#tip');
        await page.mouse.move(0, 0);
      }
    }
    if (await page.$('#roofline-table')) {
      const rows = () => page.$$eval('#roofline-table tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.getAttribute('title') || td.textContent)));
      r.table_head = await page.$$eval('#roofline-table th', ths => ths.map(t => t.textContent));
      r.table = await rows();
      r.table_sort_attr = await page.$$eval('#roofline-table th', ths => ths.map(t => t.getAttribute('aria-sort')));
      await page.click('#roofline-table th[data-key="intensity"]');
      r.table_by_intensity = (await rows()).map(c => c[2]);
      r.table_intensity_sort_attr = await page.getAttribute('#roofline-table th[data-key="intensity"]', 'aria-sort');
    }
    await (await page.$('#roofline')).screenshot({ path: shot.replace(/\.png$/, '-roofline.png') });
    out.roofline = r;
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
