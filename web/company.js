// Company pages: the enterprise's declarations, one declaration, its bookings.

import * as api from './api.js';
import { t } from './i18n.js';
import { h, replace, announce, errorBox, pageTitle, badge, laneBadge, table, dialog, busy, field, setMessage, liveCheck, loading, problemSlug, inlineSvg, statusLabel, roleName } from './ui.js';
import { slotSpan, inZone, spanInZone, localParts, mediumDay, alsoIn, zoneName, zoneLabel } from './time.js';

/**
 * Whether the caller may take `action` on declaration `d` now. The server says so in
 * `allowed_actions`, for the caller's side; the console keeps no copy of the state machine.
 */
export function can(d, action) {
  return d.allowed_actions.includes(action);
}

/** The declarations a booking carries (one truck may carry several), in booking order. */
export function declIds(b) {
  return Array.isArray(b.declaration_ids) && b.declaration_ids.length ? b.declaration_ids : [b.declaration_id].filter(Boolean);
}

/** The active booking (the one holding a place) of each declaration, by declaration id. */
export function activeBookings(bookings) {
  const out = {};
  for (const b of bookings.filter((x) => x.active)) {
    for (const id of declIds(b)) out[id] = b;
  }
  return out;
}

/** Whether the caller may take `action` on booking `b` (the server's `allowed_actions`). */
export function canBooking(b, action) {
  if (Array.isArray(b.allowed_actions)) return b.allowed_actions.includes(action);
  return b.status === 'confirmed' && ['cancel', 'reschedule'].includes(action);
}

/** `KZ 123ABC02` (country first, as on the plate's oval), with the trailer when there is one. */
export function plateText(vehicle, withTrailer = true) {
  if (!vehicle) return '';
  const main = `${vehicle.country || ''} ${vehicle.plate}`.trim();
  return withTrailer && vehicle.trailer_plate ? `${main} + trailer ${vehicle.trailer_plate}` : main;
}

export function byId(list) {
  return Object.fromEntries(list.map((x) => [x.id, x]));
}

export function siteLabel(site) {
  return site ? `${site.code} · ${site.name}` : t('co.unknown_site');
}

/** A slot's local time as a table cell: date and times, the zone below. */
export function slotTime(slot, site) {
  if (!site) return h('span', { class: 'slot-time' }, slot.starts_at_local);
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  return h(
    'span',
    { class: 'slot-time' },
    `${mediumDay(a.date)}, ${a.time}–${b.time}`, // i18n-ok: a date and times
    alsoIn(slot) ? h('span', { class: 'zone also' }, alsoIn(slot).replace(/^ · /, '')) : null,
    h('span', { class: 'zone' }, zoneLabel(a.offset, site.timezone)),
  );
}

export function declarationName(d) {
  return d.number || t('co.draft_name', { id: d.id.slice(-6) });
}

export function money(amount, currency) {
  return `${amount} ${currency}`;
}

/** A declaration's kind in the console's language. */
function kindLabel(kind) {
  const key = `co.kind.${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}

/** A declaration that was submitted before (it has its number) goes back as a resubmission. */
function resubmission(d) {
  return Boolean(d.number);
}

/** Submits a declaration (draft or amended); announces its number. */
async function submit(d, button, after) {
  try {
    const done = await busy(button, () => api.post(`/declarations/${d.id}/submit`));
    announce(t('co.submitted_as', { number: done.number }), 'success');
    after();
  } catch (err) {
    announce(t('co.submit_failed_because', { why: err.message }), 'error');
    const box = button.closest('[data-row]') || button.parentElement;
    box.append(errorBox(err, t('co.submit_failed')));
  }
}

async function cancelDeclaration(d, button, after) {
  const reason = field({ label: t('co.reason_optional'), name: 'reason', type: 'textarea', attrs: { maxlength: 1000, rows: 3 } });
  const answer = await dialog({
    title: t('co.cancel_decl_q', { name: declarationName(d) }),
    body: [h('p', {}, t('co.cancel_decl_body')), reason],
    confirm: t('co.cancel_decl'),
    cancel: t('co.keep_it'),
    danger: true,
  });
  if (!answer) return;
  try {
    await busy(button, () => api.post(`/declarations/${d.id}/cancel`, { reason: answer.get('reason') || undefined }));
    announce(t('co.decl_cancelled', { name: declarationName(d) }), 'success');
    after();
  } catch (err) {
    announce(t('co.cancel_failed_because', { why: err.message }), 'error');
  }
}

/** The enterprise's declarations and their status. */
export async function declarationsPage(ctx) {
  const [decls, sites, bookings] = await Promise.all([
    api.all('/declarations'),
    ctx.sites(),
    api.all('/bookings'),
  ]);
  const sitesById = byId(sites);
  const activeBooking = activeBookings(bookings);
  const filter = ctx.query.status || '';
  const shown = decls.filter((d) => !filter || d.status === filter).reverse();
  const counts = {};
  for (const d of decls) counts[d.status] = (counts[d.status] || 0) + 1;
  const statuses = ['draft', 'submitted', 'under_review', 'amendment_requested', 'approved', 'released', 'rejected', 'cancelled'];
  const canWrite = ctx.enterprise && ctx.enterprise.status !== 'suspended';
  const verified = ctx.enterprise && ctx.enterprise.status === 'verified';

  const rows = shown.map((d) => {
    const site = sitesById[d.site_id];
    const booking = activeBooking[d.id];
    const actions = h('div', { class: 'row-actions' });
    actions.append(h('a', { href: `#/declarations/${d.id}`, class: 'button-link secondary small' }, t('co.view'), h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`)));
    if (canWrite && can(d, 'edit')) {
      actions.append(h('a', { href: `#/declarations/${d.id}/edit`, class: 'button-link secondary small' }, t('co.edit'), h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`)));
    }
    if (canWrite && verified && can(d, 'submit')) {
      const b = h('button', { type: 'button', class: 'primary small', onclick: () => submit(d, b, ctx.refresh) }, resubmission(d) ? t('co.resubmit') : t('co.submit'), h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`));
      actions.append(b);
    }
    if (verified && d.bookable && !booking) {
      actions.append(h('a', { href: `#/book?declaration=${d.id}`, class: 'button-link primary small' }, t('nav.book'), h('span', { class: 'visually-hidden' }, ` ${t('co.for_name', { name: declarationName(d) })}`)));
    }
    return {
      attrs: { dataset: { row: d.id, status: d.status } },
      cells: [
        h('span', { class: 'mono' }, declarationName(d)),
        kindLabel(d.kind),
        site ? h('span', { title: site.name }, site.code, ' ', h('span', { class: 'muted' }, `(${t(`mode.${d.transport_mode}`)})`)) : '—',
        d.consignee,
        h('span', { class: 'num' }, money(d.invoice_total, d.currency)),
        h('div', {}, badge(d.status), d.status_reason ? h('p', { class: 'reason' }, d.status_reason) : null),
        booking && site ? slotTime(booking, site) : h('span', { class: 'muted' }, '—'),
        actions,
      ],
    };
  });

  const filterBar = h(
    'nav',
    { class: 'filters', 'aria-label': t('co.filter_status') },
    h('a', { href: '#/declarations', 'aria-current': filter ? null : 'page' }, t('co.all_n', { n: decls.length })),
    statuses.filter((s) => counts[s]).map((s) =>
      h('a', { href: `#/declarations?status=${s}`, 'aria-current': filter === s ? 'page' : null }, badge(s), ` ${counts[s]}`),
    ),
  );

  return h(
    'div',
    {},
    pageTitle(t('route.declarations'), canWrite ? h('a', { href: '#/declarations/new', class: 'button-link primary' }, t('route.declaration_new')) : null),
    filterBar,
    table({
      caption: filter ? t('co.decls_with_status', { status: statusLabel(filter) }) : t('co.decls_all'),
      columns: [t('co.number'), t('co.kind'), t('book.site'), t('co.consignee'), t('co.invoice_total'), t('co.status'), t('co.booked_slot'), t('co.actions')],
      rows,
      empty: t('co.no_decls'),
      className: 'declarations',
    }),
  );
}

/** Header fields of a declaration as a description list. */
export function declarationFacts(d, site) {
  const tz = site ? site.timezone : 'UTC';
  const pairs = [
    [t('co.number'), d.number || t('co.number_later')],
    [t('co.status'), badge(d.status)],
    [t('co.risk_lane'), laneBadge(d.risk_lane)],
    [t('co.kind'), kindLabel(d.kind)],
    [t('book.site'), site ? `${siteLabel(site)} (${zoneName(site.timezone)})` : d.site_id],
    [t('book.transport_mode'), t(`mode.${d.transport_mode}`)],
    [t('co.consignor'), d.consignor],
    [t('co.consignee'), d.consignee],
    [t('co.route'), `${d.origin_country} → ${d.destination_country}`],
    [t('co.incoterm'), d.incoterm],
    [t('co.invoice_total'), money(d.invoice_total, d.currency)],
    [t('co.gross_mass'), `${d.gross_mass_kg} kg`],
    [t('co.submitted'), d.submitted_at ? inZone(d.submitted_at, tz) : '—'],
    [t('co.last_change'), inZone(d.updated_at, tz)],
    [t('co.version'), String(d.version)],
  ];
  if (d.status_reason) pairs.splice(3, 0, [t('co.reason_given'), d.status_reason]);
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function itemsTable(d) {
  return table({
    caption: t('co.items_n', { n: (d.items || []).length }),
    columns: [t('co.line'), t('co.hs_code'), t('co.description'), t('co.quantity'), t('co.net_mass'), t('co.value'), t('co.origin')],
    rows: (d.items || []).map((i) => [
      String(i.line_no),
      h('span', { class: 'mono' }, i.hs_code),
      i.description,
      `${i.quantity} ${i.unit}`,
      `${i.net_mass_kg} kg`,
      h('span', { class: 'num' }, money(i.value, d.currency)),
      i.origin_country,
    ]),
  });
}

export async function historyList(d, site) {
  try {
    const events = (await api.get(`/declarations/${d.id}/history`)).items;
    return h(
      'section',
      { class: 'history', 'aria-labelledby': 'history-h' },
      h('h2', { id: 'history-h' }, t('co.history')),
      h(
        'ol',
        {},
        events.map((e) =>
          h(
            'li',
            {},
            h('span', { class: 'when' }, inZone(e.occurred_at, site ? site.timezone : 'UTC')),
            ' ',
            h('strong', {}, e.action),
            e.from_state || e.to_state ? ` ${e.from_state || '—'} → ${e.to_state || '—'}` : '',
            e.actor_role ? h('span', { class: 'muted' }, ` ${t('co.by', { who: roleName(e.actor_role) })}`) : '',
            e.reason ? h('span', { class: 'reason' }, ` — ${e.reason}`) : '',
          ),
        ),
      ),
    );
  } catch (err) {
    return errorBox(err, t('co.history_failed'));
  }
}

/** One declaration of the enterprise, with its actions. */
export async function declarationPage(ctx) {
  const [id] = ctx.params;
  const [d, sites, bookings] = await Promise.all([
    api.get(`/declarations/${id}`),
    ctx.sites(),
    api.all('/bookings', { declaration_id: id }),
  ]);
  const site = byId(sites)[d.site_id];
  const verified = ctx.enterprise && ctx.enterprise.status === 'verified';
  const canWrite = ctx.enterprise && ctx.enterprise.status !== 'suspended';
  const active = bookings.find((b) => b.active);
  const actions = h('div', { class: 'actions' });
  if (canWrite && can(d, 'edit')) {
    actions.append(h('a', { href: `#/declarations/${d.id}/edit`, class: 'button-link secondary' }, t('co.edit')));
  }
  if (canWrite && verified && can(d, 'submit')) {
    const b = h('button', { type: 'button', class: 'primary', onclick: () => submit(d, b, ctx.refresh) }, resubmission(d) ? t('co.resubmit_customs') : t('co.submit_customs'));
    actions.append(b);
  }
  if (verified && d.bookable && !active) {
    actions.append(h('a', { href: `#/book?declaration=${d.id}`, class: 'button-link primary' }, t('route.book')));
  }
  if (canWrite && can(d, 'cancel')) {
    const c = h('button', { type: 'button', class: 'danger', onclick: () => cancelDeclaration(d, c, ctx.refresh) }, t('co.cancel_decl'));
    actions.append(c);
  }
  const bookingInfo = bookings.length
    ? h(
        'section',
        { 'aria-labelledby': 'bookings-h' },
        h('h2', { id: 'bookings-h' }, t('route.bookings')),
        h(
          'ul',
          { class: 'plain' },
          bookings.map((b) =>
            h(
              'li',
              {},
              badge(b.status),
              ' ',
              h('a', { href: `#/bookings/${b.id}` }, site ? slotSpan({ ...b, timezone: site.timezone }) : b.starts_at_local),
              b.vehicle ? h('span', { class: 'muted' }, ` · ${plateText(b.vehicle, false)}`) : '',
              declIds(b).length > 1 ? h('span', { class: 'muted' }, ` · ${t('co.with_others', { n: declIds(b).length - 1 })}`) : '',
              b.cancel_reason ? h('span', { class: 'reason' }, ` — ${b.cancel_reason}`) : '',
            ),
          ),
        ),
      )
    : null;
  return h(
    'div',
    {},
    pageTitle(t('co.declaration_title', { name: declarationName(d) })),
    h('p', {}, h('a', { href: '#/declarations' }, t('co.all_decls'))),
    d.status === 'amendment_requested'
      ? h('div', { class: 'alert warning', role: 'status' }, h('p', {}, t('co.amend_asked', { reason: d.status_reason || '' })))
      : null,
    actions,
    declarationFacts(d, site),
    itemsTable(d),
    bookingInfo,
    await historyList(d, site),
  );
}

async function cancelBooking(b, button, after) {
  const reason = field({ label: t('co.reason_optional'), name: 'reason', type: 'textarea', attrs: { maxlength: 1000, rows: 3 } });
  const answer = await dialog({
    title: t('co.cancel_booking_q'),
    body: [h('p', {}, t('co.cancel_booking_body')), reason],
    confirm: t('co.cancel_booking'),
    cancel: t('co.keep_booking'),
    danger: true,
  });
  if (!answer) return;
  try {
    await busy(button, () => api.post(`/bookings/${b.id}/cancel`, { reason: answer.get('reason') || undefined }));
    announce(t('co.booking_cancelled'), 'success');
    after();
  } catch (err) {
    announce(t('co.cancel_booking_failed_because', { why: err.message }), 'error');
    (button.closest('td') || button.parentElement).append(errorBox(err, t('co.cancel_failed')));
  }
}

/** The enterprise's bookings: the truck, its declarations, the gate pass; cancel and reschedule. */
export async function bookingsPage(ctx) {
  const [bookings, sites, decls] = await Promise.all([api.all('/bookings'), ctx.sites(), api.all('/declarations')]);
  const sitesById = byId(sites);
  const declsById = byId(decls);
  const canWrite = ctx.enterprise && ctx.enterprise.status !== 'suspended';
  const show = ctx.query.show || 'active';
  const list = bookings
    .filter((b) => show === 'all' || b.active)
    .sort((a, b) => (a.starts_at < b.starts_at ? -1 : 1));
  const rows = list.map((b) => {
    const site = sitesById[b.site_id];
    const names = declIds(b).map((id) => declsById[id]);
    const actions = h('div', { class: 'row-actions' });
    const plate = b.vehicle ? plateText(b.vehicle, false) : '';
    actions.append(
      h('a', { href: `#/bookings/${b.id}`, class: 'button-link secondary small' }, b.status === 'confirmed' || b.status === 'checked_in' ? t('co.gate_pass') : t('co.details'), h('span', { class: 'visually-hidden' }, ` ${t('co.of_booking', { plate, where: site ? `${site.code}, ${slotSpan({ ...b, timezone: site.timezone })}` : '' })}`)),
    );
    if (canWrite && canBooking(b, 'reschedule')) {
      actions.append(h('a', { href: `#/book?reschedule=${b.id}`, class: 'button-link secondary small' }, t('co.reschedule')));
    }
    if (canWrite && canBooking(b, 'cancel')) {
      const c = h('button', { type: 'button', class: 'danger small', onclick: () => cancelBooking(b, c, ctx.refresh) }, t('ui.cancel'));
      actions.append(c);
    }
    return {
      attrs: { dataset: { row: b.id, status: b.status } },
      cells: [
        slotTime(b, site),
        b.vehicle
          ? h('div', {}, h('span', { class: 'plate' }, plate), b.vehicle.trailer_plate ? h('p', { class: 'muted small' }, t('co.trailer_n', { plate: b.vehicle.trailer_plate })) : null)
          : h('span', { class: 'muted' }, t('co.no_vehicle')),
        h(
          'ul',
          { class: 'plain tight' },
          declIds(b).map((id, i) => h('li', {}, names[i] ? h('a', { href: `#/declarations/${id}`, class: 'mono' }, declarationName(names[i])) : h('span', { class: 'mono' }, id))),
        ),
        site ? `${site.code} (${b.mode})` : b.site_id,
        h('div', {}, badge(b.status), b.cancel_reason ? h('p', { class: 'reason' }, b.cancel_reason) : null),
        actions,
      ],
    };
  });
  return h(
    'div',
    {},
    pageTitle(t('route.bookings'), h('a', { href: '#/book', class: 'button-link primary' }, t('nav.book'))),
    h(
      'nav',
      { class: 'filters', 'aria-label': t('co.which_bookings') },
      h('a', { href: '#/bookings', 'aria-current': show === 'active' ? 'page' : null }, t('co.active')),
      h('a', { href: '#/bookings?show=all', 'aria-current': show === 'all' ? 'page' : null }, t('co.all_incl')),
    ),
    table({
      caption: show === 'all' ? t('co.bookings_all') : t('co.bookings_active'),
      columns: [t('co.slot_site_time'), t('book.vehicle'), t('route.declarations'), t('book.site'), t('co.status'), t('co.actions')],
      rows,
      empty: t('co.no_bookings'),
    }),
  );
}

// ---- the truck of a booking: vehicle, driver, containers ---------------------

/** ISO 6346 letter values: A = 10, skipping multiples of 11. */
const ISO6346 = (() => {
  const out = {};
  let v = 10;
  for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') {
    if (v % 11 === 0) v += 1;
    out[c] = v;
    v += 1;
  }
  return out;
})();

/** The ISO 6346 check digit of a container number's first ten characters. */
export function containerCheckDigit(code) {
  let sum = 0;
  for (let i = 0; i < 10; i += 1) {
    const c = code[i];
    sum += (/\d/.test(c) ? Number(c) : ISO6346[c]) * 2 ** i;
  }
  return (sum % 11) % 10;
}

/** A container number as the server stores it: upper case, no spaces or dashes. */
export function normaliseContainer(v) {
  return String(v || '').toUpperCase().replace(/[\s-]/g, '');
}

/** The console's check of a container number (the server checks it again). */
export function containerProblem(v) {
  const c = normaliseContainer(v);
  if (!c) return '';
  if (!/^[A-Z]{3}[UJZ]\d{7}$/.test(c)) {
    return t('co.container_shape');
  }
  const digit = containerCheckDigit(c);
  if (digit !== Number(c[10])) return t('co.check_digit', { digit, got: c[10] });
  return '';
}

/** A plate as the server stores it: upper case, without spaces, dashes or middle dots. */
export function normalisePlate(v) {
  return String(v || '').toUpperCase().replace(/[\s\-·]/g, '');
}

function plateProblem(v) {
  const p = normalisePlate(v);
  if (!/^[\p{L}\p{N}]+$/u.test(p)) return t('co.plate_chars');
  if (p.length < 2 || p.length > 15) return t('co.plate_length', { n: p.length });
  return '';
}

const MAX_CONTAINERS = 10;

/**
 * The vehicle, driver and containers of a booking as form fields, each with
 * the console's check and a place for the server's message beside it. Field
 * names are the API's (`vehicle.plate`, `driver.name`, `containers[1]`).
 * `read()` checks everything and answers the request members (or null when
 * something is wrong); `showServerErrors(errors)` places the server's field
 * errors and answers those that have no field here.
 */
export function truckFields(initial = {}) {
  const v = initial.vehicle || {};
  const d = initial.driver || {};
  const text = { autocomplete: 'off', spellcheck: 'false' };
  const f = {
    'vehicle.plate': field({ label: t('co.plate'), name: 'vehicle.plate', value: v.plate || '', hint: t('co.plate_hint'), attrs: { ...text, maxlength: 24, class: 'upper' } }),
    'vehicle.country': field({ label: t('co.plate_country'), name: 'vehicle.country', value: v.country || '', hint: t('co.plate_country_hint'), attrs: { ...text, maxlength: 2, class: 'short upper' } }),
    'vehicle.trailer_plate': field({ label: t('co.trailer'), name: 'vehicle.trailer_plate', value: v.trailer_plate || '', attrs: { ...text, maxlength: 24, class: 'upper' } }),
    'driver.name': field({ label: t('co.driver_name'), name: 'driver.name', value: d.name || '', attrs: { maxlength: 200, autocomplete: 'off' } }),
    'driver.document_number': field({ label: t('co.driver_doc'), name: 'driver.document_number', value: d.document_number || '', hint: t('co.driver_doc_hint'), attrs: { ...text, maxlength: 50 } }),
  };
  const value = (name) => f[name].querySelector('input').value;
  const checks = {
    'vehicle.plate': (val) => {
      if (!val.trim()) return value('vehicle.country').trim() || value('vehicle.trailer_plate').trim() ? t('co.enter_plate') : '';
      return plateProblem(val);
    },
    'vehicle.country': (val) => {
      if (!val.trim()) return value('vehicle.plate').trim() ? t('co.enter_country') : '';
      return /^[A-Za-z]{2}$/.test(val.trim()) ? '' : t('co.two_letters');
    },
    'vehicle.trailer_plate': (val) => (val.trim() ? plateProblem(val) : ''),
    'driver.name': (val) => (!val.trim() && value('driver.document_number').trim() ? t('co.enter_driver') : ''),
    'driver.document_number': (val) => (!val.trim() && value('driver.name').trim() ? t('co.enter_doc') : ''),
  };
  for (const [name, wrap] of Object.entries(f)) liveCheck(wrap, checks[name]);

  // Containers: one field per container; pasting several (one per line) adds rows.
  const list = h('ol', { class: 'container-list' });
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const rows = [];
  let sentRows = [];
  const addBtn = h('button', { type: 'button', class: 'secondary small', onclick: () => addRow('', true) }, t('co.add_container'));

  function relabel() {
    rows.forEach((r, i) => {
      r.wrap.querySelector('label').firstChild.textContent = t('co.container_n', { n: i + 1 });
      r.wrap.dataset.for = `containers[${i}]`;
      r.input.name = `containers[${i}]`;
      r.input.dataset.field = `containers[${i}]`;
      r.remove.querySelector('.visually-hidden').textContent = ` ${t('co.container_n', { n: i + 1 })}`;
    });
    addBtn.disabled = rows.length >= MAX_CONTAINERS;
    replace(count, rows.length >= MAX_CONTAINERS ? t('co.containers_max', { n: MAX_CONTAINERS }) : '');
  }

  function addRow(initialValue, focus) {
    if (rows.length >= MAX_CONTAINERS) {
      announce(t('co.containers_at_most', { n: MAX_CONTAINERS }), 'warning');
      return null;
    }
    const wrap = field({ label: t('co.container_n', { n: rows.length + 1 }), name: `containers[${rows.length}]`, value: initialValue, attrs: { ...text, maxlength: 16, class: 'upper container-no', placeholder: t('co.container_placeholder') } });
    liveCheck(wrap, containerProblem);
    const row = { wrap, input: wrap.querySelector('input') };
    row.remove = h('button', {
      type: 'button',
      class: 'secondary small',
      onclick: () => {
        const i = rows.indexOf(row);
        rows.splice(i, 1);
        row.li.remove();
        relabel();
        (rows[i] || rows[i - 1] || { input: addBtn }).input.focus();
      },
    }, t('co.remove'), h('span', { class: 'visually-hidden' }, ''));
    row.li = h('li', { class: 'container-row' }, wrap, row.remove);
    row.input.addEventListener('paste', (e) => {
      const parts = (e.clipboardData ? e.clipboardData.getData('text') : '').split(/[\r\n,;]+/).map((x) => x.trim()).filter(Boolean);
      if (parts.length < 2) return;
      e.preventDefault();
      row.input.value = parts[0];
      setMessage(row.wrap, 'client', containerProblem(parts[0]));
      for (const p of parts.slice(1)) {
        const added = addRow(p, false);
        if (!added) break;
        setMessage(added.wrap, 'client', containerProblem(p));
      }
    });
    rows.push(row);
    list.append(row.li);
    relabel();
    if (focus) row.input.focus();
    return row;
  }
  for (const c of initial.containers || []) addRow(c, false);
  if (!rows.length) addRow('', false);

  const el = h(
    'div',
    { class: 'truck-fields' },
    h('fieldset', {}, h('legend', {}, t('book.vehicle')), h('div', { class: 'grid' }, f['vehicle.plate'], f['vehicle.country'], f['vehicle.trailer_plate'])),
    h('fieldset', {}, h('legend', {}, t('co.driver')), h('div', { class: 'grid' }, f['driver.name'], f['driver.document_number'])),
    h(
      'fieldset',
      { class: 'containers', dataset: { for: 'containers' } },
      h('legend', {}, t('co.containers')),
      h('p', { class: 'hint' }, t('co.containers_hint', { n: MAX_CONTAINERS })),
      // The list's own messages come first, so that they are the fieldset's (not a row's).
      h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
      list,
      h('p', { class: 'container-actions' }, addBtn, ' ', count),
    ),
  );

  function clearServer() {
    for (const wrap of el.querySelectorAll('.field, fieldset.containers')) setMessage(wrap, 'server', '');
  }

  function read() {
    clearServer();
    let bad = false;
    for (const [name, wrap] of Object.entries(f)) {
      const msg = checks[name](value(name));
      setMessage(wrap, 'client', msg);
      bad = bad || Boolean(msg);
    }
    const containers = [];
    sentRows = [];
    const seen = new Map();
    rows.forEach((r, i) => {
      const c = normaliseContainer(r.input.value);
      let msg = containerProblem(c);
      if (!msg && c && seen.has(c)) msg = t('co.listed_twice', { n: seen.get(c) + 1 });
      setMessage(r.wrap, 'client', msg);
      bad = bad || Boolean(msg);
      if (c) {
        seen.set(c, i);
        sentRows.push(i);
        containers.push(c);
      }
    });
    if (bad) return null;
    const plate = normalisePlate(value('vehicle.plate'));
    const trailer = normalisePlate(value('vehicle.trailer_plate'));
    const name = value('driver.name').trim();
    return {
      vehicle: plate ? { plate, country: value('vehicle.country').trim().toUpperCase(), trailer_plate: trailer || null } : null,
      driver: name ? { name, document_number: value('driver.document_number').trim() } : null,
      containers,
    };
  }

  /** Where a server field name goes: `containers[i]` is the i-th container sent. */
  function wrapFor(name) {
    const m = /^containers\[(\d+)\]/.exec(name);
    if (m) return rows[sentRows[Number(m[1])]]?.wrap || null;
    if (f[name]) return f[name];
    if (name === 'vehicle') return f['vehicle.plate'];
    if (name === 'driver') return f['driver.name'];
    if (name === 'containers') return el.querySelector('fieldset.containers');
    return null;
  }

  function showServerErrors(fieldErrors) {
    const rest = [];
    for (const fe of fieldErrors || []) {
      const wrap = wrapFor(fe.field);
      if (wrap) setMessage(wrap, 'server', fe.message);
      else rest.push(fe);
    }
    return rest;
  }

  return { el, read, showServerErrors, clearServer, wrapFor, focusInvalid: () => el.querySelector('[aria-invalid=true]')?.focus() };
}

/** One sentence for a refused booking or vehicle change, in plain words. */
export function bookingProblemText(err, declsById = {}) {
  const p = err.problem || {};
  const slug = problemSlug(err);
  const name = (id) => (declsById[id] ? declarationName(declsById[id]) : id);
  switch (slug) {
    case 'vehicle-already-booked':
      return t('co.err.vehicle_booked');
    case 'already-booked':
      return p.declaration_id
        ? t('co.err.already_booked', { name: name(p.declaration_id) })
        : `${t('co.err.one_booked')} ${p.detail || ''}`.trim();
    case 'wrong-site-or-mode':
      return `${t('co.err.wrong_site')} ${p.detail || ''}`.trim();
    case 'slot-full':
      return t('co.err.slot_full');
    case 'share-exceeded':
      return t('co.err.share');
    case 'booking-state':
      return t('co.err.booking_state');
    case 'stale-version':
      return t('co.err.stale');
    default:
      return null;
  }
}

/** A gate pass's QR code: the SVG is read with the token (an <img> cannot send it) and inlined. */
function qrCode(b) {
  const box = h('div', { class: 'qr' }, loading(t('co.qr_loading')));
  api
    .getText(`/bookings/${b.id}/gate-pass.svg`, 'image/svg+xml')
    .then((svg) => replace(box, inlineSvg(svg, t('co.qr_label', { version: b.gate_pass ? b.gate_pass.version : '' }))))
    .catch((err) => replace(box, errorBox(err, t('co.qr_failed'))));
  return box;
}

/** The printable gate pass of a booking: QR, code, version, the truck and its slot in site time. */
export function gatePass(b, site, declsById) {
  const tz = site ? site.timezone : 'UTC';
  const pass = b.gate_pass || {};
  const names = declIds(b).map((id) => (declsById[id] ? declarationName(declsById[id]) : id));
  const facts = [
    [t('book.vehicle'), b.vehicle ? h('span', { class: 'plate' }, plateText(b.vehicle, false)) : h('span', { class: 'warning-text' }, t('co.no_vehicle_yet'))],
    b.vehicle && b.vehicle.trailer_plate ? [t('co.trailer_label'), h('span', { class: 'mono' }, b.vehicle.trailer_plate)] : null,
    [t('co.driver'), b.driver ? `${b.driver.name} (${t('co.document', { number: b.driver.document_number })})` : '—'],
    [t('co.slot_site_time'), site ? slotSpan({ ...b, timezone: tz }) : b.starts_at_local],
    [t('co.arrive_between'), b.arrival_window ? spanInZone(b.arrival_window.opens_at, b.arrival_window.closes_at, tz) : '—'],
    [t('book.site'), site ? `${siteLabel(site)}, ${t(`mode.${b.mode}`)}` : b.site_id],
    [names.length === 1 ? t('route.declaration') : t('co.declarations_n', { n: names.length }), h('span', { class: 'mono' }, names.join(', '))],
    [t('co.containers'), (b.containers || []).length ? h('span', { class: 'mono' }, b.containers.join(', ')) : t('co.none_listed')],
    [t('co.booking'), h('span', { class: 'mono small' }, b.id)],
  ].filter(Boolean);
  const print = h('button', { type: 'button', class: 'primary', onclick: () => window.print() }, t('co.print_pass'));
  return h(
    'section',
    { class: 'gate-pass', 'aria-labelledby': 'pass-h', dataset: { version: String(pass.version || '') } },
    h('div', { class: 'pass-head' }, h('h2', { id: 'pass-h' }, t('co.gate_pass')), h('p', { class: 'pass-version' }, t('co.version_n', { version: pass.version ?? '—' }))),
    h(
      'div',
      { class: 'pass-body' },
      qrCode(b),
      h('dl', { class: 'facts compact pass-facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    ),
    h('p', { class: 'pass-code' }, h('span', { class: 'pass-code-label' }, t('co.code'), ' '), h('code', { class: 'code-text' }, pass.code || '—')),
    h('p', { class: 'pass-note' }, t('co.pass_note')),
    h('div', { class: 'actions left no-print' }, print),
  );
}

/** A notice to show once a page has been reloaded (after a stale edit). */
const notices = new Map();

/** The edit form of a booking's vehicle, driver and containers (`PATCH` with `If-Match`). */
function editTruckForm(b, etag, ctx, declsById) {
  const tf = truckFields(b);
  const result = h('div', { class: 'form-result', 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', class: 'primary' }, t('co.save_truck'));
  const form = h(
    'form',
    { class: 'card edit-truck no-print', novalidate: true, 'aria-labelledby': 'edit-truck-h' },
    h('h2', { id: 'edit-truck-h' }, t('co.edit_vehicle')),
    h('p', { class: 'hint' }, t('co.edit_vehicle_hint')),
    tf.el,
    result,
    h('div', { class: 'actions left' }, btn),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(result);
    const body = tf.read();
    if (!body) {
      replace(result, h('div', { class: 'alert error', role: 'alert' }, h('p', {}, t('co.correct_below'))));
      tf.focusInvalid();
      return;
    }
    try {
      const res = await busy(btn, () => api.patch(`/bookings/${b.id}`, body, { 'If-Match': etag }));
      const after = res.body;
      const bumped = after.gate_pass && b.gate_pass && after.gate_pass.version !== b.gate_pass.version;
      notices.set(b.id, {
        kind: 'success',
        text: bumped
          ? t('co.saved_new_pass', { version: after.gate_pass.version, old: b.gate_pass.version })
          : 'Saved.',
      });
      announce(bumped ? t('co.saved_version', { version: after.gate_pass.version }) : 'Saved.', 'success');
      ctx.refresh();
    } catch (err) {
      if (err.status === 412) {
        notices.set(b.id, { kind: 'warning', text: t('co.changed_meanwhile') });
        announce(t('co.changed_reloaded'), 'warning');
        ctx.refresh();
        return;
      }
      const rest = tf.showServerErrors(err.fieldErrors);
      const plain = bookingProblemText(err, declsById);
      if (problemSlug(err) === 'vehicle-already-booked') setMessage(tf.wrapFor('vehicle.plate'), 'server', t('co.vehicle_overlap'));
      replace(
        result,
        plain
          ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, t('co.not_saved')), h('p', {}, plain))
          : errorBox({ ...err, fieldErrors: rest }, t('co.not_saved')),
      );
      tf.focusInvalid();
    }
  });
  return form;
}

/** One booking of the enterprise: its gate pass (printable), the truck, and what can be done. */
export async function bookingPage(ctx) {
  const [id] = ctx.params;
  const [res, sites] = await Promise.all([api.call('GET', `/bookings/${id}`), ctx.sites()]);
  const b = res.body;
  const etag = res.headers.get('ETag') || `"${b.version}"`;
  const site = byId(sites)[b.site_id];
  const decls = await Promise.all(declIds(b).map((d) => api.get(`/declarations/${d}`).catch(() => null)));
  const declsById = byId(decls.filter(Boolean));
  const canWrite = ctx.enterprise && ctx.enterprise.status !== 'suspended';
  const notice = notices.get(b.id);
  notices.delete(b.id);

  const actions = h('div', { class: 'actions left no-print' });
  if (canWrite && canBooking(b, 'reschedule')) {
    actions.append(h('a', { href: `#/book?reschedule=${b.id}`, class: 'button-link secondary' }, t('co.reschedule')));
  }
  if (canWrite && canBooking(b, 'cancel')) {
    const c = h('button', { type: 'button', class: 'danger', onclick: () => cancelBooking(b, c, () => ctx.refresh()) }, t('co.cancel_booking'));
    actions.append(c);
  }
  const live = b.status === 'confirmed' || b.status === 'checked_in';
  const declList = h(
    'section',
    { class: 'no-print', 'aria-labelledby': 'visit-decls-h' },
    h('h2', { id: 'visit-decls-h' }, t('book.decls_on_truck')),
    table({
      caption: t('co.decls_covered'),
      columns: [t('co.number'), t('co.status'), t('co.risk_lane'), t('co.consignee')],
      rows: declIds(b).map((did) => {
        const d = declsById[did];
        return d
          ? [h('a', { href: `#/declarations/${d.id}`, class: 'mono' }, declarationName(d)), badge(d.status), laneBadge(d.risk_lane), d.consignee]
          : [h('span', { class: 'mono' }, did), '—', '—', '—'];
      }),
    }),
  );
  return h(
    'div',
    { class: 'booking-page' },
    pageTitle(t('co.booking_at', { site: site ? site.code : '' }) + (b.vehicle ? `, ${plateText(b.vehicle, false)}` : '')),
    h('p', { class: 'no-print' }, h('a', { href: '#/bookings' }, t('co.all_bookings'))),
    notice ? h('div', { class: `alert ${notice.kind} no-print`, role: notice.kind === 'warning' ? 'alert' : 'status' }, h('p', {}, notice.text)) : null,
    h(
      'p',
      { class: 'booking-status no-print' },
      badge(b.status),
      ' ',
      site ? slotSpan({ ...b, timezone: site.timezone }) : b.starts_at_local,
      b.checked_in_at ? h('span', { class: 'muted' }, ` · ${t('co.checked_in_at', { when: inZone(b.checked_in_at, site ? site.timezone : 'UTC') })}`) : null,
      b.cancel_reason ? h('span', { class: 'reason' }, ` — ${b.cancel_reason}`) : null,
    ),
    actions,
    live
      ? gatePass(b, site, declsById)
      : h('div', { class: 'alert info no-print', role: 'status' }, h('p', {}, t('co.no_pass', { status: statusLabel(b.status) }))),
    canWrite && canBooking(b, 'edit') ? editTruckForm(b, etag, ctx, declsById) : null,
    declList,
  );
}
