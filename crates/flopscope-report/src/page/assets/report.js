// flopscope report: draws every chart as inline SVG from the JSON embedded in the page.
// No libraries and no network: the page must open offline, years from now.
'use strict';
(function () {
  const D = JSON.parse(document.getElementById('flopscope-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#8c8c8c'];
  const W = 960;
  const M = { l: 72, r: 20, t: 14, b: 44 };

  // ---- DOM helpers -------------------------------------------------------------------------
  function set(e, a) {
    for (const k in a || {}) {
      const v = a[k];
      if (v == null) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    return e;
  }
  function add(e, kids) {
    for (const k of kids.flat(9)) if (k != null && k !== false) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  const h = (tag, a, ...kids) => add(set(document.createElement(tag), a), kids);
  const s = (tag, a, ...kids) => add(set(document.createElementNS(NS, tag), a), kids);
  const esc = t => String(t).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

  // ---- Numbers -----------------------------------------------------------------------------
  function human(n) {
    if (n == null) return '?';
    const a = Math.abs(n);
    for (const [sc, u] of [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']]) {
      if (a >= sc) {
        const v = n / sc, b = Math.abs(v);
        return (b >= 100 ? v.toFixed(0) : b >= 10 ? v.toFixed(1) : v.toFixed(2)) + u;
      }
    }
    return String(+n.toPrecision(3));
  }
  function bytes(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return i ? n.toFixed(1) + ' ' + u[i] : n + ' B';
  }
  const grouped = n => (n == null ? '?' : n.toLocaleString('en-US'));
  const shape = v => (v == null ? '?' : v.length ? v.join('×') : 'scalar');
  const sum = a => a.reduce((x, y) => x + y, 0);
  const short = name => name.split('/').filter(Boolean).pop() || name;

  // ---- Tooltip: any element with data-tip ----------------------------------------------------
  const tip = h('div', { id: 'tip', role: 'tooltip' });
  document.body.append(tip);
  document.addEventListener('mousemove', ev => {
    const t = ev.target.closest ? ev.target.closest('[data-tip]') : null;
    if (!t) { tip.style.display = 'none'; return; }
    tip.textContent = t.getAttribute('data-tip');
    tip.style.display = 'block';
    tip.style.left = Math.max(4, Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8)) + 'px';
    tip.style.top = Math.min(ev.clientY + 16, window.innerHeight - tip.offsetHeight - 8) + 'px';
  });

  // ---- Scales and axes ---------------------------------------------------------------------
  function niceTicks(a, b, n) {
    const span = b - a;
    if (!(span > 0)) return [a];
    const mag = Math.pow(10, Math.floor(Math.log10(span / n)));
    const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(st => span / st <= n) || 10 * mag;
    const t = [];
    for (let v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step) t.push(+v.toPrecision(12));
    return t;
  }
  function linear(d0, d1, r0, r1) {
    const f = v => r0 + (v - d0) / (d1 - d0 || 1) * (r1 - r0);
    f.ticks = n => niceTicks(d0, d1, n);
    return f;
  }
  function logScale(d0, d1, r0, r1) {
    const l0 = Math.log10(d0), l1 = Math.log10(d1);
    const f = v => r0 + (Math.log10(Math.max(v, d0)) - l0) / (l1 - l0 || 1) * (r1 - r0);
    f.ticks = () => {
      const t = [];
      // 1-2-5 per decade when few decades show, else powers of ten only.
      const steps = l1 - l0 > 3.5 ? [1] : [1, 2, 5];
      for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) {
        for (const m of steps) { const v = m * Math.pow(10, e); if (v >= d0 && v <= d1) t.push(v); }
      }
      return t;
    };
    return f;
  }
  // Padded domain of positive values for a log axis.
  function logDomain(vals) {
    const v = vals.filter(x => x > 0);
    if (!v.length) return [0.1, 10];
    const lo = Math.min(...v), hi = Math.max(...v);
    return [lo / 1.8, Math.max(hi * 1.8, lo * 2)];
  }
  function frame(height, x, y, xLabel, yLabel, fmtX, fmtY, xTicks) {
    const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img' });
    const g = s('g', { class: 'axis' });
    const bottom = height - M.b;
    for (const v of y.ticks(5)) {
      const py = y(v);
      g.append(s('line', { x1: M.l, x2: W - M.r, y1: py, y2: py, class: 'grid' }),
        s('text', { x: M.l - 6, y: py + 4, 'text-anchor': 'end', text: fmtY(v) }));
    }
    for (const v of xTicks || x.ticks(8)) {
      const px = x(v);
      g.append(s('line', { x1: px, x2: px, y1: bottom, y2: bottom + 4 }),
        s('text', { x: px, y: bottom + 17, 'text-anchor': 'middle', text: fmtX(v) }));
    }
    g.append(s('line', { x1: M.l, x2: W - M.r, y1: bottom, y2: bottom, class: 'base' }),
      s('text', { x: (M.l + W - M.r) / 2, y: height - 6, 'text-anchor': 'middle', class: 'label', text: xLabel }),
      s('text', { x: 14, y: (M.t + bottom) / 2, 'text-anchor': 'middle', class: 'label',
        transform: `rotate(-90 14 ${(M.t + bottom) / 2})`, text: yLabel }));
    svg.append(g);
    return svg;
  }

  // ---- Chart kinds ---------------------------------------------------------------------------
  // Vertical bars in order; each item {parts: [numbers], tip}, parts stacked bottom-up.
  function bars(items, o) {
    const height = o.height || 300;
    const ymax = Math.max(...items.map(it => sum(it.parts)), 0) || 1;
    const n = Math.max(items.length, 1);
    const x = linear(0, n, M.l, W - M.r), y = linear(0, ymax * 1.06, height - M.b, M.t);
    const svg = frame(height, x, y, o.xLabel, o.yLabel, v => v.toFixed(0), o.fmtY || human,
      x.ticks(8).filter(Number.isInteger));
    const bw = (W - M.l - M.r) / n;
    const g = s('g', { class: 'bars' });
    items.forEach((it, i) => {
      let base = 0;
      it.parts.forEach((v, k) => {
        if (v > 0) {
          g.append(s('rect', { x: x(i) + bw * 0.1, width: Math.max(bw * 0.8, 0.6), y: y(base + v),
            height: Math.max(y(base) - y(base + v), 0.5), fill: (o.colors || COLORS)[k], 'data-tip': it.tip }));
        }
        base += v;
      });
    });
    svg.append(g);
    return svg;
  }
  // Horizontal bars with category labels; rows {label, v, tip}.
  function hbars(rows, o) {
    const left = 190, rowH = 22, height = M.t + rows.length * rowH + M.b;
    const vmax = Math.max(...rows.map(r => r.v), 0) || 1;
    const x = linear(0, vmax * 1.15, left, W - M.r);
    const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img' });
    for (const t of x.ticks(6)) {
      svg.append(s('line', { x1: x(t), x2: x(t), y1: M.t, y2: height - M.b, class: 'grid' }),
        s('text', { x: x(t), y: height - M.b + 16, 'text-anchor': 'middle', text: o.fmt(t) }));
    }
    svg.append(s('text', { x: (left + W) / 2, y: height - 8, 'text-anchor': 'middle', class: 'label', text: o.xLabel }));
    rows.forEach((r, i) => {
      const y = M.t + i * rowH;
      svg.append(s('text', { x: left - 8, y: y + rowH * 0.7, 'text-anchor': 'end', text: r.label }),
        s('rect', { x: left, y: y + 3, height: rowH - 6, width: Math.max(x(r.v) - left, 0.5), fill: o.color, 'data-tip': r.tip }),
        s('text', { x: x(r.v) + 5, y: y + rowH * 0.7, text: o.fmt(r.v) }));
    });
    return svg;
  }
  // Points on log-log axes; pts {x, y, r, label, tip, color}; `line` joins the given points.
  function scatter(pts, o) {
    const height = o.height || 380;
    const [x0, x1] = logDomain(pts.map(p => p.x)), [y0, y1] = logDomain(pts.map(p => p.y));
    const x = logScale(x0, x1, M.l, W - M.r), y = logScale(y0, y1, height - M.b, M.t);
    const svg = frame(height, x, y, o.xLabel, o.yLabel, human, human);
    if (o.line && o.line.length > 1) {
      svg.append(s('polyline', { points: o.line.map(p => `${x(p.x)},${y(p.y)}`).join(' '), fill: 'none',
        stroke: COLORS[5], 'stroke-width': 2, 'stroke-dasharray': '6 4' }));
    }
    const g = s('g', { class: 'points' });
    for (const p of pts) {
      if (!(p.x > 0 && p.y > 0)) continue;
      g.append(s('circle', { cx: x(p.x), cy: y(p.y), r: p.r || 3.5, fill: p.color || COLORS[0],
        'fill-opacity': p.r > 6 ? 0.55 : 0.8, 'data-tip': p.tip }));
      if (p.label) g.append(s('text', { x: x(p.x), y: y(p.y) + 4, 'text-anchor': 'middle', text: p.label }));
    }
    svg.append(g);
    return svg;
  }
  // Lines through points; series {name, pts: [[x, y, tip]]}.
  function lines(series, o) {
    const height = 300;
    const xs = [...new Set(series.flatMap(se => se.pts.map(p => p[0])))].sort((a, b) => a - b);
    const ymax = Math.max(...series.flatMap(se => se.pts.map(p => p[1])), 0) || 1;
    const x = linear(xs[0], xs[xs.length - 1] === xs[0] ? xs[0] + 1 : xs[xs.length - 1], M.l + 20, W - M.r - 20);
    const y = linear(0, ymax * 1.1, height - M.b, M.t);
    const svg = frame(height, x, y, o.xLabel, o.yLabel, String, human, xs);
    series.forEach((se, i) => {
      const c = COLORS[i % COLORS.length];
      svg.append(s('polyline', { points: se.pts.map(p => `${x(p[0])},${y(p[1])}`).join(' '), fill: 'none', stroke: c, 'stroke-width': 2 }));
      for (const p of se.pts) svg.append(s('circle', { cx: x(p[0]), cy: y(p[1]), r: 4, fill: c, 'data-tip': p[2] }));
    });
    return [svg, legend(series.map(se => se.name))];
  }
  function legend(names) {
    return h('div', { class: 'legend' }, names.map((n, i) => h('span', {}, h('i', { style: `background:${COLORS[i % COLORS.length]}` }), n)));
  }
  // Squarified treemap layout (Bruls, Huizing, van Wijk) of items sorted by value, descending.
  function squarify(items, x, y, w, hgt) {
    const out = [];
    const total = sum(items.map(i => i.value));
    if (!(total > 0)) return out;
    const k = (w * hgt) / total;
    const areas = items.map(i => i.value * k);
    const worst = (row, side) => {
      const tot = sum(row), mx = Math.max(...row), mn = Math.min(...row);
      return Math.max((side * side * mx) / (tot * tot), (tot * tot) / (side * side * mn));
    };
    let i = 0;
    while (i < items.length) {
      const side = Math.min(w, hgt);
      let row = [areas[i]], j = i + 1;
      while (j < items.length && worst(row.concat(areas[j]), side) <= worst(row, side)) row.push(areas[j++]);
      const thick = sum(row) / side;
      let off = 0;
      for (let k2 = 0; k2 < row.length; k2++) {
        const len = row[k2] / thick;
        out.push(w >= hgt ? { item: items[i + k2], x: x, y: y + off, w: thick, h: len }
          : { item: items[i + k2], x: x + off, y: y, w: len, h: thick });
        off += len;
      }
      if (w >= hgt) { x += thick; w -= thick; } else { y += thick; hgt -= thick; }
      i = j;
    }
    return out;
  }

  // ---- Page skeleton -----------------------------------------------------------------------
  const main = document.getElementById('main');
  const toc = document.getElementById('toc');
  function section(id, title, ...kids) {
    const sec = h('section', { id }, h('h2', { text: title }), kids);
    main.append(sec);
    toc.append(h('a', { href: '#' + id, text: title }));
    return sec;
  }
  function card(k, v, x) {
    return h('div', { class: 'card' }, h('div', { class: 'k', text: k }), h('div', { class: 'v', text: v }), x && h('div', { class: 'x', text: x }));
  }
  function tableOf(head, rows, attrs) {
    return h('table', attrs || {}, h('thead', {}, h('tr', {}, head.map(c => h('th', { class: c.n ? 'n' : '', text: c.t || c })))),
      h('tbody', {}, rows.map(r => h('tr', { class: r.cls || '' }, r.cells.map((c, i) => h('td', { class: head[i].n ? 'n' : '', text: c }))))));
  }

  document.title = D.title;
  document.getElementById('title').textContent = D.title;
  document.getElementById('footer').textContent = `Made by ${D.tool}. MACs are multiply-accumulates; FLOPs = 2 × MACs + every other arithmetic operation (formulas: docs/counting.md). Nothing on this page is loaded from the network.`;

  if (D.profile) profileSections(D.profile);
  if (D.bench) benchSections(D.bench);
  rooflineSection();
  if (D.compare) compareSections(D.compare);
  if (D.diff) diffSection(D.diff);
  if (D.prediction) predictSection(D.prediction);

  // ---- One model -----------------------------------------------------------------------------
  function profileSections(p) {
    const t = p.totals;
    const lb = t.nodes_cost_unknown > 0 ? ' (lower bound)' : '';
    document.getElementById('subtitle').textContent =
      `${p.model.producer || 'built-in'} · opset ${p.model.opset} · ${grouped(p.model.nodes)} nodes · inputs ` +
      p.inputs.map(i => `${i.name} ${i.dtype} ${shape(i.shape)}`).join(', ');
    const dtypes = Object.entries(t.params_by_dtype).map(([d, c]) => `${bytes(c.bytes)} ${d}`).join(', ');
    const sec = section('summary', 'Summary', h('div', { class: 'cards' },
      card('Parameters', human(t.params), `${grouped(t.params)} · ${dtypes}`),
      card('MACs', human(t.macs) + lb, `${grouped(t.macs)} multiply-accumulates (the "FLOPs" of most CNN papers)`),
      card('FLOPs', human(t.flops) + lb, `${grouped(t.flops)} = 2 × MACs + ${human(t.flops - 2 * t.macs)} other operations`),
      card('Weights', bytes(t.weight_bytes), t.buffers ? `${grouped(t.buffers)} BatchNorm buffer elements` : 'all initializers'),
      card('Activations', bytes(t.peak_activation_bytes) + ' peak', `${bytes(t.activation_bytes)} written in all`),
      card('Memory traffic', bytes(t.bytes_read + t.bytes_written), `${bytes(t.bytes_read)} read, ${bytes(t.bytes_written)} written`)));
    if (p.llm) {
      const l = p.llm;
      const cards = [card('Stored', `${l.bits_per_param.toFixed(2)} bits/param`, `${l.tensors} tensors, ${l.format}`)];
      if (l.active_params !== l.total_params) cards.push(card('Active params', human(l.active_params), 'per token (routed experts only)'));
      if (l.decode_macs_per_token != null) cards.push(card('Decode', human(l.decode_macs_per_token) + ' MACs', `per token at past=${l.past}; ${human(l.decode_attention_macs)} attention over the cache`));
      if (l.kv_cache_bytes != null) cards.push(card('KV cache', bytes(l.kv_cache_bytes), `${bytes(l.kv_cache_bytes_per_token)} per token × batch ${l.batch} × ${l.past + 1} tokens`));
      sec.append(h('h3', { text: 'Language model' }), h('div', { class: 'cards', id: 'llm-cards' }, cards),
        h('p', { class: 'note', text: Object.entries(l.formulas).map(([k, f]) => `${k} = ${f}`).join('; ') }));
    }
    if (p.formulas) {
      sec.append(h('p', { class: 'note', text: `Exact totals in ${p.formulas.symbols.join(', ')}: MACs = ${p.formulas.macs.text}; FLOPs = ${p.formulas.flops.text}` }));
    }
    for (const u of p.unsupported) {
      sec.append(h('div', { class: 'warn', text: `Cost unknown for ${u.count} × ${u.op} (${u.reason}; e.g. ${u.examples.join(', ')}): MACs and FLOPs are lower bounds.` }));
    }
    for (const w of p.warnings) sec.append(h('div', { class: 'warn', text: w }));

    if (p.training) trainingSection(p.training);

    const costed = p.layers.map((l, i) => Object.assign({ i }, l)).filter(l => l.params > 0 || (l.flops || 0) > 0);
    const layerTip = l => `${l.name}\n${l.op} → ${shape(l.outputs[0])}\nparams ${grouped(l.params)}\nMACs ${grouped(l.macs)}\nFLOPs ${grouped(l.flops)}`;
    const metric = h('select', { id: 'layers-metric' }, ['flops', 'macs', 'params'].map(m => h('option', { value: m, text: { flops: 'FLOPs', macs: 'MACs', params: 'Parameters' }[m] })));
    const holder = h('div', { id: 'chart-layers' });
    const drawLayers = () => {
      const m = metric.value;
      holder.replaceChildren(bars(costed.map(l => ({ parts: [l[m] || 0], tip: layerTip(l) })),
        { xLabel: `layer (graph order; ${costed.length} layers with parameters or FLOPs)`, yLabel: metric.selectedOptions[0].text }));
    };
    metric.addEventListener('change', drawLayers);
    section('layers', 'Cost per layer', h('div', { class: 'controls' }, h('label', {}, 'Show ', metric)), holder);
    drawLayers();

    const ops = p.by_op_type.filter(r => r.flops > 0 || r.params > 0);
    const opTip = r => `${r.op}: ${r.count} nodes\nFLOPs ${grouped(r.flops)} (${(r.flops / (t.flops || 1) * 100).toFixed(1)}%)\nMACs ${grouped(r.macs)}\nparams ${grouped(r.params)}`;
    section('ops', 'By operator type',
      h('div', { id: 'chart-ops' }, hbars(ops.map(r => ({ label: `${r.op} (${r.count})`, v: r.flops, tip: opTip(r) })), { fmt: human, xLabel: 'FLOPs', color: COLORS[0] })),
      h('h3', { text: 'Parameters' }),
      h('div', { id: 'chart-ops-params' }, hbars(ops.filter(r => r.params > 0).map(r => ({ label: r.op, v: r.params, tip: opTip(r) })), { fmt: human, xLabel: 'parameters', color: COLORS[1] })));

    treemapSection(p, costed);

    section('memory', 'Memory per layer',
      h('p', { class: 'note', text: `Weights ${bytes(t.weight_bytes)}; peak of live activations ${bytes(t.peak_activation_bytes)} (nodes run one at a time in graph order).` }),
      legend(['weights', 'activations written']),
      h('div', { id: 'chart-memory' }, bars(p.layers.map(l => ({ parts: [l.param_bytes, l.activation_bytes],
        tip: `${l.name}\nweights ${bytes(l.param_bytes)}\nactivations ${bytes(l.activation_bytes)}` })),
        { xLabel: `layer (graph order; all ${p.layers.length} nodes)`, yLabel: 'bytes', fmtY: bytes })));

    layerTable(p);
  }

  // ---- One training step (the text report's "Training step" block) -------------------------
  function trainingSection(t) {
    const gpus = t.gpus === 1 ? '1 GPU' : `${t.gpus} GPUs, ZeRO stage ${t.zero_stage}`;
    const unknown = t.backward_unknown || [];
    const lb = unknown.length ? ' (at least)' : '';
    const m = t.memory;
    const per = t.gpus > 1 ? ' per GPU' : '';
    const cards = [
      card('Forward', human(t.forward_flops) + ' FLOPs', `${grouped(t.forward_macs)} MACs`),
      card('Backward', human(t.backward_flops) + ' FLOPs' + lb, `${grouped(t.backward_macs)} MACs`),
      card('Optimizer', human(t.optimizer_flops) + ' FLOPs', `${t.optimizer} update of ${grouped(t.trainable_params)} trainable parameters`),
      card('Step', human(t.flops) + ' FLOPs' + lb, `${grouped(t.flops)} FLOPs, ${grouped(t.macs)} MACs`),
      card('Peak memory' + per, bytes(m.peak_bytes), `${bytes(m.activations_bytes)} activations saved for backward`),
    ];
    if (t.tokens_per_step != null && t.flops_per_token != null) {
      cards.push(card('Per token', t.flops_per_token.toExponential(3) + ' FLOPs', `${grouped(t.tokens_per_step)} tokens per step`));
    }
    if (t.time) {
      const s = t.time.seconds;
      const d = s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(1)} days`;
      cards.push(card('Training time', d, `${human(t.time.tokens)} tokens on ${t.time.gpus} GPU(s) of ${t.time.peak_gflops} GFLOP/s at ${(t.time.mfu * 100).toFixed(0)}% MFU`));
    }
    const state = t.precision === 'fp32' ? 'optimizer (moments)' : 'optimizer (moments, fp32 master weights)';
    const parts = [['weights', m.weights_bytes], ['gradients', m.gradients_bytes], [state, m.optimizer_bytes], ['activations saved', m.activations_bytes]];
    const sec = section('training', `Training step (${t.optimizer}, ${t.precision}, recompute ${t.recompute}, ${gpus})`,
      h('div', { class: 'cards', id: 'training-cards' }, cards),
      h('p', { class: 'note', text: `Parameters: ${grouped(t.trainable_params)} trainable, ${grouped(t.frozen_params)} frozen. Method: docs/training.md.` }),
      h('h3', { text: 'Memory' + per }),
      h('div', { id: 'chart-training-memory' }, hbars(parts.map(([k, v]) => ({ label: k, v, tip: `${k}: ${bytes(v)}` })), { fmt: bytes, xLabel: 'bytes', color: COLORS[1] })));
    for (const u of unknown) {
      sec.append(h('div', { class: 'warn', text: `Backward unknown for ${u.count} × ${u.op} (${u.reason}): the backward and step totals are lower bounds.` }));
    }
  }

  function treemapSection(p, costed) {
    // Name hierarchy: the module path, then the node.
    const root = { name: 'model', kids: new Map(), value: 0 };
    const metric = h('select', { id: 'treemap-metric' }, h('option', { value: 'flops', text: 'FLOPs' }), h('option', { value: 'params', text: 'Parameters' }));
    const crumbs = h('div', { class: 'crumbs' });
    const holder = h('div', { id: 'chart-treemap' });
    let path = [];
    const build = m => {
      root.kids = new Map(); root.value = 0;
      for (const l of costed) {
        const v = l[m] || 0;
        if (!(v > 0)) continue;
        const parts = (l.scope && l.scope.length ? l.scope.slice() : l.name.split('/').filter(Boolean).slice(0, -1));
        parts.push(short(l.name));
        let n = root;
        root.value += v;
        for (const part of parts) {
          if (!n.kids.has(part)) n.kids.set(part, { name: part, kids: new Map(), value: 0 });
          n = n.kids.get(part);
          n.value += v;
        }
        n.layer = l;
      }
    };
    const draw = () => {
      let node = root;
      for (const pth of path) node = node.kids.get(pth) || node;
      crumbs.replaceChildren(...['model', ...path].map((c, i) => i < path.length
        ? [h('a', { text: c, onclick: () => { path = path.slice(0, i); draw(); } }), ' / ']
        : h('span', { text: c })).flat());
      const height = 440;
      const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img' });
      const kids = [...node.kids.values()].sort((a, b) => b.value - a.value);
      const total = root.value || 1;
      squarify(kids, 0, 0, W, height).forEach((c, i) => {
        const color = COLORS[i % COLORS.length];
        const g = s('g', {});
        const leaf = c.item.kids.size === 0;
        const pct = (c.item.value / total * 100).toFixed(1);
        g.append(s('rect', { class: 'tm-outer', x: c.x + 1, y: c.y + 1, width: Math.max(c.w - 2, 0), height: Math.max(c.h - 2, 0), fill: color, 'fill-opacity': 0.35,
          'data-tip': `${[...path, c.item.name].join('/')}\n${human(c.item.value)} (${pct}% of the model)${leaf ? '' : '\nclick to zoom in'}`,
          style: leaf ? '' : 'cursor:pointer', onclick: leaf ? null : () => { path = path.concat(c.item.name); draw(); } }));
        // The next level inside, unlabelled, so the structure shows.
        if (!leaf && c.w > 30 && c.h > 30) {
          const inner = [...c.item.kids.values()].sort((a, b) => b.value - a.value);
          for (const q of squarify(inner, c.x + 4, c.y + 18, c.w - 8, c.h - 22)) {
            g.append(s('rect', { class: 'tm-inner', x: q.x + 0.5, y: q.y + 0.5, width: Math.max(q.w - 1, 0), height: Math.max(q.h - 1, 0), fill: color, 'fill-opacity': 0.75,
              'data-tip': `${[...path, c.item.name, q.item.name].join('/')}\n${human(q.item.value)} (${(q.item.value / total * 100).toFixed(1)}%)`,
              onclick: () => { path = path.concat(c.item.name); draw(); }, style: 'cursor:pointer' }));
          }
        }
        if (c.w > 60 && c.h > 16) {
          g.append(s('text', { x: c.x + 5, y: c.y + 13, class: 'tm-label', style: 'fill:var(--fg)', text: `${c.item.name} ${pct}%`.slice(0, Math.floor(c.w / 6.5)) }));
        }
        svg.append(g);
      });
      holder.replaceChildren(svg);
    };
    metric.addEventListener('change', () => { build(metric.value); path = []; draw(); });
    section('treemap', 'Cost by module',
      h('div', { class: 'controls' }, h('label', {}, 'Size by ', metric), crumbs), holder);
    build('flops');
    draw();
  }

  function layerTable(p) {
    const timed = D.bench && D.bench.runs.find(r => r.layers && r.layers.length);
    const time = new Map(timed ? timed.layers.map(l => [l.name, l]) : []);
    const total = p.totals.flops || 1;
    const rows = p.layers.map((l, i) => {
      const tl = time.get(l.name);
      return { i: i + 1, name: l.name, op: l.domain ? `${l.domain}::${l.op}` : l.op, out: shape(l.outputs[0]),
        params: l.params, macs: l.macs, flops: l.flops, pct: l.flops == null ? null : l.flops / total * 100,
        wbytes: l.param_bytes, abytes: l.activation_bytes, ms: tl ? tl.time_ms : null, gf: tl ? tl.gflops_per_s : null };
    });
    const cols = [
      { k: 'i', t: '#', n: 1, f: String }, { k: 'name', t: 'Layer' }, { k: 'op', t: 'Op' }, { k: 'out', t: 'Output' },
      { k: 'params', t: 'Params', n: 1, f: human }, { k: 'macs', t: 'MACs', n: 1, f: human }, { k: 'flops', t: 'FLOPs', n: 1, f: human },
      { k: 'pct', t: '% FLOPs', n: 1, f: v => v.toFixed(2) }, { k: 'wbytes', t: 'Weights', n: 1, f: bytes }, { k: 'abytes', t: 'Activations', n: 1, f: bytes }];
    if (timed) cols.push({ k: 'ms', t: 'Time (ms)', n: 1, f: v => v.toFixed(3) }, { k: 'gf', t: 'GFLOP/s', n: 1, f: v => v.toFixed(1) });
    const maxPct = Math.max(...rows.map(r => r.pct || 0), 1e-9);
    let sortKey = 'i', dir = 1;
    const filter = h('input', { type: 'search', id: 'layer-filter', placeholder: 'filter by name or op (regular expression)' });
    const all = h('input', { type: 'checkbox', id: 'layer-all' });
    const count = h('span', { id: 'layer-count', class: 'note' });
    const ths = cols.map(c => h('th', { class: c.n ? 'n' : '', 'data-key': c.k, text: c.t, title: 'sort' }));
    const tbody = h('tbody');
    const table = h('table', { id: 'layer-table' }, h('thead', {}, h('tr', {}, ths)), tbody);
    const render = () => {
      let re = null;
      try { re = filter.value ? new RegExp(filter.value, 'i') : null; } catch (e) { re = null; }
      const q = filter.value.toLowerCase();
      let shown = rows.filter(r => (all.checked || r.params > 0 || r.flops !== 0) &&
        (!q || (re ? re.test(r.name) || re.test(r.op) : r.name.toLowerCase().includes(q) || r.op.toLowerCase().includes(q))));
      shown = shown.slice().sort(byKey(sortKey, dir));
      tbody.innerHTML = shown.map(r => '<tr>' + cols.map(c => {
        const v = r[c.k];
        const txt = v == null ? '?' : c.f ? c.f(v) : v;
        const bar = c.k === 'pct' && v ? `<span class="bar" style="width:${(v / maxPct * 60).toFixed(1)}px"></span> ` : '';
        return `<td class="${c.n ? 'n' : c.k === 'name' ? 'name' : ''}"${c.k === 'name' ? ` title="${esc(v)}"` : ''}>${bar}${esc(txt)}</td>`;
      }).join('') + '</tr>').join('');
      count.textContent = `${shown.length} of ${rows.length} nodes`;
      ths.forEach(th => th.setAttribute('aria-sort', th.dataset.key === sortKey ? (dir > 0 ? 'ascending' : 'descending') : 'none'));
    };
    ths.forEach(th => th.addEventListener('click', () => {
      const k = th.dataset.key;
      const numeric = cols.find(c => c.k === k).n && k !== 'i';
      if (k === sortKey) dir = -dir; else { sortKey = k; dir = numeric ? -1 : 1; }
      render();
    }));
    filter.addEventListener('input', render);
    all.addEventListener('change', render);
    section('table', 'Layers', h('div', { class: 'controls' }, filter, h('label', {}, all, ' show nodes with no parameters and no FLOPs'), count),
      h('div', { class: 'table-wrap' }, table));
    render();
  }

  // ---- Measurements ------------------------------------------------------------------------
  function benchSections(b) {
    const runs = b.runs;
    const label = r => `${r.backend} ${r.backend_version}, ${r.threads} thr, batch ${r.batch}`;
    const sec = section('bench', 'Latency', h('p', { class: 'note', text: `${b.model} · ${b.inputs.join(', ')}${b.synthesized_weights ? ' · seeded random weights' : ''}` }),
      tableOf([{ t: 'Runtime' }, { t: 'Threads', n: 1 }, { t: 'Batch', n: 1 }, { t: 'Runs', n: 1 }, { t: 'Median ms', n: 1 }, { t: 'p90 ms', n: 1 }, { t: 'p99 ms', n: 1 }, { t: 'Min ms', n: 1 }, { t: 'FPS', n: 1 }, { t: 'Load ms', n: 1 }, { t: 'Cold ms', n: 1 }],
        runs.map(r => ({ cells: [`${r.backend} ${r.backend_version}`, r.threads, r.batch, r.runs, r.latency_ms.median.toFixed(3), r.latency_ms.p90.toFixed(3), r.latency_ms.p99.toFixed(3), r.latency_ms.min.toFixed(3), r.fps.toFixed(1), r.load_ms.toFixed(0), r.cold_ms.toFixed(1)] })),
        { id: 'bench-table' }));
    const pick = h('select', { id: 'latency-run' }, runs.map((r, i) => h('option', { value: i, text: label(r) })));
    const holder = h('div', { id: 'chart-latency' });
    const drawHist = () => {
      const r = runs[+pick.value], smp = r.samples_ms || [];
      if (!smp.length) { holder.replaceChildren(h('p', { class: 'note', text: 'no samples' })); return; }
      const lo = Math.min(...smp), hi = Math.max(...smp, lo + 1e-6);
      const nb = Math.min(60, Math.max(10, Math.round(Math.sqrt(smp.length))));
      const w = (hi - lo) / nb, counts = new Array(nb).fill(0);
      for (const v of smp) counts[Math.min(nb - 1, Math.floor((v - lo) / w))]++;
      const height = 280, x = linear(lo - w, hi + w, M.l, W - M.r), y = linear(0, Math.max(...counts) * 1.15, height - M.b, M.t);
      const svg = frame(height, x, y, 'latency (ms)', 'runs', v => +v.toPrecision(4), String);
      counts.forEach((c, i) => svg.append(s('rect', { x: x(lo + i * w), width: Math.max(x(lo + (i + 1) * w) - x(lo + i * w) - 1, 0.5), y: y(c), height: y(0) - y(c), fill: COLORS[0],
        'data-tip': `${(lo + i * w).toFixed(3)}–${(lo + (i + 1) * w).toFixed(3)} ms: ${c} runs` })));
      for (const [name, v, c] of [['median', r.latency_ms.median, COLORS[5]], ['p99', r.latency_ms.p99, COLORS[3]]]) {
        svg.append(s('line', { x1: x(v), x2: x(v), y1: M.t, y2: height - M.b, stroke: c, 'stroke-width': 2 }),
          s('text', { x: x(v) + 4, y: M.t + 12, text: `${name} ${v.toFixed(2)} ms`, style: `fill:${c}` }));
      }
      holder.replaceChildren(svg);
    };
    pick.addEventListener('change', drawHist);
    sec.append(h('h3', { text: 'Distribution of timed runs' }), h('div', { class: 'controls' }, pick), holder);
    drawHist();

    // Throughput curves: one series per (runtime, threads) over batch, and per (runtime, batch) over threads.
    const curves = (xKey, groupKey, xName) => {
      const groups = new Map();
      for (const r of runs) {
        const g = `${r.backend} ${r.backend_version}, ${groupKey === 'threads' ? r.threads + ' threads' : 'batch ' + r.batch}`;
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g).push([r[xKey], r.fps, `${label(r)}\n${r.fps.toFixed(1)} inferences/s, median ${r.latency_ms.median.toFixed(3)} ms`]);
      }
      const series = [...groups].map(([name, pts]) => ({ name, pts: pts.sort((a, c) => a[0] - c[0]) })).filter(se => se.pts.length > 1);
      return series.length ? lines(series, { xLabel: xName, yLabel: 'inferences / s' }) : null;
    };
    const byBatch = curves('batch', 'threads', 'batch size');
    if (byBatch) sec.append(h('h3', { text: 'Throughput vs batch size' }), h('div', { id: 'chart-throughput-batch' }, byBatch));
    const byThreads = curves('threads', 'batch', 'intra-op threads');
    if (byThreads) sec.append(h('h3', { text: 'Throughput vs threads' }), h('div', { id: 'chart-throughput-threads' }, byThreads));

    const timed = runs.find(r => r.layers && r.layers.length);
    if (timed) {
      const pts = timed.layers.filter(l => l.flops > 0 && l.time_ms > 0).map(l => ({ x: l.flops, y: l.time_ms * 1e3, color: COLORS[0],
        tip: `${l.name} (${l.op})\n${human(l.flops)} FLOPs in ${l.time_ms.toFixed(3)} ms\n${(l.gflops_per_s || 0).toFixed(1)} GFLOP/s` }));
      const flops = sum(timed.layers.map(l => l.flops || 0)), ms = sum(timed.layers.map(l => l.time_ms));
      sec.append(h('h3', { text: `Per-layer time vs FLOPs (${label(timed)})` }),
        h('p', { class: 'note', text: `Each point is one ONNX node; the further right and lower, the more GFLOP/s it achieves. Summed: ${human(flops)} FLOPs in ${ms.toFixed(2)} ms = ${(flops / ms / 1e6).toFixed(1)} GFLOP/s.` }),
        h('div', { id: 'chart-layer-time' }, scatter(pts, { xLabel: 'FLOPs (log)', yLabel: 'time (µs, log)' })));
    }
  }

  // ---- Roofline ----------------------------------------------------------------------------
  // Present only when a roof was asked for (--roofline, a device spec or --machine): the
  // profile's summary and per-layer places, and each measured run against its own roof.
  function rooflineSection() {
    const prof = D.profile && D.profile.roofline ? D.profile : null;
    const runs = D.bench ? D.bench.runs.filter(r => r.roofline) : [];
    if (!prof && !runs.length) return;
    const fI = v => (v == null ? '–' : v.toFixed(2));
    const runLabel = r => `${r.backend} ${r.backend_version}, ${r.threads} thr, batch ${r.batch}`;
    // With a measured run, every card is about that run's roof (its thread count), so the
    // efficiency card is the predicted card ÷ the measured one.
    const measured = runs.filter(r => r.roofline.measured_ms != null);
    const roof = measured.length ? measured[0].roofline : prof ? prof.roofline : runs[0].roofline;
    const threads = roof.source === 'spec' ? '' : `, ${roof.threads} thread${roof.threads === 1 ? '' : 's'}`;
    const cardAs = (id, c) => set(c, { id });
    const cards = [
      cardAs('roof-card-roof', card('Roof', `${f1(roof.peak_gflops)} GFLOP/s`,
        `${f1(roof.bandwidth_gbs)} GB/s · ridge ${roof.ridge.toFixed(2)} FLOP/byte · ${roof.device} (${roof.source}${threads})`)),
      cardAs('roof-card-predicted', card('Predicted lower bound', `${f3(roof.predicted_ms)} ms`,
        `every layer at its roof, one after another: ${roof.compute_bound_layers} compute-bound, ${roof.memory_bound_layers} memory-bound` +
        (roof.layers_cost_unknown ? `, ${roof.layers_cost_unknown} of unknown cost left out` : ''))),
      cardAs('roof-card-compute', card('Compute floor', `${f3(roof.compute_floor_ms)} ms`, 'all FLOPs at peak: no schedule can beat it')),
      cardAs('roof-card-memory', card('Memory floor', `${f3(roof.memory_floor_ms)} ms`, 'weights, inputs and outputs moved once at full bandwidth')),
    ];
    if (measured.length) {
      const r = measured[0], rr = r.roofline;
      cards.push(cardAs('roof-card-measured', card('Measured median', `${f3(rr.measured_ms)} ms`, runLabel(r))),
        cardAs('roof-card-efficiency', card('Efficiency', `${f1(rr.efficiency_pct)}%`, `of the roofline: predicted ${f3(rr.predicted_ms)} ms ÷ measured`)),
        cardAs('roof-card-achieved', card('Achieved', `${f1(rr.achieved_gflops)} GFLOP/s`,
          `total FLOPs ÷ median: ${f1(rr.achieved_gflops / rr.peak_gflops * 100)}% of the ${f1(rr.peak_gflops)} GFLOP/s peak`)));
    }
    const sec = section('roofline', 'Roofline', h('div', { class: 'cards', id: 'roofline-cards' }, cards));
    if (measured.length) {
      sec.append(h('h3', { text: 'Measured runs against their roof' }),
        tableOf([{ t: 'Runtime' }, { t: 'Threads', n: 1 }, { t: 'Batch', n: 1 }, { t: 'Peak GFLOP/s', n: 1 }, { t: 'GB/s', n: 1 },
          { t: 'Predicted ms', n: 1 }, { t: 'Median ms', n: 1 }, { t: '% of roofline', n: 1 }, { t: 'Achieved GFLOP/s', n: 1 }],
        measured.map(r => {
          const rr = r.roofline;
          return { cells: [`${r.backend} ${r.backend_version}`, r.threads, r.batch, f1(rr.peak_gflops), f1(rr.bandwidth_gbs),
            f3(rr.predicted_ms), f3(rr.measured_ms), f1(rr.efficiency_pct), f1(rr.achieved_gflops)] };
        }), { id: 'roofline-runs' }));
    }

    // Layers: measured ones from the first run timed per layer, else the profile's.
    const timed = runs.find(r => r.layers && r.layers.length);
    const rf = timed ? timed.roofline : roof;
    let items = [], unknown = 0;
    if (timed) {
      for (const l of timed.layers) {
        if (!l.roofline) { unknown++; continue; }
        // The bench report carries each layer's rate and % of bound; no FLOPs: no rate.
        items.push({ name: l.name, op: l.op, flops: l.flops, rf: l.roofline, ms: l.time_ms,
          gf: l.flops > 0 ? l.gflops_per_s : null, pct: l.efficiency_pct });
      }
    } else if (prof) {
      for (const l of prof.layers) {
        if (!l.roofline) { unknown++; continue; }
        items.push({ name: l.name, op: l.domain ? `${l.domain}::${l.op}` : l.op, flops: l.flops, rf: l.roofline });
      }
    }
    if (!items.length) return;
    const placed = items.filter(it => it.rf.intensity > 0 && it.flops > 0 && (!timed || it.ms > 0));
    const left = items.length + unknown - placed.length;
    const note = timed
      ? `Each point is one layer at the rate it achieved in ${runLabel(timed)} (its FLOPs ÷ its measured time), under that run's roof of ${f1(rf.peak_gflops)} GFLOP/s and ${f1(rf.bandwidth_gbs)} GB/s. The closer to the roof, the nearer the layer runs to the machine's limit.`
      : `Each point is one layer at its attainable rate min(peak, intensity × bandwidth): without measurements every layer sits on the roof (add --bench to place measured rates).`;
    sec.append(h('h3', { text: 'Roofline chart' }), h('p', { class: 'note', text: note }),
      h('div', { class: 'legend' }, h('span', {}, h('i', { class: 'compute' }), 'compute-bound'), h('span', {}, h('i', { class: 'memory' }), 'memory-bound'),
        h('span', {}, h('i', { class: 'roof' }), 'roof: bandwidth slope, then peak')),
      h('div', { id: 'chart-roofline' }, roofChart(placed, rf, !!timed)),
      h('p', { class: 'note', id: 'roofline-left-out', 'data-left-out': left,
        text: `${placed.length} layers placed; ${left} left out (no FLOPs, moving no data, unknown cost${timed ? ' or not timed' : ''}): a log axis has no place for them.` }));

    // The per-layer table: every layer with a predicted or measured time.
    const rows = items.filter(it => it.rf.min_ms > 0 || it.ms > 0).map(it => ({ name: it.name, op: it.op, intensity: it.rf.intensity,
      bound: it.rf.bound, min: it.rf.min_ms, ms: timed ? it.ms : null, gf: timed ? it.gf : null, pct: timed ? it.pct : null }));
    const cols = [{ k: 'name', t: 'Layer' }, { k: 'op', t: 'Op' }, { k: 'intensity', t: 'FLOP/byte', n: 1, f: fI }, { k: 'bound', t: 'Bound' },
      { k: 'min', t: 'Predicted min ms', n: 1, f: f3 }];
    if (timed) cols.push({ k: 'ms', t: 'Measured ms', n: 1, f: f3 }, { k: 'gf', t: 'Achieved GFLOP/s', n: 1, f: v => (v == null ? '–' : f1(v)) }, { k: 'pct', t: '% of bound', n: 1, f: f1 });
    sec.append(h('h3', { text: 'Layers under the roof' }),
      h('p', { class: 'note', text: `${rows.length} layers with a predicted or measured time${timed ? `, measured in ${runLabel(timed)}; % of bound = predicted min ÷ measured` : ''}. Click a column to sort.` }),
      h('div', { class: 'table-wrap' }, sortableTable('roofline-table', cols, rows, timed ? 'ms' : 'min', -1)));
  }

  // Compares rows by one key: strings by locale, numbers by value, nulls last either way.
  function byKey(key, dir) {
    return (a, b) => {
      const x = a[key], y = b[key];
      if (x == null && y == null) return 0;
      if (x == null) return 1;
      if (y == null) return -1;
      return (typeof x === 'string' ? x.localeCompare(y) : x - y) * dir;
    };
  }

  // A table sorted by clicking its head; cols {k, t, n (numeric), f (format)}, nulls last.
  function sortableTable(id, cols, rows, key, dir) {
    const ths = cols.map(c => h('th', { class: c.n ? 'n' : '', 'data-key': c.k, text: c.t, title: 'sort' }));
    const tbody = h('tbody');
    const render = () => {
      const shown = rows.slice().sort(byKey(key, dir));
      tbody.innerHTML = shown.map(r => '<tr>' + cols.map(c => {
        const v = r[c.k];
        const txt = c.f ? c.f(v) : v == null ? '?' : v;
        const cls = c.n ? 'n' : c.k === 'name' ? 'name' : c.k === 'bound' ? `bound-${v}` : '';
        return `<td class="${cls}"${c.k === 'name' ? ` title="${esc(v)}"` : ''}>${esc(txt)}</td>`;
      }).join('') + '</tr>').join('');
      ths.forEach(th => th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none'));
    };
    ths.forEach(th => th.addEventListener('click', () => {
      const k = th.dataset.key;
      if (k === key) dir = -dir; else { key = k; dir = cols.find(c => c.k === k).n ? -1 : 1; }
      render();
    }));
    render();
    return h('table', { id }, h('thead', {}, h('tr', {}, ths)), tbody);
  }

  // Log-log roofline: the bandwidth slope up to the ridge, flat at the peak, and the layers.
  function roofChart(items, rf, measured) {
    const height = 420;
    const peak = rf.peak_gflops, bw = rf.bandwidth_gbs, ridge = rf.ridge;
    const pts = items.map(it => {
      const at = Math.min(peak, it.rf.intensity * bw);
      return Object.assign({ x: it.rf.intensity, y: measured ? it.gf : at, at }, it);
    });
    const [x0, x1] = logDomain(pts.map(p => p.x).concat([ridge]));
    const [y0, y1] = logDomain(pts.map(p => p.y).concat([peak, x0 * bw]));
    const x = logScale(x0, x1, M.l, W - M.r), y = logScale(y0, y1, height - M.b, M.t);
    const svg = set(frame(height, x, y, 'Arithmetic intensity (FLOP/byte)', 'GFLOP/s', human, human),
      { id: 'roofline-chart', class: 'chart roofline', 'data-peak-gflops': peak, 'data-bandwidth-gbs': bw, 'data-ridge': ridge });
    // The slope starts where it enters the plot (at the left edge, or the bottom).
    const xs = Math.max(x0, y0 / bw);
    const g = s('g', { class: 'roof' });
    if (ridge > xs) {
      g.append(s('polyline', { class: 'roof-line roof-slope', points: `${x(xs)},${y(xs * bw)} ${x(ridge)},${y(peak)}`,
        'data-tip': `memory roof: ${f1(bw)} GB/s × intensity` }));
      const xm = Math.sqrt(xs * ridge);
      const ang = Math.atan2(y(peak) - y(xs * bw), x(ridge) - x(xs)) * 180 / Math.PI;
      g.append(s('text', { x: x(xm), y: y(xm * bw) - 7, 'text-anchor': 'middle', class: 'roof-label',
        transform: `rotate(${ang.toFixed(2)} ${x(xm).toFixed(1)} ${y(xm * bw).toFixed(1)})`, text: `${f1(bw)} GB/s` }));
    }
    g.append(s('polyline', { class: 'roof-line roof-flat', points: `${x(ridge)},${y(peak)} ${x(x1)},${y(peak)}`,
      'data-tip': `compute roof: ${f1(peak)} GFLOP/s peak` }),
    s('text', { x: W - M.r - 6, y: y(peak) - 7, 'text-anchor': 'end', class: 'roof-label', text: `peak ${f1(peak)} GFLOP/s` }),
    s('line', { class: 'roof-ridge', x1: x(ridge), x2: x(ridge), y1: height - M.b, y2: y(peak),
      'data-tip': `ridge: ${ridge.toFixed(2)} FLOP/byte\nbelow it a layer is memory-bound, above it compute-bound` }),
    s('text', { x: x(ridge) + 5, y: height - M.b - 6, class: 'roof-label', text: `ridge ${ridge.toFixed(2)} FLOP/byte` }));
    svg.append(g);
    const pg = s('g', { class: 'roof-points' });
    for (const p of pts) {
      let tipText = `${p.name}\n${p.op} · ${p.x.toFixed(2)} FLOP/byte · ${p.rf.bound}-bound\nroofline minimum ${p.rf.min_ms.toFixed(3)} ms (attainable ${p.at.toFixed(1)} GFLOP/s)`;
      if (measured) tipText += `\nmeasured ${p.ms.toFixed(3)} ms → ${p.gf.toFixed(1)} GFLOP/s, ${p.pct == null ? '?' : p.pct.toFixed(1)}% of bound`;
      pg.append(s('circle', { class: `roof-point ${p.rf.bound}`, cx: x(p.x), cy: y(p.y), r: 4, 'data-tip': tipText,
        'data-name': p.name, 'data-op': p.op, 'data-intensity': p.x, 'data-gflops': p.y, 'data-bound': p.rf.bound, 'data-min-ms': p.rf.min_ms,
        'data-ms': measured ? p.ms : null, 'data-pct': measured ? p.pct : null }));
    }
    svg.append(pg);
    return svg;
  }
  function f1(v) { return v == null ? '?' : v.toFixed(1); }
  function f3(v) { return v == null ? '?' : v.toFixed(3); }

  // ---- Several models ----------------------------------------------------------------------
  function compareSections(c) {
    const measured = c.entries.some(e => e.latency_ms != null);
    if (!D.profile) document.getElementById('subtitle').textContent = `${c.entries.length} models compared`;
    const head = [{ t: 'Model' }, { t: 'Params (M)', n: 1 }, { t: 'MACs (G)', n: 1 }, { t: 'FLOPs (G)', n: 1 }, { t: 'Memory (MiB)', n: 1 }];
    if (measured) head.push({ t: 'Latency (ms)', n: 1 }, { t: 'FPS', n: 1 });
    const rows = c.entries.map(e => {
      const lb = e.lower_bound ? '≥' : '';
      const cells = [e.name, (e.params / 1e6).toFixed(2), lb + (e.macs / 1e9).toFixed(3), lb + (e.flops / 1e9).toFixed(3), (e.memory_bytes / 1048576).toFixed(1)];
      if (measured) cells.push(e.latency_ms == null ? '-' : e.latency_ms.toFixed(2), e.fps == null ? '-' : e.fps.toFixed(1));
      return { cells, cls: e.pareto ? 'pareto' : '' };
    });
    const axes = [['flops', 'FLOPs'], ['macs', 'MACs']].concat(measured ? [['latency_ms', 'latency (ms)']] : []);
    const yAxis = h('select', { id: 'pareto-y' }, axes.map(([k, t]) => h('option', { value: k, text: t })));
    if (c.pareto_axis === 'latency_ms') yAxis.value = 'latency_ms';
    const holder = h('div', { id: 'chart-pareto' });
    const draw = () => {
      const k = yAxis.value;
      const es = c.entries.filter(e => e[k] != null && e[k] > 0);
      const front = es.filter(e => !es.some(o => o.params <= e.params && o[k] <= e[k] && (o.params < e.params || o[k] < e[k])))
        .sort((a, b) => a.params - b.params);
      const mmax = Math.max(...es.map(e => e.memory_bytes), 1);
      holder.replaceChildren(scatter(es.map((e, i) => ({ x: e.params, y: e[k], r: 6 + 30 * Math.sqrt(e.memory_bytes / mmax), color: COLORS[i % COLORS.length], label: e.name,
        tip: `${e.name}\n${human(e.params)} params · ${human(e.macs)} MACs · ${human(e.flops)} FLOPs\nmemory ${bytes(e.memory_bytes)}${e.latency_ms != null ? `\n${e.latency_ms.toFixed(2)} ms, ${e.fps.toFixed(1)} FPS` : ''}` })),
      { height: 420, xLabel: 'parameters (log)', yLabel: `${yAxis.selectedOptions[0].text} (log)`, line: front.map(e => ({ x: e.params, y: e[k] })) }));
    };
    yAxis.addEventListener('change', draw);
    const sec = section('compare', 'Models compared', tableOf(head, rows, { id: 'compare-table' }),
      h('p', { class: 'note', text: 'Bold: on the Pareto front of parameters vs ' + (c.pareto_axis === 'latency_ms' ? 'latency' : 'FLOPs') + '. Memory: weights + peak activations.' }),
      h('h3', { text: 'Pareto chart' }), h('div', { class: 'controls' }, h('label', {}, 'Parameters vs ', yAxis), ' bubble area ∝ memory; dashed: Pareto front'), holder);
    draw();
    if (D.compare_text) {
      sec.append(h('details', {}, h('summary', { text: 'Markdown' }), h('pre', { text: D.compare_text[0] })),
        h('details', {}, h('summary', { text: 'LaTeX' }), h('pre', { text: D.compare_text[1] })));
    }
  }

  // ---- Predicted time on a device -------------------------------------------------------------
  function predictSection(p) {
    const CLASSES = ['gemm', 'conv', 'grouped_conv', 'attention', 'elementwise', 'data'];
    const e = p.error_band;
    const band = e ? `±${e.median_pct.toFixed(0)}% median |error| (90th percentile ${e.p90_pct.toFixed(0)}%, ${e.n} models: ${e.basis})`
      : `error not measured for the '${p.device.profile}' profile at ${p.dtype}: a rough estimate`;
    const cards = h('div', { class: 'cards', id: 'predict-cards' },
      card('Predicted latency', `${p.latency_ms.toFixed(3)} ms`, `${p.device.name} · ${p.dtype} via ${p.backend} · batch ${p.batch}`),
      card('Throughput', `${p.throughput_per_s.toFixed(1)} /s`, `samples per second at batch ${p.batch}`),
      card('Error band', e ? `±${e.median_pct.toFixed(0)}%` : 'not measured', band),
      card('Memory', p.fits ? 'fits' : 'does NOT fit', `${bytes(p.memory.total_bytes)} of ${bytes(p.memory.device_bytes)}`));
    const timed = p.layers.filter(l => l.time_ms > 0);
    const tip = l => `${l.name}\n${l.op} (${l.class}${l.fused ? ', fused' : ''})\n${(l.time_ms * 1000).toFixed(2)} µs, ${l.bound}-bound\n${(l.share * 100).toFixed(1)}% of the model`;
    const colors = timed.map(l => COLORS[Math.max(CLASSES.indexOf(l.class), 0)]);
    const chart = bars(timed.map((l, i) => ({ parts: [l.time_ms], tip: tip(l), color: colors[i] })),
      { xLabel: `layer (graph order; ${timed.length} layers that take time)`, yLabel: 'predicted ms', fmtY: v => v.toPrecision(2) });
    // One colour per kernel class: recolour the bars in order.
    chart.querySelectorAll('rect[data-tip]').forEach((r, i) => r.setAttribute('fill', colors[i]));
    section('predict', `Predicted time on ${p.device.name}`, cards,
      h('p', { class: 'note', text: `Roofline per layer × efficiency by kernel class and size + ${p.totals.kernels} kernel launches; ${p.totals.fused} layers fused. Clock factor ${p.clock_factor.toFixed(2)}. Method and measured accuracy: docs/predict.md.` }),
      legend(CLASSES), h('div', { id: 'chart-predict' }, chart),
      h('h3', { text: 'By kernel class' }),
      h('div', { id: 'chart-predict-classes' }, hbars(p.by_class.map(c => ({ label: `${c.class} (${c.layers})`, v: c.time_ms,
        tip: `${c.class}: ${c.time_ms.toFixed(3)} ms, ${(c.share * 100).toFixed(1)}%` })), { fmt: v => v.toPrecision(3) + ' ms', xLabel: 'predicted ms', color: COLORS[0] })));
  }

  function diffSection(d) {
    const delta = (a, b) => {
      const x = b - a;
      return { text: (x > 0 ? '+' : x < 0 ? '−' : '') + human(Math.abs(x)), cls: x > 0 ? 'grow' : x < 0 ? 'shrink' : '' };
    };
    const tot = h('div', { class: 'cards' }, [['Parameters', d.params], ['MACs', d.macs], ['FLOPs', d.flops]].map(([k, [a, b]]) =>
      card(k, `${human(a)} → ${human(b)}`, `${delta(a, b).text}${a ? ` (${((b - a) / a * 100).toFixed(1)}%)` : ''}`)));
    const tbody = h('tbody', {}, d.layers.slice(0, 500).map(l => {
      const dp = delta(l.params[0], l.params[1]), df = delta(l.flops[0], l.flops[1]);
      return h('tr', {}, h('td', { class: 'name', title: l.name, text: l.name }), h('td', { text: l.op }), h('td', { text: l.status }),
        h('td', { class: 'n ' + dp.cls, text: dp.text }), h('td', { class: 'n ' + df.cls, text: df.text }),
        h('td', { text: l.output[0] === l.output[1] ? l.output[1] : `${l.output[0]} → ${l.output[1]}` }));
    }));
    section('diff', `What changed: ${d.models[0]} → ${d.models[1]}`, tot,
      h('p', { class: 'note', text: `${d.layers.length} layers differ (matched by node name), largest FLOPs change first.` }),
      h('div', { class: 'table-wrap' }, h('table', { id: 'diff-table' }, h('thead', {}, h('tr', {}, ['Layer', 'Op', 'Change', 'ΔParams', 'ΔFLOPs', 'Output'].map(t => h('th', { text: t })))), tbody)));
  }
})();
