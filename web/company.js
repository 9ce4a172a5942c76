// Company pages: the enterprise's declarations, one declaration, its bookings.

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, badge, laneBadge, table, dialog, busy, field } from './ui.js';
import { slotSpan, inZone, localParts, shortDay, zoneLabel } from './time.js';

/**
 * Whether the caller may take `action` on declaration `d` now. The server says so in
 * `allowed_actions`, for the caller's side; the console keeps no copy of the state machine.
 */
export function can(d, action) {
  return d.allowed_actions.includes(action);
}

/** The active booking (the one holding a place) of each declaration, by declaration id. */
export function activeBookings(bookings) {
  return Object.fromEntries(bookings.filter((b) => b.active).map((b) => [b.declaration_id, b]));
}

export function byId(list) {
  return Object.fromEntries(list.map((x) => [x.id, x]));
}

export function siteLabel(site) {
  return site ? `${site.code} · ${site.name}` : 'unknown site';
}

/** A slot's local time as a table cell: date and times, the zone below. */
export function slotTime(slot, site) {
  if (!site) return h('span', { class: 'slot-time' }, slot.starts_at_local);
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  return h(
    'span',
    { class: 'slot-time' },
    `${shortDay(a.date)} ${a.date.slice(0, 4)}, ${a.time}–${b.time}`,
    h('span', { class: 'zone' }, zoneLabel(a.offset, site.timezone)),
  );
}

export function declarationName(d) {
  return d.number || `Draft ${d.id.slice(-6)}`;
}

export function money(amount, currency) {
  return `${amount} ${currency}`;
}

const KINDS = { import: 'Import', export: 'Export', transit: 'Transit' };

/** A declaration that was submitted before (it has its number) goes back as a resubmission. */
function resubmission(d) {
  return Boolean(d.number);
}

/** Submits a declaration (draft or amended); announces its number. */
async function submit(d, button, after) {
  try {
    const done = await busy(button, () => api.post(`/declarations/${d.id}/submit`));
    announce(`Declaration submitted as ${done.number}.`, 'success');
    after();
  } catch (err) {
    announce(`Could not submit: ${err.message}`, 'error');
    const box = button.closest('[data-row]') || button.parentElement;
    box.append(errorBox(err, 'Could not submit'));
  }
}

async function cancelDeclaration(d, button, after) {
  const reason = field({ label: 'Reason (optional)', name: 'reason', type: 'textarea', attrs: { maxlength: 1000, rows: 3 } });
  const answer = await dialog({
    title: `Cancel declaration ${declarationName(d)}?`,
    body: [h('p', {}, 'A cancelled declaration cannot be submitted again; its booking is cancelled too.'), reason],
    confirm: 'Cancel declaration',
    cancel: 'Keep it',
    danger: true,
  });
  if (!answer) return;
  try {
    await busy(button, () => api.post(`/declarations/${d.id}/cancel`, { reason: answer.get('reason') || undefined }));
    announce(`Declaration ${declarationName(d)} cancelled.`, 'success');
    after();
  } catch (err) {
    announce(`Could not cancel: ${err.message}`, 'error');
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
    actions.append(h('a', { href: `#/declarations/${d.id}`, class: 'button-link secondary small' }, 'View', h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`)));
    if (canWrite && can(d, 'edit')) {
      actions.append(h('a', { href: `#/declarations/${d.id}/edit`, class: 'button-link secondary small' }, 'Edit', h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`)));
    }
    if (canWrite && verified && can(d, 'submit')) {
      const b = h('button', { type: 'button', class: 'primary small', onclick: () => submit(d, b, ctx.refresh) }, resubmission(d) ? 'Resubmit' : 'Submit', h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`));
      actions.append(b);
    }
    if (verified && d.bookable && !booking) {
      actions.append(h('a', { href: `#/book?declaration=${d.id}`, class: 'button-link primary small' }, 'Book a slot', h('span', { class: 'visually-hidden' }, ` for ${declarationName(d)}`)));
    }
    return {
      attrs: { dataset: { row: d.id, status: d.status } },
      cells: [
        h('span', { class: 'mono' }, declarationName(d)),
        KINDS[d.kind] || d.kind,
        site ? h('span', { title: site.name }, site.code, ' ', h('span', { class: 'muted' }, `(${d.transport_mode})`)) : '—',
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
    { class: 'filters', 'aria-label': 'Filter by status' },
    h('a', { href: '#/declarations', 'aria-current': filter ? null : 'page' }, `All (${decls.length})`),
    statuses.filter((s) => counts[s]).map((s) =>
      h('a', { href: `#/declarations?status=${s}`, 'aria-current': filter === s ? 'page' : null }, badge(s), ` ${counts[s]}`),
    ),
  );

  return h(
    'div',
    {},
    pageTitle('Declarations', canWrite ? h('a', { href: '#/declarations/new', class: 'button-link primary' }, 'New declaration') : null),
    filterBar,
    table({
      caption: filter ? `Declarations with status “${filter.replace('_', ' ')}”, newest first` : 'All declarations of your enterprise, newest first',
      columns: ['Number', 'Kind', 'Site', 'Consignee', 'Invoice total', 'Status', 'Booked slot (site time)', 'Actions'],
      rows,
      empty: 'No declarations yet. File one with “New declaration”.',
      className: 'declarations',
    }),
  );
}

/** Header fields of a declaration as a description list. */
export function declarationFacts(d, site) {
  const tz = site ? site.timezone : 'UTC';
  const pairs = [
    ['Number', d.number || 'assigned at submission'],
    ['Status', badge(d.status)],
    ['Risk lane', laneBadge(d.risk_lane)],
    ['Kind', KINDS[d.kind] || d.kind],
    ['Site', site ? `${siteLabel(site)} (${site.timezone})` : d.site_id],
    ['Transport mode', d.transport_mode],
    ['Consignor', d.consignor],
    ['Consignee', d.consignee],
    ['Origin → destination', `${d.origin_country} → ${d.destination_country}`],
    ['Incoterm', d.incoterm],
    ['Invoice total', money(d.invoice_total, d.currency)],
    ['Gross mass', `${d.gross_mass_kg} kg`],
    ['Submitted', d.submitted_at ? inZone(d.submitted_at, tz) : '—'],
    ['Last change', inZone(d.updated_at, tz)],
    ['Version', String(d.version)],
  ];
  if (d.status_reason) pairs.splice(3, 0, ['Reason given', d.status_reason]);
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function itemsTable(d) {
  return table({
    caption: `Goods items (${(d.items || []).length})`,
    columns: ['Line', 'HS code', 'Description', 'Quantity', 'Net mass', 'Value', 'Origin'],
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
      h('h2', { id: 'history-h' }, 'History'),
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
            e.actor_role ? h('span', { class: 'muted' }, ` by ${e.actor_role}`) : '',
            e.reason ? h('span', { class: 'reason' }, ` — ${e.reason}`) : '',
          ),
        ),
      ),
    );
  } catch (err) {
    return errorBox(err, 'History unavailable');
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
    actions.append(h('a', { href: `#/declarations/${d.id}/edit`, class: 'button-link secondary' }, 'Edit'));
  }
  if (canWrite && verified && can(d, 'submit')) {
    const b = h('button', { type: 'button', class: 'primary', onclick: () => submit(d, b, ctx.refresh) }, resubmission(d) ? 'Resubmit to customs' : 'Submit to customs');
    actions.append(b);
  }
  if (verified && d.bookable && !active) {
    actions.append(h('a', { href: `#/book?declaration=${d.id}`, class: 'button-link primary' }, 'Book a clearance slot'));
  }
  if (canWrite && can(d, 'cancel')) {
    const c = h('button', { type: 'button', class: 'danger', onclick: () => cancelDeclaration(d, c, ctx.refresh) }, 'Cancel declaration');
    actions.append(c);
  }
  const bookingInfo = bookings.length
    ? h(
        'section',
        { 'aria-labelledby': 'bookings-h' },
        h('h2', { id: 'bookings-h' }, 'Bookings'),
        h(
          'ul',
          { class: 'plain' },
          bookings.map((b) =>
            h('li', {}, badge(b.status), ' ', site ? slotSpan({ ...b, timezone: site.timezone }) : b.starts_at_local, b.cancel_reason ? h('span', { class: 'reason' }, ` — ${b.cancel_reason}`) : ''),
          ),
        ),
      )
    : null;
  return h(
    'div',
    {},
    pageTitle(`Declaration ${declarationName(d)}`),
    h('p', {}, h('a', { href: '#/declarations' }, '← All declarations')),
    d.status === 'amendment_requested'
      ? h('div', { class: 'alert warning', role: 'status' }, h('p', {}, `Customs asks for an amendment: ${d.status_reason || ''}`))
      : null,
    actions,
    declarationFacts(d, site),
    itemsTable(d),
    bookingInfo,
    await historyList(d, site),
  );
}

async function cancelBooking(b, button, after) {
  const reason = field({ label: 'Reason (optional)', name: 'reason', type: 'textarea', attrs: { maxlength: 1000, rows: 3 } });
  const answer = await dialog({
    title: 'Cancel this booking?',
    body: [h('p', {}, 'The slot is given back; you can book another one for the declaration.'), reason],
    confirm: 'Cancel booking',
    cancel: 'Keep booking',
    danger: true,
  });
  if (!answer) return;
  try {
    await busy(button, () => api.post(`/bookings/${b.id}/cancel`, { reason: answer.get('reason') || undefined }));
    announce('Booking cancelled.', 'success');
    after();
  } catch (err) {
    announce(`Could not cancel the booking: ${err.message}`, 'error');
    button.closest('td').append(errorBox(err, 'Could not cancel'));
  }
}

/** The enterprise's bookings, with cancel and reschedule. */
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
    const d = declsById[b.declaration_id];
    const actions = h('div', { class: 'row-actions' });
    if (canWrite && b.status === 'confirmed') {
      actions.append(
        h('a', { href: `#/book?reschedule=${b.id}`, class: 'button-link secondary small' }, 'Reschedule'),
      );
      const c = h('button', { type: 'button', class: 'danger small', onclick: () => cancelBooking(b, c, ctx.refresh) }, 'Cancel');
      actions.append(c);
    }
    return {
      attrs: { dataset: { row: b.id, status: b.status } },
      cells: [
        slotTime(b, site),
        d ? h('a', { href: `#/declarations/${d.id}`, class: 'mono' }, declarationName(d)) : b.declaration_id,
        site ? `${site.code} (${b.mode})` : b.site_id,
        h('div', {}, badge(b.status), b.cancel_reason ? h('p', { class: 'reason' }, b.cancel_reason) : null),
        actions,
      ],
    };
  });
  return h(
    'div',
    {},
    pageTitle('Bookings', h('a', { href: '#/book', class: 'button-link primary' }, 'Book a slot')),
    h(
      'nav',
      { class: 'filters', 'aria-label': 'Which bookings' },
      h('a', { href: '#/bookings', 'aria-current': show === 'active' ? 'page' : null }, 'Active'),
      h('a', { href: '#/bookings?show=all', 'aria-current': show === 'all' ? 'page' : null }, 'All, including past and cancelled'),
    ),
    table({
      caption: show === 'all' ? 'All bookings of your enterprise, by slot time' : 'Active bookings of your enterprise, by slot time',
      columns: ['Slot (site time)', 'Declaration', 'Site', 'Status', 'Actions'],
      rows,
      empty: 'No bookings. Book a slot for a submitted declaration.',
    }),
  );
}

