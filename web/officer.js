// Customs pages: enterprises to verify, the declaration review queue, the
// site capacity board, the gate, and (supervisors) sites and schedules.

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, badge, laneBadge, table, dialog, busy, field, setMessage, loading, describe, problemSlug, statusLabel } from './ui.js';
import { localParts, addDays, todayIn, midnight, longDay, zoneLabel, currentOffset, inZone, slotSpan, spanInZone } from './time.js';
import { byId, can, siteLabel, declarationName, money, declarationFacts, itemsTable, historyList, slotTime, declIds, plateText } from './company.js';

/** Enterprise names, read once each. */
const enterpriseCache = new Map();
async function enterprise(id) {
  if (!enterpriseCache.has(id)) {
    enterpriseCache.set(id, api.get(`/enterprises/${id}`).catch(() => ({ id, name: id })));
  }
  return enterpriseCache.get(id);
}

// ---- enterprises ---------------------------------------------------------

export async function enterprisesPage(ctx) {
  const status = ctx.query.status ?? 'pending';
  const list = await api.all('/enterprises', { status: status || undefined });
  for (const e of list) enterpriseCache.set(e.id, Promise.resolve(e));
  const rows = list.map((e) => {
    const actions = h('div', { class: 'row-actions' });
    const act = (verb, label, cls, needsReason) => {
      const b = h('button', {
        type: 'button',
        class: `${cls} small`,
        onclick: async () => {
          let body = {};
          if (needsReason) {
            const reason = field({ label: 'Reason', name: 'reason', type: 'textarea', required: true, attrs: { rows: 3, maxlength: 1000 } });
            const ok = await dialog({ title: `${label} ${e.name}?`, body: reason, confirm: label, danger: verb === 'suspend' });
            if (!ok) return;
            body = { reason: ok.get('reason') };
          }
          try {
            await busy(b, () => api.post(`/enterprises/${e.id}/${verb}`, body));
            enterpriseCache.delete(e.id);
            announce(`${e.name}: ${verb === 'verify' ? 'verified' : verb === 'suspend' ? 'suspended' : 'reinstated'}.`, 'success');
            ctx.refresh();
          } catch (err) {
            b.closest('td').append(errorBox(err, `Could not ${verb}`));
          }
        },
      }, label, h('span', { class: 'visually-hidden' }, ` ${e.name}`));
      actions.append(b);
    };
    if (e.status === 'pending') act('verify', 'Verify', 'primary');
    if (e.status === 'verified') act('suspend', 'Suspend', 'danger', true);
    if (e.status === 'suspended') act('reinstate', 'Reinstate', 'secondary');
    return {
      attrs: { dataset: { row: e.id } },
      cells: [
        e.name,
        e.country,
        h('span', { class: 'mono' }, e.registration_code),
        e.credit_class.replace('_', ' '),
        inZone(e.created_at, 'UTC'),
        badge(e.status),
        actions,
      ],
    };
  });
  const tabs = [['pending', 'Waiting for verification'], ['verified', 'Verified'], ['suspended', 'Suspended'], ['', 'All']];
  return h(
    'div',
    {},
    pageTitle('Enterprises'),
    h(
      'nav',
      { class: 'filters', 'aria-label': 'Filter by status' },
      tabs.map(([s, label]) => h('a', { href: `#/enterprises?status=${s}`, 'aria-current': status === s ? 'page' : null }, label)),
    ),
    table({
      caption: status === 'pending' ? 'Enterprises waiting for verification, oldest first' : `Enterprises${status ? ` (${status})` : ''}, in registration order`,
      columns: ['Legal name', 'Country', 'Registration code', 'Credit class', 'Registered', 'Status', 'Actions'],
      rows,
      empty: status === 'pending' ? 'No enterprise is waiting for verification.' : 'No enterprises.',
    }),
  );
}

// ---- review queue --------------------------------------------------------

export async function reviewQueuePage(ctx) {
  const status = ctx.query.status ?? 'waiting';
  const siteFilter = ctx.query.site || '';
  const sites = await ctx.sites();
  const sitesById = byId(sites);
  let list;
  if (status === 'waiting') {
    const [a, b] = await Promise.all([
      api.all('/declarations', { status: 'submitted', site_id: siteFilter || undefined }),
      api.all('/declarations', { status: 'under_review', site_id: siteFilter || undefined }),
    ]);
    list = a.concat(b).sort((x, y) => (x.submitted_at < y.submitted_at ? -1 : 1));
  } else {
    list = await api.all('/declarations', { status: status || undefined, site_id: siteFilter || undefined });
  }
  const ents = await Promise.all(list.map((d) => enterprise(d.enterprise_id)));
  const rows = list.map((d, i) => {
    const site = sitesById[d.site_id];
    return {
      attrs: { dataset: { row: d.id, status: d.status } },
      cells: [
        h('a', { href: `#/review/${d.id}`, class: 'mono' }, declarationName(d)),
        ents[i].name,
        d.kind[0].toUpperCase() + d.kind.slice(1),
        site ? `${site.code} (${d.transport_mode})` : d.site_id,
        h('span', { class: 'num' }, money(d.invoice_total, d.currency)),
        site ? inZone(d.submitted_at, site.timezone) : d.submitted_at,
        h('div', {}, badge(d.status), d.assigned_officer_id === ctx.me.id ? h('span', { class: 'muted' }, ' (yours)') : null),
        h('a', { href: `#/review/${d.id}`, class: 'button-link primary small' }, 'Review', h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`)),
      ],
    };
  });
  const tabs = [['waiting', 'Waiting (submitted and under review)'], ['amendment_requested', 'Amendment requested'], ['approved', 'Approved'], ['rejected', 'Rejected'], ['released', 'Released'], ['', 'All']];
  const siteSelect = h(
    'select',
    { id: 'queue-site', onchange: (e) => ctx.navigate(`#/review?status=${status}&site=${e.target.value}`) },
    h('option', { value: '' }, 'All sites'),
    sites.map((s) => h('option', { value: s.id, selected: s.id === siteFilter }, `${s.code} · ${s.name}`)),
  );
  return h(
    'div',
    {},
    pageTitle('Declaration review queue'),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'nav',
        { class: 'filters', 'aria-label': 'Filter by status' },
        tabs.map(([s, label]) => h('a', { href: `#/review?status=${s}&site=${siteFilter}`, 'aria-current': status === s ? 'page' : null }, label)),
      ),
      h('div', { class: 'field inline' }, h('label', { for: 'queue-site' }, 'Site'), siteSelect),
    ),
    table({
      caption: status === 'waiting' ? 'Declarations waiting for review, oldest submission first' : 'Declarations',
      columns: ['Number', 'Enterprise', 'Kind', 'Site', 'Invoice total', 'Submitted (site time)', 'Status', ''],
      rows,
      empty: 'The queue is empty.',
    }),
  );
}

export async function reviewPage(ctx) {
  const [id] = ctx.params;
  const [d, sites] = await Promise.all([api.get(`/declarations/${id}`), ctx.sites()]);
  const site = byId(sites)[d.site_id];
  const ent = await enterprise(d.enterprise_id);
  const result = h('div', { class: 'form-result', 'aria-live': 'polite' });

  async function act(action, body, button, done) {
    replace(result);
    try {
      const after = await busy(button, () => api.post(`/declarations/${d.id}/${action}`, body));
      announce(`${declarationName(after)}: ${done}.`, 'success');
      ctx.refresh();
    } catch (err) {
      const wrap = button.closest('form');
      for (const fe of err.fieldErrors) {
        const f = wrap && wrap.querySelector(`.field[data-for="${fe.field}"]`);
        if (f) setMessage(f, 'server', fe.message);
      }
      replace(result, errorBox(err, 'Not done'));
    }
  }

  const panels = h('div', { class: 'decision' });
  if (can(d, 'review')) {
    const claim = h('button', { type: 'button', class: 'secondary', onclick: () => act('review', {}, claim, 'claimed for review') }, 'Claim for review');
    panels.append(h('p', {}, claim, ' ', h('span', { class: 'muted' }, 'Optional: approving, rejecting or asking for an amendment claims it too.')));
  }
  const decisions = [];
  if (can(d, 'approve')) {
    const lanes = h(
      'fieldset',
      { class: 'field lanes', dataset: { for: 'risk_lane' } },
      h('legend', {}, 'Risk lane'),
      ['green', 'yellow', 'red'].map((l) =>
        h('label', { class: `lane-choice lane-${l}` }, h('input', { type: 'radio', name: 'risk_lane', value: l, checked: l === 'green' }), ` ${l[0].toUpperCase()}${l.slice(1)}`, h('span', { class: 'hint' }, l === 'green' ? ' — release on documents' : l === 'yellow' ? ' — document check' : ' — physical inspection')),
      ),
      h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
    );
    const approveForm = h('form', { class: 'card', 'aria-labelledby': 'approve-h' }, h('h2', { id: 'approve-h' }, 'Approve'), lanes);
    const approveBtn = h('button', { type: 'submit', class: 'primary' }, 'Approve');
    approveForm.append(h('div', { class: 'actions left' }, approveBtn));
    approveForm.addEventListener('submit', (e) => {
      e.preventDefault();
      act('approve', { risk_lane: new FormData(approveForm).get('risk_lane') }, approveBtn, 'approved');
    });
    decisions.push(approveForm);
  }

  const reasonForm = (action, title, label, cls, done) => {
    const reason = field({ label: 'Reason', name: 'reason', type: 'textarea', required: true, hint: 'Sent to the company; up to 1000 characters.', attrs: { rows: 3, maxlength: 1000 } });
    const headingId = `${action}-h`;
    const form = h('form', { class: 'card', 'aria-labelledby': headingId, novalidate: true }, h('h2', { id: headingId }, title), reason);
    const btn = h('button', { type: 'submit', class: cls }, label);
    form.append(h('div', { class: 'actions left' }, btn));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = new FormData(form).get('reason').trim();
      setMessage(reason, 'server', '');
      setMessage(reason, 'client', text ? '' : 'Give the company a reason.');
      if (!text) {
        reason.querySelector('textarea').focus();
        return;
      }
      act(action, { reason: text }, btn, done);
    });
    return form;
  };
  if (can(d, 'request-amendment')) decisions.push(reasonForm('request-amendment', 'Request an amendment', 'Request amendment', 'secondary', 'amendment requested'));
  if (can(d, 'reject')) decisions.push(reasonForm('reject', 'Reject', 'Reject', 'danger', 'rejected'));
  if (decisions.length) panels.append(h('div', { class: 'decision-grid' }, decisions));
  if (can(d, 'release')) {
    const rel = h('button', { type: 'button', class: 'primary', onclick: () => act('release', {}, rel, 'released') }, 'Release goods');
    panels.append(h('p', {}, rel));
  }
  return h(
    'div',
    {},
    pageTitle(`Review ${declarationName(d)}`),
    h('p', {}, h('a', { href: '#/review' }, '← Review queue')),
    h('p', { class: 'lead' }, `Filed by ${ent.name} (${ent.country}, ${ent.registration_code}, credit class ${ent.credit_class ? ent.credit_class.replace('_', ' ') : '—'}).`),
    result,
    panels,
    declarationFacts(d, site),
    itemsTable(d),
    await historyList(d, site),
  );
}

// ---- site picker shared by the board and the gate --------------------------

function sitePicker(ctx, sites, current, extra = {}) {
  const select = h(
    'select',
    {
      id: 'board-site',
      onchange: (e) => {
        sessionStorage.setItem('clearway.site', e.target.value);
        const q = new URLSearchParams({ ...extra, site: e.target.value });
        ctx.navigate(`${location.hash.split('?')[0]}?${q}`);
      },
    },
    sites.map((s) => h('option', { value: s.id, selected: s.id === current.id }, `${s.code} · ${s.name}`)),
  );
  return h('div', { class: 'field inline' }, h('label', { for: 'board-site' }, 'Site'), select);
}

function chosenSite(ctx, sites) {
  const id = ctx.query.site || sessionStorage.getItem('clearway.site');
  return sites.find((s) => s.id === id) || sites[0];
}

// ---- capacity board --------------------------------------------------------

export async function capacityPage(ctx) {
  const sites = await ctx.sites();
  const site = chosenSite(ctx, sites);
  if (!site) return h('div', {}, pageTitle('Capacity board'), h('p', { class: 'empty' }, 'No clearance sites yet.'));
  const mode = site.modes.includes(ctx.query.mode) ? ctx.query.mode : site.modes[0];
  const showEnded = ctx.query.ended === '1';
  const today = todayIn(site.timezone);
  const days = [today, addDays(today, 1)];
  const slots = await api.all('/slots', { site_id: site.id, mode, from: midnight(site.timezone, today), to: midnight(site.timezone, addDays(today, 2)) });
  const now = new Date();
  const here = (extra) => `#/capacity?${new URLSearchParams({ site: site.id, mode, ended: showEnded ? '1' : '0', ...extra })}`;
  const modeSelect = h(
    'select',
    { id: 'board-mode', onchange: (e) => ctx.navigate(here({ mode: e.target.value })) },
    site.modes.map((m) => h('option', { value: m, selected: m === mode }, m)),
  );

  async function change(slot, span, button) {
    const capacity = field({ label: 'Capacity (places)', name: 'capacity', type: 'number', value: String(slot.capacity), required: true, hint: `${slot.booked} booked now.`, attrs: { min: 0, max: 10000, class: 'short' } });
    const status = field({ label: 'Status', name: 'status', value: slot.status, options: [{ value: 'open', label: 'Open' }, { value: 'closed', label: 'Closed (cancels its bookings)' }] });
    const reason = field({ label: 'Reason (recorded, and sent to companies whose bookings are cancelled)', name: 'reason', type: 'textarea', attrs: { rows: 2, maxlength: 1000 } });
    const ok = await dialog({ title: `Change slot ${span}`, body: [h('p', { class: 'muted' }, `${site.code} ${slot.mode}, ${slotSpan(slot)}`), capacity, status, reason], confirm: 'Save change' });
    if (!ok) {
      button.focus();
      return;
    }
    const body = {};
    const cap = Number(ok.get('capacity'));
    if (!Number.isInteger(cap) || cap < 0 || cap > 10000) {
      announce('Capacity must be a whole number from 0 to 10000.', 'error');
      return;
    }
    if (cap !== slot.capacity) body.capacity = cap;
    if (ok.get('status') !== slot.status) body.status = ok.get('status');
    if (ok.get('reason')) body.reason = ok.get('reason');
    if (body.capacity === undefined && body.status === undefined) {
      announce('Nothing changed.');
      return;
    }
    const box = button.closest('tr').querySelector('.row-msg');
    const send = (b) => busy(button, () => api.call('PATCH', `/slots/${slot.id}`, { body: b }));
    try {
      await send(body);
      announce(`Slot ${span}: ${body.status === 'closed' ? 'closed' : body.status === 'open' ? 'reopened' : `capacity ${body.capacity}`}.`, 'success');
      ctx.refresh();
    } catch (err) {
      if (err.status === 409 && body.capacity !== undefined && !body.displace) {
        const again = await dialog({
          title: `Capacity ${body.capacity} is below the ${slot.booked} bookings`,
          body: h('p', {}, 'Displace the latest bookings? They are cancelled with your reason and their companies are notified.'),
          confirm: 'Displace bookings',
          danger: true,
        });
        if (again) {
          try {
            await send({ ...body, displace: true });
            announce(`Slot ${span}: capacity ${body.capacity}; bookings displaced.`, 'success');
            ctx.refresh();
            return;
          } catch (err2) {
            replace(box, errorBox(err2, 'Not changed'));
            return;
          }
        }
      }
      replace(box, errorBox(err, 'Not changed'));
    }
  }

  const sections = days.map((day) => {
    const all = slots.filter((s) => localParts(s.starts_at_local).date === day);
    const ended = all.filter((s) => new Date(s.ends_at) <= now);
    const list = showEnded ? all : all.filter((s) => new Date(s.ends_at) > now);
    const booked = all.reduce((a, s) => a + s.booked, 0);
    const open = all.filter((s) => s.status === 'open').reduce((a, s) => a + s.capacity, 0);
    const offset = all[0] ? localParts(all[0].starts_at_local).offset : currentOffset(site.timezone);
    const rows = list.map((s) => {
      const p = localParts(s.starts_at_local);
      const e = localParts(s.ends_at_local);
      const span = `${p.time}–${e.time}`;
      const isEnded = new Date(s.ends_at) <= now;
      const pct = s.capacity ? Math.round((100 * s.booked) / s.capacity) : 0;
      const btn = isEnded
        ? h('span', { class: 'muted' }, 'ended')
        : h('button', { type: 'button', class: 'secondary small', onclick: (ev) => change(s, span, ev.currentTarget) }, 'Change', h('span', { class: 'visually-hidden' }, ` slot ${span}`));
      return {
        attrs: { dataset: { row: s.id }, class: isEnded ? 'ended' : null },
        cells: [
          h('span', { class: 'mono' }, span),
          h(
            'div',
            { class: 'usage' },
            h('meter', { min: 0, max: Math.max(1, s.capacity), value: s.booked, high: Math.max(1, s.capacity) * 0.85, optimum: 0, 'aria-hidden': 'true' }),
            h('span', { class: 'usage-text' }, `${s.booked} / ${s.capacity}`, h('span', { class: 'visually-hidden' }, ' booked'), h('span', { class: 'muted' }, ` ${pct} %`)),
          ),
          badge(s.status),
          h('div', {}, btn, h('div', { class: 'row-msg', 'aria-live': 'polite' })),
        ],
      };
    });
    return h(
      'section',
      { class: 'board-day', 'aria-labelledby': `day-${day}` },
      h('h2', { id: `day-${day}` }, day === today ? 'Today' : 'Tomorrow', h('span', { class: 'sub' }, ` ${longDay(day)}`)),
      h(
        'p',
        { class: 'day-summary' },
        `${booked} booked of ${open} open places`,
        ended.length && !showEnded ? h('span', { class: 'muted' }, ` · ${ended.length} ended slot${ended.length === 1 ? '' : 's'} hidden`) : null,
      ),
      table({
        caption: `${site.code} ${mode}, ${longDay(day)}, ${zoneLabel(offset, site.timezone)}`,
        columns: ['Slot', 'Booked / capacity', 'Status', ''],
        rows,
        empty: all.length ? 'Every slot of this day has ended.' : 'No slots on this day.',
        className: 'board',
      }),
    );
  });

  return h(
    'div',
    {},
    pageTitle('Capacity board'),
    h(
      'div',
      { class: 'toolbar' },
      sitePicker(ctx, sites, site, { mode }),
      h('div', { class: 'field inline' }, h('label', { for: 'board-mode' }, 'Mode'), modeSelect),
      h('a', { href: here({ ended: showEnded ? '0' : '1' }) }, showEnded ? 'Hide ended slots' : 'Show ended slots'),
      h('p', { class: 'zone-note' }, `Times in ${zoneLabel(currentOffset(site.timezone), site.timezone)}`),
    ),
    h('div', { class: 'board-days' }, sections),
  );
}

// ---- gate ----------------------------------------------------------------

/** Declarations read once per scan or table (a truck may carry several; their status changes between scans). */
function declarationReader() {
  const cache = new Map();
  return (id) => {
    if (!cache.has(id)) cache.set(id, api.get(`/declarations/${id}`).catch(() => null));
    return cache.get(id);
  };
}

/** A refusal at the gate in plain words: a title, a sentence, and a list when there is one. */
function gateRefusal(err, site, sitesById) {
  const p = err.problem || {};
  const at = (iso) => inZone(iso, site.timezone);
  const or = (cond, text) => (cond ? text : p.detail || err.message);
  switch (problemSlug(err)) {
    case 'gate-pass-invalid':
      return { kind: 'error', title: 'Not a valid gate pass', text: 'This code is not a Clearway gate pass: it could not be read, or it was not issued by Clearway (it may have been altered). Scan it again, or check the truck in by its plate.' };
    case 'wrong-site': {
      const other = sitesById[p.site_id];
      return { kind: 'error', title: 'Booked at another site', text: `This truck is booked at ${other ? siteLabel(other) : 'another clearance site'}, not at ${siteLabel(site)}. It cannot be checked in here.` };
    }
    case 'gate-pass-superseded':
      return { kind: 'error', title: 'Out-of-date gate pass', text: or(p.current_version, `This is version ${p.version} of the gate pass, but the booking is now at version ${p.current_version}: the vehicle or the slot has changed since it was printed. The driver needs the current pass; or check the truck in by its plate.`) };
    case 'booking-not-active':
      return { kind: 'error', title: 'Booking not active', text: or(p.booking_status, `This booking is ${statusLabel(p.booking_status).toLowerCase()}: no truck can be checked in on it.`) };
    case 'already-checked-in':
      return {
        kind: 'warning',
        title: 'Already checked in',
        text: `This truck was already checked in${p.checked_in_at ? ` at ${at(p.checked_in_at)}` : ''}${p.checked_in_by ? ` by ${p.checked_in_by}` : ''}. Nothing was changed.`,
      };
    case 'too-early':
      return { kind: 'warning', title: 'Too early', text: or(p.window_opens_at, `The truck is early: it may be checked in from ${at(p.window_opens_at)} until ${at(p.window_closes_at)} (site time).`) };
    case 'too-late':
      return { kind: 'error', title: 'Too late', text: or(p.window_closes_at, `The truck is late: its arrival window closed at ${at(p.window_closes_at)} (it opened at ${at(p.window_opens_at)}, site time). The company has to book a new slot.`) };
    case 'vehicle-missing':
      return { kind: 'error', title: 'No vehicle on the booking', text: 'The booking names no vehicle, so the truck cannot be matched to it. The company must add the truck’s plate to the booking first (Edit vehicle).' };
    case 'declarations-not-cleared': {
      const list = Array.isArray(p.declarations) ? p.declarations : [];
      return {
        kind: 'error',
        title: 'Declarations not cleared',
        text: `Customs has not approved or released every declaration on this truck${list.length ? '. Not cleared yet:' : '.'}`,
        list: list.map((x) => `${x.number || x.id} — ${statusLabel(x.status)}`),
      };
    }
    case 'no-booking-for-vehicle':
      return {
        kind: 'error',
        title: 'No booking for this vehicle',
        text: `${p.plate ? `The vehicle ${p.country || ''} ${p.plate}`.replace(/\s+/g, ' ') : 'This vehicle'} has no confirmed booking, at this site or any other. Check the plate and the country, or ask for the gate pass.`,
      };
    case 'validation':
      return { kind: 'error', title: 'Check the entry', text: (err.fieldErrors || []).map((e) => e.message).join(' ') || describe(err) };
    default:
      return { kind: 'error', title: 'Not checked in', text: describe(err) };
  }
}

/** The truck of a booking as the gate sees it: vehicle, driver, containers, each declaration, slot and window. */
async function visitCard(b, site, sitesById, readDecl, opts = {}) {
  const visitSite = sitesById[b.site_id] || site;
  const tz = visitSite.timezone;
  const [decls, ent] = await Promise.all([Promise.all(declIds(b).map(readDecl)), enterprise(b.enterprise_id)]);
  const headingId = `visit-${b.id}`;
  const facts = [
    ['Vehicle', b.vehicle ? h('span', { class: 'plate' }, plateText(b.vehicle, false)) : h('strong', {}, 'none on the booking')],
    ['Trailer', b.vehicle && b.vehicle.trailer_plate ? h('span', { class: 'plate' }, b.vehicle.trailer_plate) : '—'],
    ['Driver', b.driver ? `${b.driver.name}, document ${b.driver.document_number}` : '—'],
    ['Containers', (b.containers || []).length ? h('ul', { class: 'plain tight mono' }, b.containers.map((c) => h('li', {}, c))) : 'none listed'],
    ['Enterprise', ent.name],
    ['Slot (site time)', slotSpan({ ...b, timezone: tz })],
    ['Arrival window', b.arrival_window ? spanInZone(b.arrival_window.opens_at, b.arrival_window.closes_at, tz) : '—'],
    ['Site', siteLabel(visitSite)],
    [
      'Booking',
      h(
        'span',
        {},
        badge(b.status),
        b.checked_in_at ? ` at ${inZone(b.checked_in_at, tz)}${opts.by ? ` by ${opts.by}` : ''}` : '',
        b.gate_pass ? h('span', { class: 'muted' }, ` · gate pass version ${b.gate_pass.version}`) : '',
      ),
    ],
  ];
  return h(
    'section',
    { class: 'visit card', 'aria-labelledby': headingId, dataset: { booking: b.id } },
    h('h3', { id: headingId }, b.vehicle ? ['Truck ', h('span', { class: 'plate' }, plateText(b.vehicle, false))] : 'Booking without a vehicle'),
    h('dl', { class: 'facts visit-facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    table({
      caption: `Declarations on this truck (${declIds(b).length})`,
      columns: ['Number', 'Status', 'Risk lane', 'Kind', 'Consignee'],
      rows: declIds(b).map((id, i) => {
        const d = decls[i];
        return d
          ? { attrs: { dataset: { declaration: id } }, cells: [h('a', { href: `#/review/${id}`, class: 'mono' }, declarationName(d)), badge(d.status), laneBadge(d.risk_lane), d.kind, d.consignee] }
          : [h('span', { class: 'mono' }, id), '—', '—', '—', '—'];
      }),
      className: 'visit-decls',
    }),
  );
}

/** The scan panel: a code (scanner, typing or pasting), the camera where the browser reads QR codes, or a plate. */
function scanPanel(site, sitesById, onDone) {
  const result = h('div', { class: 'scan-result', 'aria-live': 'polite' });
  const code = field({
    label: 'Gate pass code',
    name: 'code',
    hint: 'Scan the QR code with the hand scanner (it types the code and presses Enter), or type or paste the code printed under it.',
    attrs: { autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', class: 'code-input', enterkeyhint: 'go' },
  });
  const codeInput = code.querySelector('input');
  const codeBtn = h('button', { type: 'submit', class: 'primary' }, 'Check in');
  const codeForm = h('form', { class: 'scan-form', novalidate: true, 'aria-label': 'Scan a gate pass' }, code, h('div', { class: 'scan-buttons' }, codeBtn));

  const plate = field({ label: 'Plate number', name: 'plate', attrs: { autocomplete: 'off', spellcheck: 'false', maxlength: 24, class: 'upper' } });
  const country = field({ label: 'Country', name: 'country', hint: 'e.g. KZ', attrs: { autocomplete: 'off', maxlength: 2, class: 'short upper' } });
  const plateBtn = h('button', { type: 'submit', class: 'secondary' }, 'Check in by plate');
  const plateForm = h('form', { class: 'scan-form by-plate', novalidate: true, 'aria-label': 'Check in by plate' }, h('div', { class: 'plate-fields' }, plate, country), h('div', { class: 'scan-buttons' }, plateBtn));

  async function scan(body, button) {
    replace(result, loading('Checking the truck…'));
    const readDecl = declarationReader();
    try {
      const b = await busy(button, () => api.post('/gate/scan', { site_id: site.id, ...body }));
      const card = await visitCard(b, site, sitesById, readDecl, { by: 'you' });
      const plateName = b.vehicle ? plateText(b.vehicle, false) : 'The truck';
      replace(
        result,
        h(
          'div',
          { class: 'alert success scan-outcome', role: 'status', dataset: { outcome: 'checked-in' } },
          h('p', { class: 'alert-title' }, `Checked in: ${plateName}`),
          h('p', {}, `${plateName} is checked in${b.checked_in_at ? ` at ${inZone(b.checked_in_at, site.timezone)}` : ''}; ${declIds(b).length === 1 ? 'its declaration is' : `all ${declIds(b).length} declarations are`} cleared. The truck may enter.`),
        ),
        card,
      );
      announce(`${plateName}: checked in.`, 'success');
      onDone();
    } catch (err) {
      const r = gateRefusal(err, site, sitesById);
      let card = null;
      const bookingId = err.problem && err.problem.booking_id;
      if (bookingId) {
        try {
          card = await visitCard(await api.get(`/bookings/${bookingId}`), site, sitesById, readDecl, { by: err.problem.checked_in_by });
        } catch {
          card = null;
        }
      }
      replace(
        result,
        h(
          'div',
          { class: `alert ${r.kind} scan-outcome`, role: 'alert', dataset: { outcome: problemSlug(err) || 'error' } },
          h('p', { class: 'alert-title' }, `Not checked in: ${r.title}`),
          h('p', {}, r.text),
          r.list && r.list.length ? h('ul', {}, r.list.map((x) => h('li', {}, x))) : null,
        ),
        card,
      );
      announce(`Not checked in: ${r.title}.`, r.kind);
    }
  }

  codeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = codeInput.value.trim();
    setMessage(code, 'client', value ? '' : 'Scan or enter the gate pass code.');
    if (!value) {
      codeInput.focus();
      return;
    }
    scan({ code: value }, codeBtn).then(() => {
      // Ready for the next truck, unless another code was typed meanwhile.
      if (codeInput.value.trim() === value) codeInput.value = '';
      codeInput.focus();
    });
  });
  plateForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = plate.querySelector('input').value.toUpperCase().replace(/[\s\-·]/g, '');
    const c = country.querySelector('input').value.trim().toUpperCase();
    setMessage(plate, 'client', p.length >= 2 ? '' : 'Enter the plate number.');
    setMessage(country, 'client', /^[A-Z]{2}$/.test(c) ? '' : 'Two letters, e.g. KZ.');
    if (p.length < 2 || !/^[A-Z]{2}$/.test(c)) {
      plateForm.querySelector('[aria-invalid=true]')?.focus();
      return;
    }
    scan({ plate: p, country: c }, plateBtn);
  });

  // The camera, only where the browser can read QR codes itself.
  let camera = null;
  if ('BarcodeDetector' in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    const video = h('video', { class: 'camera', muted: true, playsinline: true, hidden: true, 'aria-label': 'Camera view' });
    const status = h('p', { class: 'hint', 'aria-live': 'polite' });
    video.muted = true;
    let stream = null;
    const stop = () => {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.srcObject = null;
      video.hidden = true;
      camBtn.textContent = 'Scan with the camera';
      window.removeEventListener('hashchange', stop);
    };
    const start = async () => {
      try {
        const formats = BarcodeDetector.getSupportedFormats ? await BarcodeDetector.getSupportedFormats() : ['qr_code'];
        if (!formats.includes('qr_code')) {
          replace(status, 'This browser cannot read QR codes from the camera; use the scanner or type the code.');
          return;
        }
        const detector = new BarcodeDetector({ formats: ['qr_code'] });
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
        video.srcObject = stream;
        video.hidden = false;
        await video.play();
        camBtn.textContent = 'Stop the camera';
        replace(status, 'Hold the gate pass in front of the camera.');
        window.addEventListener('hashchange', stop);
        const tick = async () => {
          if (!stream) return;
          if (!video.isConnected) {
            stop();
            return;
          }
          try {
            const found = await detector.detect(video);
            if (found.length && found[0].rawValue) {
              stop();
              replace(status, 'Code read.');
              codeInput.value = found[0].rawValue;
              codeForm.requestSubmit();
              return;
            }
          } catch {
            // A frame that could not be read: try the next one.
          }
          setTimeout(tick, 200);
        };
        tick();
      } catch (err) {
        stop();
        replace(status, `The camera could not be used (${err.message}). Use the scanner or type the code.`);
      }
    };
    const camBtn = h('button', { type: 'button', class: 'secondary', onclick: () => (stream ? stop() : start()) }, 'Scan with the camera');
    codeForm.querySelector('.scan-buttons').append(camBtn);
    camera = h('div', { class: 'camera-box' }, video, status);
  }

  const panel = h(
    'section',
    { class: 'card scan-panel', 'aria-labelledby': 'scan-h' },
    h('h2', { id: 'scan-h' }, `Check a truck in at ${site.code}`),
    h('div', { class: 'scan-forms' }, codeForm, h('p', { class: 'scan-or', 'aria-hidden': 'true' }, 'or'), plateForm),
    camera,
  );
  return { panel, result, focus: () => codeInput.focus() };
}

export async function gatePage(ctx) {
  const sites = await ctx.sites();
  const site = chosenSite(ctx, sites);
  if (!site) return h('div', {}, pageTitle('Gate'), h('p', { class: 'empty' }, 'No clearance sites yet.'));
  const sitesById = byId(sites);
  const today = todayIn(site.timezone);
  const from = new Date(midnight(site.timezone, today));
  const to = new Date(midnight(site.timezone, addDays(today, 2)));
  const show = ctx.query.show || 'open';
  const filterInput = h('input', { type: 'search', id: 'gate-filter', placeholder: 'e.g. 123ABC02 or CNKHG2026I', autocomplete: 'off' });
  const tableBox = h('div', { class: 'gate-bookings' });

  /** The bookings expected today and tomorrow, re-read after each check-in. */
  async function renderTable() {
    const all = await api.all('/bookings', { site_id: site.id });
    const readDecl = declarationReader();
    const inWindow = all.filter((b) => new Date(b.starts_at) >= from && new Date(b.starts_at) < to);
    const list = inWindow
      .filter((b) => (show === 'open' ? b.active : b.status !== 'cancelled'))
      .sort((a, b) => (a.starts_at < b.starts_at ? -1 : a.starts_at > b.starts_at ? 1 : 0));
    const decls = await Promise.all(list.map((b) => Promise.all(declIds(b).map(readDecl))));
    const ents = await Promise.all(list.map((b) => enterprise(b.enterprise_id)));
    const now = new Date();
    const rows = list.map((b, i) => {
      const ds = decls[i];
      const names = declIds(b).map((id, j) => (ds[j] ? declarationName(ds[j]) : id));
      const plate = b.vehicle ? plateText(b.vehicle, false) : '';
      const who = plate || names[0];
      const actions = h('div', { class: 'row-actions' });
      const msg = h('div', { class: 'row-msg', 'aria-live': 'polite' });
      const gate = (verb, label, cls, done) => {
        const btn = h('button', {
          type: 'button',
          class: `${cls} small`,
          onclick: async () => {
            replace(msg);
            try {
              await busy(btn, () => api.post(`/bookings/${b.id}/${verb}`));
              announce(`${who}: ${done}.`, 'success');
              await renderTable();
            } catch (err) {
              const r = gateRefusal(err, site, sitesById);
              replace(msg, h('div', { class: `alert ${r.kind}`, role: 'alert' }, h('p', { class: 'alert-title' }, `${label}: ${r.title}`), h('p', {}, r.text), r.list ? h('ul', {}, r.list.map((x) => h('li', {}, x))) : null));
            }
          },
        }, label, h('span', { class: 'visually-hidden' }, ` ${who}`));
        actions.append(btn);
      };
      const allowed = (a, fallback) => (Array.isArray(b.allowed_actions) ? b.allowed_actions.includes(a) : fallback);
      if (allowed('check-in', b.status === 'confirmed')) gate('check-in', 'Check in', 'primary', 'checked in');
      // The server lists `no-show` for every confirmed booking; it takes one only once the slot has ended.
      if (allowed('no-show', b.status === 'confirmed') && new Date(b.ends_at) <= now) gate('no-show', 'No-show', 'danger', 'marked as no-show');
      if (allowed('complete', b.status === 'checked_in')) gate('complete', 'Complete', 'primary', 'completed');
      const search = [plate, b.vehicle ? b.vehicle.plate : '', b.vehicle && b.vehicle.trailer_plate, ...names, ents[i].name, ...(b.containers || [])].filter(Boolean).join(' ').toLowerCase();
      return {
        attrs: { dataset: { row: b.id, status: b.status, search } },
        cells: [
          slotTime(b, site),
          b.vehicle
            ? h('div', {}, h('span', { class: 'plate' }, plate), b.vehicle.trailer_plate ? h('p', { class: 'muted small' }, `trailer ${b.vehicle.trailer_plate}`) : null)
            : h('span', { class: 'muted' }, 'no vehicle'),
          h(
            'ul',
            { class: 'plain tight decl-cell' },
            declIds(b).map((id, j) => h('li', {}, h('span', { class: 'mono' }, names[j]), ' ', ds[j] ? badge(ds[j].status) : null, ' ', ds[j] ? laneBadge(ds[j].risk_lane) : null)),
          ),
          ents[i].name,
          badge(b.status),
          h('div', {}, actions, msg),
        ],
      };
    });
    const tbl = table({
      caption: `Bookings at ${site.code}, today and tomorrow (${zoneLabel(currentOffset(site.timezone), site.timezone)})`,
      columns: ['Slot (site time)', 'Vehicle', 'Declarations (status, risk lane)', 'Enterprise', 'Booking', 'Gate actions'],
      rows,
      empty: show === 'open' ? 'Nobody is expected today or tomorrow.' : 'No bookings today or tomorrow.',
    });
    replace(tableBox, tbl);
    applyFilter();
  }

  function applyFilter() {
    const q = filterInput.value.trim().toLowerCase();
    const qPlate = q.replace(/[\s\-·]/g, '');
    for (const tr of tableBox.querySelectorAll('tbody tr')) {
      tr.hidden = Boolean(q) && !tr.dataset.search.includes(q) && !tr.dataset.search.includes(qPlate);
    }
  }
  filterInput.addEventListener('input', applyFilter);

  const scanner = scanPanel(site, sitesById, () => renderTable().catch((err) => replace(tableBox, errorBox(err, 'The bookings could not be reloaded'))));
  await renderTable();
  // The code field takes the focus once the page is shown: a hand scanner types into it.
  setTimeout(() => {
    if (scanner.panel.isConnected) scanner.focus();
  }, 0);
  return h(
    'div',
    { class: 'gate-page' },
    pageTitle('Gate'),
    h('div', { class: 'toolbar' }, sitePicker(ctx, sites, site, { show })),
    scanner.panel,
    scanner.result,
    h(
      'section',
      { 'aria-labelledby': 'expected-h' },
      h('h2', { id: 'expected-h' }, 'Expected today and tomorrow'),
      h(
        'div',
        { class: 'toolbar' },
        h(
          'nav',
          { class: 'filters', 'aria-label': 'Which bookings' },
          h('a', { href: `#/gate?site=${site.id}&show=open`, 'aria-current': show === 'open' ? 'page' : null }, 'Expected and at the gate'),
          h('a', { href: `#/gate?site=${site.id}&show=all`, 'aria-current': show === 'all' ? 'page' : null }, 'All today and tomorrow'),
        ),
        h('div', { class: 'field inline' }, h('label', { for: 'gate-filter' }, 'Find plate, declaration or enterprise'), filterInput),
      ),
      h('p', { class: 'muted' }, `${longDay(today)} and ${longDay(addDays(today, 1))}, ${site.name}.`),
      tableBox,
    ),
  );
}

// ---- sites and schedules (supervisors) -------------------------------------

const COMMON_ZONES = ['Asia/Urumqi', 'Asia/Shanghai', 'Asia/Almaty', 'Asia/Tashkent', 'Asia/Bishkek', 'Europe/Tallinn', 'Europe/Riga', 'Europe/Warsaw', 'UTC'];

export async function sitesPage(ctx) {
  const sites = await ctx.sites(true);
  const schedules = await Promise.all(sites.map((s) => api.get(`/sites/${s.id}/schedules`).then((r) => r.items).catch(() => [])));
  const result = h('div', { class: 'form-result', 'aria-live': 'polite' });

  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : COMMON_ZONES;
  const f = {
    code: field({ label: 'Code (UN/LOCODE)', name: 'code', required: true, hint: 'e.g. CNKHG', attrs: { maxlength: 5, class: 'short upper' } }),
    name: field({ label: 'Name', name: 'name', required: true, attrs: { maxlength: 200 } }),
    timezone: field({ label: 'Time zone (IANA)', name: 'timezone', required: true, value: 'Asia/Urumqi', hint: 'Cannot change later.', attrs: { list: 'zones' } }),
  };
  const modes = h(
    'fieldset',
    { class: 'field checks', dataset: { for: 'modes' } },
    h('legend', {}, 'Transport modes'),
    ['road', 'rail', 'air'].map((m) => h('label', {}, h('input', { type: 'checkbox', name: 'modes', value: m, checked: m === 'road' }), ` ${m}`)),
    h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
  );
  const siteForm = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'new-site-h' },
    h('h2', { id: 'new-site-h' }, 'New clearance site'),
    h('div', { class: 'grid' }, f.code, f.name, f.timezone, modes),
    h('datalist', { id: 'zones' }, zones.map((z) => h('option', { value: z }))),
    h('div', { class: 'actions left' }, h('button', { type: 'submit', class: 'primary' }, 'Create site')),
  );
  siteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fd = new FormData(siteForm);
    const body = { code: String(fd.get('code')).trim().toUpperCase(), name: String(fd.get('name')).trim(), timezone: String(fd.get('timezone')).trim(), modes: fd.getAll('modes') };
    for (const [k, w] of Object.entries(f)) setMessage(w, 'server', '');
    setMessage(f.code, 'client', /^[A-Z]{2}[A-Z2-9]{3}$/.test(body.code) ? '' : 'Two country letters and three letters or digits 2–9.');
    setMessage(f.name, 'client', body.name ? '' : 'Enter a name.');
    setMessage(modes, 'client', body.modes.length ? '' : 'Choose at least one mode.');
    if (siteForm.querySelector('[aria-invalid=true]') || !body.modes.length) return;
    try {
      await busy(e.submitter, () => api.post('/sites', body));
      announce(`Site ${body.code} created. Add a schedule to open slots.`, 'success');
      ctx.refresh();
    } catch (err) {
      for (const fe of err.fieldErrors) {
        const w = f[fe.field] || (fe.field.startsWith('modes') ? modes : null);
        if (w) setMessage(w, 'server', fe.message);
      }
      replace(result, errorBox(err, 'Site not created'));
    }
  });

  const cards = sites.map((s, i) => {
    const sch = schedules[i];
    const form = h('form', { class: 'inline-form', novalidate: true });
    const modeSel = field({ label: 'Mode', name: 'mode', options: s.modes.map((m) => ({ value: m, label: m })) });
    const minutes = field({ label: 'Slot length (min)', name: 'slot_minutes', value: '60', options: [15, 30, 60, 120, 240].map((m) => ({ value: m, label: String(m) })) });
    const cap = field({ label: 'Capacity per slot', name: 'capacity', type: 'number', value: '10', attrs: { min: 0, max: 10000, class: 'short' } });
    const msg = h('div', { class: 'row-msg', 'aria-live': 'polite' });
    form.append(modeSel, minutes, cap, h('div', { class: 'actions left' }, h('button', { type: 'submit', class: 'secondary' }, 'Add 24/7 schedule')), msg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      replace(msg);
      try {
        const r = await busy(e.submitter, () => api.post(`/sites/${s.id}/schedules`, { mode: fd.get('mode'), slot_minutes: Number(fd.get('slot_minutes')), capacity: Number(fd.get('capacity')) }));
        announce(`Schedule added to ${s.code}: ${r.slots_created} slots opened.`, 'success');
        ctx.refresh();
      } catch (err) {
        replace(msg, errorBox(err, 'Schedule not added'));
      }
    });
    return h(
      'section',
      { class: 'card', 'aria-labelledby': `site-${s.id}` },
      h('h2', { id: `site-${s.id}` }, siteLabel(s)),
      h('p', {}, `${zoneLabel(s.utc_offset, s.timezone)} · modes: ${s.modes.join(', ')}`),
      table({
        caption: `Schedules of ${s.code}`,
        columns: ['Mode', 'Slot length', 'Capacity', 'Days', 'Valid'],
        rows: sch.map((x) => [x.mode, `${x.slot_minutes} min`, String(x.capacity), x.days.join(' '), `${x.valid_from} → ${x.valid_to || 'open-ended'}`]),
        empty: 'No schedule: this site has no slots yet.',
      }),
      form,
    );
  });

  return h('div', {}, pageTitle('Sites and schedules'), result, siteForm, cards);
}

