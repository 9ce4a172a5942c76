// The officers' reports page: utilisation of one site per day or hour as a
// chart (web/charts.js) with a CSV download, and review times.

import * as api from './api.js';
import { h, replace, errorBox, pageTitle, busy, loading, table } from './ui.js';
import { t } from './i18n.js';
import { todayIn, addDays, localParts } from './time.js';
import { utilisationChart, reviewFigures } from './charts.js';

/** A labelled control (a small local one: the form is a row of filters). */
function control(label, el) {
  return h('label', { class: 'filter' }, h('span', {}, label), el);
}

function select(name, options, value) {
  return h('select', { name }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

/** `2026-12-08` or `08 10:00` for a bucket, in the site's time. */
function bucketLabel(bucket) {
  return (row) => {
    const p = localParts(row.bucket_start);
    return bucket === 'hour' ? `${p.date.slice(5)} ${p.time}` : p.date.slice(5);
  };
}

export async function reportsPage(ctx) {
  const sites = await ctx.sites();
  const out = h('div', { class: 'report-output', 'aria-live': 'polite' });
  if (!sites.length) {
    return h('div', {}, pageTitle(t('reports.title')), h('p', { class: 'empty' }, t('reports.no_sites')));
  }
  const first = sites.find((s) => s.code === ctx.query.site) || sites[0];
  const today = todayIn(first.timezone);
  const siteSel = select('site_id', sites.map((s) => [s.id, `${s.code} · ${s.name}`]), first.id);
  const modeSel = select('mode', [['', t('reports.mode.all')], ['road', t('reports.mode.road')], ['rail', t('reports.mode.rail')], ['air', t('reports.mode.air')]], ctx.query.mode || '');
  const from = h('input', { type: 'date', name: 'from', value: ctx.query.from || addDays(today, -6) });
  const to = h('input', { type: 'date', name: 'to', value: ctx.query.to || addDays(today, 2) });
  const bucketSel = select('bucket', [['day', t('reports.bucket.day')], ['hour', t('reports.bucket.hour')]], ctx.query.bucket || 'day');
  const large = h('input', { type: 'checkbox', name: 'large', checked: ctx.query.large === '1' });
  const page = h('div', { class: `reports${ctx.query.large === '1' ? ' wall' : ''}` });

  const query = () => {
    const q = { site_id: siteSel.value, from: from.value, to: to.value, bucket: bucketSel.value };
    if (modeSel.value) q.mode = modeSel.value;
    return q;
  };

  async function show(btn) {
    const q = query();
    page.classList.toggle('wall', large.checked);
    replace(out, loading(t('reports.loading')));
    try {
      const [util, review] = await busy(btn, () =>
        Promise.all([
          api.get(`/reports/utilisation${api.qs(q)}`),
          api.get(`/reports/review-times${api.qs({ from: q.from, to: q.to, site_id: q.site_id })}`),
        ]),
      );
      const site = sites.find((s) => s.id === q.site_id);
      const label = bucketLabel(q.bucket);
      const title = t('reports.chart_title', { site: site ? site.code : '', from: q.from, to: q.to });
      const csvLink = h('a', { href: '#', class: 'button-link secondary', download: `utilisation-${site ? site.code : 'site'}-${q.from}.csv` }, t('reports.csv'));
      csvLink.addEventListener('click', async (e) => {
        if (csvLink.dataset.ready) return;
        e.preventDefault();
        const text = await api.getText(`/reports/utilisation${api.qs(q)}`, 'text/csv');
        csvLink.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
        csvLink.dataset.ready = '1';
        csvLink.click();
      });
      replace(
        out,
        h('section', { class: 'card report' }, h('h2', {}, title),
          util.items.length
            ? utilisationChart(util.items, { label, large: large.checked, title })
            : h('p', { class: 'empty' }, t('reports.empty')),
          h('p', { class: 'actions' }, csvLink),
          util.items.length
            ? table({
                caption: t('reports.table_caption'),
                columns: [t('reports.col.bucket'), t('reports.series.capacity'), t('reports.series.booked'), t('reports.series.checked_in'), t('reports.series.no_show'), t('reports.series.cancelled'), t('reports.series.utilisation')],
                rows: util.items.map((r) => [label(r), r.capacity, r.booked, r.checked_in, r.no_show, r.cancelled, r.utilisation === null ? '—' : `${Math.round(r.utilisation * 100)}%`]),
              })
            : null,
        ),
        h('section', { class: 'card report' }, h('h2', {}, t('reports.review.title')), reviewFigures(review, { large: large.checked })),
      );
    } catch (err) {
      replace(out, errorBox(err, t('reports.failed')));
    }
  }

  const form = h(
    'form',
    {
      class: 'filters card',
      onsubmit: (e) => {
        e.preventDefault();
        show(form.querySelector('button[type=submit]'));
      },
    },
    control(t('reports.site'), siteSel),
    control(t('reports.mode'), modeSel),
    control(t('reports.from'), from),
    control(t('reports.to'), to),
    control(t('reports.bucket'), bucketSel),
    h('label', { class: 'filter check' }, large, h('span', {}, t('reports.large'))),
    h('button', { type: 'submit', class: 'primary' }, t('reports.show')),
  );
  replace(page, pageTitle(t('reports.title')), h('p', { class: 'lead' }, t('reports.lead')), form, out);
  show(form.querySelector('button[type=submit]'));
  return page;
}
