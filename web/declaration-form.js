// Create or edit a declaration with its goods items. Each field shows the
// console's own check and the server's verdict side by side; edits carry the
// version they were based on (If-Match).

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, field, setMessage, liveCheck, busy, statusLabel } from './ui.js';
import { zoneName } from './time.js';
import { can, declarationName } from './company.js';
import { t } from './i18n.js';

const INCOTERMS = ['EXW', 'FCA', 'CPT', 'CIP', 'DAP', 'DPU', 'DDP', 'FAS', 'FOB', 'CFR', 'CIF'];
const ITEM_KEYS = ['hs_code', 'description', 'quantity', 'unit', 'net_mass_kg', 'value', 'origin_country'];

const DECIMAL = /^\d{1,15}(\.\d{1,3})?$/;

/** Client-side checks; the server remains the judge of every rule. */
const CHECKS = {
  kind: (v) => (v ? '' : t('df.check.kind')),
  site_id: (v) => (v ? '' : t('df.check.site')),
  transport_mode: (v) => (v ? '' : t('df.check.mode')),
  consignor: (v) => (v.trim() ? '' : t('df.check.consignor')),
  consignee: (v) => (v.trim() ? '' : t('df.check.consignee')),
  origin_country: country,
  destination_country: country,
  currency: (v) => (/^[A-Za-z]{3}$/.test(v.trim()) ? '' : t('df.check.currency')),
  incoterm: (v) => (v ? '' : t('df.check.incoterm')),
  invoice_total: (v) => decimal(v, t('df.what.invoice_total')),
  gross_mass_kg: (v) => decimal(v, t('df.what.gross_mass')),
  hs_code: (v) => (/^\d{6,10}$/.test(v.trim()) ? '' : t('df.check.hs')),
  description: (v) => (v.trim() ? '' : t('df.check.description')),
  quantity: (v) => decimal(v, t('df.what.quantity')),
  unit: (v) => (/^[A-Za-z0-9]{1,10}$/.test(v.trim()) ? '' : t('df.check.unit')),
  net_mass_kg: (v) => decimal(v, t('df.what.net_mass')),
  value: (v) => decimal(v, t('df.what.value')),
};

function country(v) {
  return /^[A-Za-z]{2}$/.test(v.trim()) ? '' : t('register.two_letters');
}

function decimal(v, what) {
  if (!v.trim()) return t('df.enter', { what });
  return DECIMAL.test(v.trim()) ? '' : t('df.enter_number', { what });
}

/** A decimal string as thousandths (BigInt), for exact sums. */
function milli(v) {
  const m = /^(\d+)(?:\.(\d{1,3}))?$/.exec((v || '').trim());
  if (!m) return null;
  return BigInt(m[1]) * 1000n + BigInt((m[2] || '').padEnd(3, '0'));
}

function fromMilli(n) {
  const s = n.toString().padStart(4, '0');
  return `${s.slice(0, -3)}.${s.slice(-3)}`.replace(/\.?0+$/, '').replace(/^$/, '0');
}

const EMPTY_ITEM = { hs_code: '', description: '', quantity: '', unit: 'KGM', net_mass_kg: '', value: '', origin_country: '' };

export async function declarationForm(ctx) {
  const [id] = ctx.params;
  const sites = await ctx.sites();
  let decl = null;
  let etag = null;
  if (id) {
    const res = await api.call('GET', `/declarations/${id}`);
    decl = res.body;
    etag = res.headers.get('ETag') || `"${decl.version}"`;
    if (!can(decl, 'edit')) {
      return h(
        'div',
        {},
        pageTitle(t('co.declaration_title', { name: declarationName(decl) })),
        h('div', { class: 'alert warning', role: 'status' }, h('p', {}, t('df.not_editable', { status: statusLabel(decl.status) }))),
        h('p', {}, h('a', { href: `#/declarations/${decl.id}` }, t('df.back'))),
      );
    }
  }
  const v = decl || {
    kind: 'import',
    site_id: sessionStorage.getItem('clearway.site') || (sites[0] && sites[0].id) || '',
    transport_mode: '',
    consignor: '',
    consignee: (ctx.enterprise && ctx.enterprise.name) || '',
    origin_country: '',
    destination_country: (ctx.enterprise && ctx.enterprise.country) || '',
    currency: 'CNY',
    incoterm: 'FCA',
    invoice_total: '',
    gross_mass_kg: '',
    items: [{ ...EMPTY_ITEM }],
  };

  /** name → field wrapper, for header fields. */
  const fields = {};
  const add = (spec) => {
    fields[spec.name] = field(spec);
    return fields[spec.name];
  };

  const siteOptions = [{ value: '', label: sites.length ? t('df.choose_site') : t('df.no_sites') }].concat(
    sites.map((s) => ({ value: s.id, label: `${s.code} · ${s.name} (${zoneName(s.timezone)})` })),
  );
  add({ label: t('co.kind'), name: 'kind', value: v.kind, required: true, options: [
    { value: 'import', label: t('co.kind.import') }, { value: 'export', label: t('co.kind.export') }, { value: 'transit', label: t('co.kind.transit') },
  ] });
  add({ label: t('book.clearance_site'), name: 'site_id', value: v.site_id, required: true, options: siteOptions });
  add({ label: t('book.transport_mode'), name: 'transport_mode', value: v.transport_mode, required: true, options: [] });
  add({ label: t('df.consignor'), name: 'consignor', value: v.consignor, required: true, attrs: { maxlength: 300 } });
  add({ label: t('df.consignee'), name: 'consignee', value: v.consignee, required: true, attrs: { maxlength: 300 } });
  add({ label: t('df.origin_country'), name: 'origin_country', value: v.origin_country, required: true, hint: 'ISO 3166-1 alpha-2', attrs: { maxlength: 2, class: 'short upper' } });
  add({ label: t('df.destination_country'), name: 'destination_country', value: v.destination_country, required: true, hint: 'ISO 3166-1 alpha-2', attrs: { maxlength: 2, class: 'short upper' } });
  add({ label: t('df.currency'), name: 'currency', value: v.currency, required: true, hint: 'ISO 4217', attrs: { maxlength: 3, class: 'short upper' } });
  add({ label: t('df.incoterm'), name: 'incoterm', value: v.incoterm, required: true, options: INCOTERMS.map((i) => ({ value: i, label: i })) });
  add({ label: t('co.invoice_total'), name: 'invoice_total', value: v.invoice_total, required: true, hint: t('df.invoice_hint'), attrs: { inputmode: 'decimal', class: 'num' } });
  add({ label: t('df.gross_mass'), name: 'gross_mass_kg', value: v.gross_mass_kg, required: true, hint: t('df.gross_hint'), attrs: { inputmode: 'decimal', class: 'num' } });

  const modeSelect = fields.transport_mode.querySelector('select');
  const siteSelect = fields.site_id.querySelector('select');
  const fillModes = (keep) => {
    const site = sites.find((s) => s.id === siteSelect.value);
    const modes = site ? site.modes : [];
    replace(modeSelect, modes.length ? null : h('option', { value: '' }, t('df.site_first')), modes.map((m) => h('option', { value: m, selected: m === keep }, t(`mode.${m}`))));
  };
  fillModes(v.transport_mode);
  siteSelect.addEventListener('change', () => {
    fillModes(modeSelect.value);
    sessionStorage.setItem('clearway.site', siteSelect.value);
  });

  // ---- items ----
  const itemsBox = h('div', { class: 'items' });
  const itemRows = [];
  const itemFields = (row) => Object.fromEntries(ITEM_KEYS.map((k) => [k, row.querySelector(`.field[data-key="${k}"]`)]));

  function renumber() {
    itemRows.forEach((row, i) => {
      row.querySelector('legend').textContent = t('df.item_n', { n: i + 1 });
      const rm = row.querySelector('button.remove');
      rm.textContent = '';
      rm.append(t('df.remove_item', { n: i + 1 }));
      rm.disabled = itemRows.length === 1;
      for (const [k, wrap] of Object.entries(itemFields(row))) {
        const name = `items[${i}].${k}`;
        wrap.dataset.for = name;
        wrap.querySelector('input').dataset.field = name;
      }
    });
    updateTotals();
  }

  function addItem(item) {
    const specs = {
      hs_code: { label: t('co.hs_code'), attrs: { inputmode: 'numeric', maxlength: 10, class: 'mono' } },
      description: { label: t('co.description'), attrs: { maxlength: 500 } },
      quantity: { label: t('co.quantity'), attrs: { inputmode: 'decimal', class: 'num' } },
      unit: { label: t('df.unit'), attrs: { maxlength: 10, class: 'short upper' } },
      net_mass_kg: { label: t('df.net_mass'), attrs: { inputmode: 'decimal', class: 'num' } },
      value: { label: t('co.value'), attrs: { inputmode: 'decimal', class: 'num' } },
      origin_country: { label: t('co.origin'), attrs: { maxlength: 2, class: 'short upper' } },
    };
    const row = h('fieldset', { class: 'item' }, h('legend', {}, t('df.item')));
    const grid = h('div', { class: 'item-grid' });
    for (const k of ITEM_KEYS) {
      const wrap = field({ name: `item-${k}`, required: true, value: item[k] ?? '', ...specs[k] });
      wrap.dataset.key = k;
      wrap.classList.add(`k-${k}`);
      grid.append(wrap);
      wireChecks(wrap, k);
    }
    const remove = h('button', {
      type: 'button',
      class: 'secondary small remove',
      onclick: () => {
        const i = itemRows.indexOf(row);
        itemRows.splice(i, 1);
        row.remove();
        renumber();
        (itemRows[Math.max(0, i - 1)] || form).querySelector('input')?.focus();
        announce(t('df.item_removed', { n: i + 1 }));
      },
    }, t('co.remove'));
    row.append(grid, h('div', { class: 'item-actions' }, remove));
    itemRows.push(row);
    itemsBox.append(row);
    renumber();
    return row;
  }

  const totals = h('p', { class: 'totals', 'aria-live': 'polite' });
  function updateTotals() {
    let sum = 0n;
    let net = 0n;
    let ok = true;
    for (const row of itemRows) {
      const f = itemFields(row);
      const val = milli(f.value.querySelector('input').value);
      const nm = milli(f.net_mass_kg.querySelector('input').value);
      if (val === null || nm === null) ok = false;
      else {
        sum += val;
        net += nm;
      }
    }
    replace(totals, ok ? t('df.totals', { n: itemRows.length, sum: fromMilli(sum), net: fromMilli(net) }) : t('df.totals_n', { n: itemRows.length }));
    return ok ? { sum, net } : null;
  }

  function wireChecks(wrap, key) {
    liveCheck(wrap, (value) => (CHECKS[key] ? CHECKS[key](value) : ''), key === 'value' || key === 'net_mass_kg' ? updateTotals : null);
  }
  for (const [k, wrap] of Object.entries(fields)) wireChecks(wrap, k);

  for (const item of v.items || []) addItem(item);
  if (!itemRows.length) addItem({ ...EMPTY_ITEM });

  const summary = h('div', { class: 'summary-slot', tabindex: '-1' });
  const result = h('div', { class: 'form-result' });

  function collect() {
    const val = (k) => fields[k].querySelector('input, select, textarea').value;
    const upper = (s) => s.trim().toUpperCase();
    return {
      kind: val('kind'),
      site_id: val('site_id'),
      transport_mode: val('transport_mode'),
      consignor: val('consignor').trim(),
      consignee: val('consignee').trim(),
      origin_country: upper(val('origin_country')),
      destination_country: upper(val('destination_country')),
      currency: upper(val('currency')),
      incoterm: val('incoterm'),
      invoice_total: val('invoice_total').trim(),
      gross_mass_kg: val('gross_mass_kg').trim(),
      items: itemRows.map((row) => {
        const f = itemFields(row);
        const get = (k) => f[k].querySelector('input').value.trim();
        return {
          hs_code: get('hs_code'),
          description: get('description'),
          quantity: get('quantity'),
          unit: get('unit').toUpperCase(),
          net_mass_kg: get('net_mass_kg'),
          value: get('value'),
          origin_country: get('origin_country').toUpperCase(),
        };
      }),
    };
  }

  /** Every field wrapper by its API path (`consignor`, `items[0].hs_code`). */
  function wrappers() {
    const map = { ...fields };
    itemRows.forEach((row, i) => {
      for (const [k, wrap] of Object.entries(itemFields(row))) map[`items[${i}].${k}`] = wrap;
    });
    return map;
  }

  function clientCheck() {
    const problems = [];
    for (const [name, wrap] of Object.entries(wrappers())) {
      const key = name.includes('.') ? name.split('.').pop() : name;
      const input = wrap.querySelector('input, select, textarea');
      const msg = CHECKS[key] ? CHECKS[key](input.value) : '';
      setMessage(wrap, 'client', msg);
      if (msg) problems.push({ field: name, message: msg });
    }
    const sums = updateTotals();
    const total = milli(fields.invoice_total.querySelector('input').value);
    const gross = milli(fields.gross_mass_kg.querySelector('input').value);
    if (sums && total !== null && sums.sum !== total) {
      const msg = t('df.sum_mismatch', { sum: fromMilli(sums.sum), total: fromMilli(total) });
      setMessage(fields.invoice_total, 'client', msg);
      problems.push({ field: 'invoice_total', message: msg });
    }
    if (sums && gross !== null && sums.net > gross) {
      const msg = t('df.net_over_gross', { net: fromMilli(sums.net) });
      setMessage(fields.gross_mass_kg, 'client', msg);
      problems.push({ field: 'gross_mass_kg', message: msg });
    }
    return problems;
  }

  function showSummary(problems, source) {
    if (!problems.length) {
      replace(summary);
      return;
    }
    const map = wrappers();
    replace(
      summary,
      h(
        'div',
        { class: 'alert error', role: 'alert' },
        h('p', { class: 'alert-title' }, source === 'server'
          ? t('df.server_refused', { n: problems.length })
          : t('df.please_correct', { n: problems.length })),
        h(
          'ul',
          {},
          problems.map((p) => {
            const wrap = map[p.field];
            const label = wrap ? labelOf(wrap, p.field) : p.field || t('route.declaration');
            return h(
              'li',
              {},
              wrap
                ? h('button', { type: 'button', class: 'link', onclick: () => wrap.querySelector('input, select, textarea').focus() }, label)
                : h('strong', {}, label),
              `: ${p.message}`,
            );
          }),
        ),
      ),
    );
    summary.focus();
  }

  function labelOf(wrap, name) {
    const text = wrap.querySelector('label').firstChild.textContent;
    const m = /^items\[(\d+)\]/.exec(name);
    return m ? `${t('df.item_n', { n: Number(m[1]) + 1 })} ${text.toLowerCase()}` : text;
  }

  function clearServer() {
    for (const wrap of Object.values(wrappers())) setMessage(wrap, 'server', '');
  }

  async function save(andSubmit, button) {
    replace(result);
    clearServer();
    const problems = clientCheck();
    if (problems.length) {
      showSummary(problems, 'client');
      return;
    }
    showSummary([]);
    const body = collect();
    try {
      const saved = await busy(button, async () => {
        let res;
        if (decl) {
          res = await api.patch(`/declarations/${decl.id}`, body, { 'If-Match': etag });
        } else {
          res = await api.call('POST', '/declarations', { body });
        }
        decl = res.body;
        etag = res.headers.get('ETag') || `"${decl.version}"`;
        if (andSubmit) return api.post(`/declarations/${decl.id}/submit`);
        return decl;
      });
      announce(andSubmit ? t('co.submitted_as', { number: saved.number }) : t('df.draft_saved'), 'success');
      ctx.navigate(`#/declarations/${saved.id}`);
    } catch (err) {
      const map = wrappers();
      const fieldProblems = [];
      for (const fe of err.fieldErrors) {
        const wrap = map[fe.field];
        if (wrap) setMessage(wrap, 'server', fe.message);
        fieldProblems.push(fe);
      }
      if (fieldProblems.length) showSummary(fieldProblems, 'server');
      if (err.status === 412) {
        replace(result, errorBox(err, t('df.changed')), h('button', { type: 'button', class: 'secondary', onclick: () => ctx.refresh() }, t('df.reload')));
      } else if (!fieldProblems.length) {
        replace(result, errorBox(err, decl && andSubmit ? t('df.saved_not_submitted') : t('co.not_saved')));
      }
    }
  }

  const verified = ctx.enterprise && ctx.enterprise.status === 'verified';
  const saveBtn = h('button', { type: 'submit', class: verified ? 'secondary' : 'primary', value: 'save' }, t('df.save_draft'));
  const submitBtn = verified && (!decl || can(decl, 'submit')) ? h('button', { type: 'submit', class: 'primary', value: 'submit' }, t('df.save_submit')) : null;
  const form = h(
    'form',
    { class: 'declaration-form', novalidate: true },
    summary,
    h('fieldset', { class: 'grid' }, h('legend', {}, t('route.declaration')), Object.values(fields).slice(0, 3)),
    h('fieldset', { class: 'grid' }, h('legend', {}, t('df.parties')), fields.consignor, fields.consignee, fields.origin_country, fields.destination_country),
    h('fieldset', { class: 'grid' }, h('legend', {}, t('df.value_mass')), fields.currency, fields.incoterm, fields.invoice_total, fields.gross_mass_kg),
    h(
      'section',
      { class: 'items-section', 'aria-labelledby': 'items-h' },
      h('h2', { id: 'items-h' }, t('df.goods_items')),
      itemsBox,
      h('div', { class: 'actions left' }, h('button', { type: 'button', class: 'secondary', onclick: () => { const r = addItem({ ...EMPTY_ITEM, origin_country: collect().origin_country }); r.querySelector('input').focus(); } }, t('df.add_item'))),
      totals,
    ),
    result,
    h('div', { class: 'actions sticky' }, h('a', { href: decl ? `#/declarations/${decl.id}` : '#/declarations', class: 'button-link secondary' }, t('df.back_unsaved')), saveBtn, submitBtn),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const which = e.submitter || saveBtn;
    save(which.value === 'submit', which);
  });
  return h(
    'div',
    {},
    pageTitle(decl ? t('df.edit_title', { name: declarationName(decl) }) : t('route.declaration_new')),
    decl && decl.status === 'amendment_requested'
      ? h('div', { class: 'alert warning', role: 'status' }, h('p', {}, t('co.amend_asked', { reason: decl.status_reason || '' })))
      : null,
    h('p', { class: 'lead' }, t('df.lead')),
    form,
  );
}
