// Small SVG charts drawn by our own code (no library, no CDN): the
// utilisation report as bars per bucket (capacity behind booked, checked in
// and no-show) with the utilisation as a line on a 0–100 % scale, and the
// review times as large figures. Sizes are in viewBox units, so a chart
// scales with its container; `large` draws type for a wall screen.

import { h } from './ui.js';
import { t, formatNumber } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** The series drawn, in the order of the bars within a bucket. */
export const SERIES = [
  { key: 'booked', cls: 'bar-booked', label: () => t('reports.series.booked') },
  { key: 'checked_in', cls: 'bar-checked-in', label: () => t('reports.series.checked_in') },
  { key: 'no_show', cls: 'bar-no-show', label: () => t('reports.series.no_show') },
];

/** A rounded-up axis maximum: 1, 2, 5 × 10^n. */
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * Bars of capacity vs booked / checked in / no-show per bucket, and the
 * utilisation line. `label(row)` names a bucket on the x axis.
 */
export function utilisationChart(rows, { label, large = false, title }) {
  const font = large ? 22 : 13;
  const width = 960;
  const height = large ? 480 : 300;
  const pad = { left: font * 3.5, right: font * 3.5, top: font * 1.5, bottom: font * 3.2 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(1, ...rows.map((r) => r.capacity), ...rows.map((r) => r.booked)));
  const y = (v) => pad.top + plotH - (v / max) * plotH;
  const band = plotW / Math.max(1, rows.length);
  const barW = Math.max(1, (band * 0.8) / SERIES.length);
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: `chart${large ? ' large' : ''}`,
    role: 'img',
    'aria-label': title,
    'font-size': font,
  });
  svg.append(s('title', {}, title));
  // Grid and left axis (places).
  for (let i = 0; i <= 4; i += 1) {
    const v = (max / 4) * i;
    svg.append(
      s('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: pad.left - 6, y: y(v) + font / 3, 'text-anchor': 'end', class: 'axis' }, formatNumber(v)),
      s('text', { x: width - pad.right + 6, y: y(v) + font / 3, class: 'axis' }, `${25 * i}%`),
    );
  }
  const every = Math.max(1, Math.ceil(rows.length / (large ? 6 : 10)));
  const line = [];
  rows.forEach((r, i) => {
    const x0 = pad.left + i * band + band * 0.1;
    const g = s('g', { class: 'bucket' });
    // Capacity: the whole band behind the bars.
    g.append(s('rect', { x: x0, y: y(r.capacity), width: band * 0.8, height: Math.max(0, pad.top + plotH - y(r.capacity)), class: 'bar-capacity' }));
    SERIES.forEach((series, j) => {
      const v = r[series.key];
      g.append(s('rect', { x: x0 + j * barW, y: y(v), width: Math.max(1, barW - 1), height: Math.max(0, pad.top + plotH - y(v)), class: series.cls }));
    });
    g.append(
      s(
        'title',
        {},
        `${label(r)}: ${t('reports.series.capacity')} ${r.capacity}, ${SERIES.map((x) => `${x.label()} ${r[x.key]}`).join(', ')}, ${t('reports.series.utilisation')} ${
          r.utilisation === null ? '—' : `${Math.round(r.utilisation * 100)}%`
        }`,
      ),
    );
    svg.append(g);
    if (r.utilisation !== null) line.push(`${x0 + band * 0.4},${pad.top + plotH - r.utilisation * plotH}`);
    if (i % every === 0) {
      svg.append(s('text', { x: x0 + band * 0.4, y: height - pad.bottom + font * 1.4, 'text-anchor': 'middle', class: 'axis' }, label(r)));
    }
  });
  if (line.length) svg.append(s('polyline', { points: line.join(' '), class: 'util-line' }));
  svg.append(s('line', { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, class: 'axis-line' }));
  return h('figure', { class: 'chart-figure' }, svg, legend());
}

/** The legend, as HTML so that it wraps and reads as text. */
function legend() {
  const items = [
    { cls: 'bar-capacity', label: t('reports.series.capacity') },
    ...SERIES.map((x) => ({ cls: x.cls, label: x.label() })),
    { cls: 'util-line', label: t('reports.series.utilisation') },
  ];
  return h(
    'figcaption',
    { class: 'legend' },
    h('ul', {}, items.map((i) => h('li', {}, h('span', { class: `swatch ${i.cls}`, 'aria-hidden': 'true' }), i.label))),
  );
}

/** Seconds as `2 h 05 min` / `45 min` / `30 s`. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return t('reports.seconds', { n: seconds });
  const m = Math.round(seconds / 60);
  if (m < 60) return t('reports.minutes', { n: m });
  return t('reports.hours_minutes', { h: Math.floor(m / 60), m: String(m % 60).padStart(2, '0') });
}

/** The review times as three large figures. */
export function reviewFigures(times, { large = false } = {}) {
  const item = (label, value) => h('div', { class: 'figure' }, h('dt', {}, label), h('dd', {}, value));
  return h(
    'dl',
    { class: `figures${large ? ' large' : ''}` },
    item(t('reports.review.count'), formatNumber(times.count)),
    item(t('reports.review.p50'), duration(times.p50_seconds)),
    item(t('reports.review.p90'), duration(times.p90_seconds)),
  );
}
