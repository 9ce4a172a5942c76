// A week of a site's slots as a heat map of free capacity: rows are start
// times in the site's local time, columns are days. Each slot is a button;
// clicking one books it (or moves a booking there).

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, dialog, loading, describe, badge, busy, setMessage, problemSlug } from './ui.js';
import { localParts, shortDay, longDay, addDays, todayIn, midnight, slotSpan, slotSpanLong, zoneLabel, currentOffset } from './time.js';
import { activeBookings, byId, declarationName, truckFields, bookingProblemText, plateText, declIds } from './company.js';

/** Heat level 0 (full) … 4 (mostly free), from the free share of capacity. */
export function heatLevel(slot) {
  if (slot.status !== 'open' || slot.capacity === 0) return 'closed';
  const free = slot.available;
  if (free <= 0) return '0';
  const share = free / slot.capacity;
  if (share <= 0.25) return '1';
  if (share <= 0.5) return '2';
  if (share <= 0.75) return '3';
  return '4';
}

function legend() {
  const items = [
    ['4', 'More than 75 % free'],
    ['3', '51–75 % free'],
    ['2', '26–50 % free'],
    ['1', '25 % or less free'],
    ['0', 'Full'],
    ['closed', 'Closed'],
    ['past', 'Started or past'],
  ];
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    items.map(([lvl, text]) => h('li', {}, h('span', { class: `swatch heat-${lvl}`, 'aria-hidden': 'true' }), text)),
  );
}

/**
 * The heat map table. `onPick(slot, button)` runs when a slot is chosen.
 * Arrow keys move between cells (one tab stop for the whole grid).
 */
export function heatmap({ slots, days, timezone, now, onPick, highlight }) {
  const byCell = new Map();
  const times = new Set();
  for (const s of slots) {
    const p = localParts(s.starts_at_local);
    times.add(p.time);
    byCell.set(`${p.date} ${p.time}`, s);
  }
  const rows = [...times].sort();
  const offset = slots.length ? localParts(slots[0].starts_at_local).offset : currentOffset(timezone);
  const buttons = [];
  const grid = [];
  const table = h(
    'table',
    { class: 'heatmap' },
    h(
      'caption',
      {},
      `Free places per slot, ${shortDay(days[0])} to ${shortDay(days[days.length - 1])}; times in ${zoneLabel(offset, timezone)}. `,
      h('span', { class: 'hint' }, 'Use the arrow keys to move between slots and Enter to choose one.'),
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', class: 'corner' }, h('span', { class: 'tz' }, `UTC${offset}`), ' ', h('span', { class: 'tz' }, timezone)),
        days.map((d) => {
          const [dow, ...rest] = shortDay(d).split(' ');
          return h('th', { scope: 'col', abbr: longDay(d) }, h('span', { class: 'dow' }, dow), ' ', h('span', { class: 'dom' }, rest.join(' ')));
        }),
      ),
    ),
  );
  const tbody = h('tbody');
  rows.forEach((time, r) => {
    const tr = h('tr', {}, h('th', { scope: 'row' }, time));
    grid[r] = [];
    days.forEach((day, c) => {
      const s = byCell.get(`${day} ${time}`);
      if (!s) {
        tr.append(h('td', { class: 'noslot' }, h('span', { class: 'visually-hidden' }, 'no slot'), h('span', { 'aria-hidden': 'true' }, '·')));
        grid[r][c] = null;
        return;
      }
      const past = new Date(s.starts_at) <= now;
      const level = past ? 'past' : heatLevel(s);
      const label = past
        ? `${slotSpanLong(s)}: started or past`
        : s.status !== 'open'
          ? `${slotSpanLong(s)}: closed`
          : `${slotSpanLong(s)}: ${s.available} of ${s.capacity} places free`;
      const unavailable = past || s.status !== 'open' || s.available <= 0;
      const text = past ? '–' : s.status !== 'open' ? 'closed' : String(s.available);
      const btn = h(
        'button',
        {
          type: 'button',
          class: `cell heat-${level}${highlight === s.id ? ' current' : ''}`,
          'aria-label': highlight === s.id ? `${label}; your booking is here` : label,
          'aria-disabled': unavailable ? 'true' : null,
          tabindex: '-1',
          dataset: { slot: s.id, row: String(r), col: String(c), free: String(s.available), start: s.starts_at_local },
          onclick: () => {
            if (!unavailable) onPick(s, btn);
            else announce(past ? 'That slot has already started.' : s.status !== 'open' ? 'That slot is closed.' : 'That slot is full.', 'warning');
          },
        },
        h('span', { class: 'free' }, text),
        !past && s.status === 'open' ? h('span', { class: 'cap' }, `/${s.capacity}`) : null,
      );
      buttons.push(btn);
      grid[r][c] = btn;
      tr.append(h('td', {}, btn));
    });
    tbody.append(tr);
  });
  table.append(tbody);
  // One tab stop: the first bookable cell (or the first cell).
  const first = buttons.find((b) => !b.hasAttribute('aria-disabled')) || buttons[0];
  if (first) first.tabIndex = 0;
  table.addEventListener('keydown', (e) => {
    const btn = e.target.closest('button.cell');
    if (!btn) return;
    let r = Number(btn.dataset.row);
    let c = Number(btn.dataset.col);
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    let target = null;
    if (moves[e.key]) {
      const [dr, dc] = moves[e.key];
      for (;;) {
        r += dr;
        c += dc;
        if (r < 0 || r >= grid.length || c < 0 || c >= days.length) break;
        if (grid[r][c]) {
          target = grid[r][c];
          break;
        }
      }
    } else if (e.key === 'Home') {
      target = grid[r].find(Boolean);
    } else if (e.key === 'End') {
      target = [...grid[r]].reverse().find(Boolean);
    } else {
      return;
    }
    e.preventDefault();
    if (target) {
      btn.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  });
  table.addEventListener('focusin', (e) => {
    const btn = e.target.closest('button.cell');
    if (!btn) return;
    for (const b of buttons) b.tabIndex = b === btn ? 0 : -1;
  });
  if (!rows.length) {
    return h('p', { class: 'empty' }, 'No slots in this week for this site and transport mode.');
  }
  return h('div', { class: 'heatmap-wrap', role: 'region', 'aria-label': 'Slot heat map', tabindex: '-1' }, table);
}

/** Every slot of a site and mode in [from, to). */
export async function weekSlots(siteId, mode, from, to) {
  return api.all('/slots', { site_id: siteId, mode, from, to });
}

/** Company: pick a declaration, browse a site's week, book or move a booking. */
export async function heatmapPage(ctx) {
  const [sites, decls, bookings] = await Promise.all([ctx.sites(), api.all('/declarations'), api.all('/bookings')]);
  const sitesById = byId(sites);
  const activeByDecl = activeBookings(bookings);
  const rescheduling = ctx.query.reschedule ? bookings.find((b) => b.id === ctx.query.reschedule) : null;
  const bookable = decls.filter((d) => d.bookable && !activeByDecl[d.id]);
  const verified = ctx.enterprise && ctx.enterprise.status === 'verified';

  const state = {
    declarationId: rescheduling ? rescheduling.declaration_id : ctx.query.declaration || (bookable[0] && bookable[0].id) || '',
    siteId: rescheduling ? rescheduling.site_id : ctx.query.site || sessionStorage.getItem('clearway.site') || (sites[0] && sites[0].id) || '',
    mode: rescheduling ? rescheduling.mode : ctx.query.mode || '',
    week: ctx.query.week || '',
  };
  const chosenDecl = () => decls.find((d) => d.id === state.declarationId);
  if (!rescheduling && chosenDecl()) {
    state.siteId = chosenDecl().site_id;
    state.mode = chosenDecl().transport_mode;
  }
  if (!sitesById[state.siteId] && sites[0]) state.siteId = sites[0].id;

  const declsById = byId(decls);
  const mapBox = h('div', { class: 'map-box' });
  const outcome = h('div', { class: 'form-result', 'aria-live': 'polite' });
  const formBox = h('div', { class: 'truck-form-box' });

  // ---- controls ----
  const declSelect = h(
    'select',
    { id: 'declaration-select', name: 'declaration', disabled: Boolean(rescheduling) },
    h('option', { value: '' }, bookable.length ? 'Choose a declaration…' : 'No declaration ready to book'),
    (rescheduling ? decls.filter((d) => d.id === rescheduling.declaration_id) : bookable).map((d) => {
      const s = sitesById[d.site_id];
      return h('option', { value: d.id, selected: d.id === state.declarationId }, `${declarationName(d)} — ${d.kind}, ${s ? s.code : '?'} ${d.transport_mode}, ${d.consignee}`);
    }),
  );
  const siteSelect = h(
    'select',
    { id: 'site-select', name: 'site' },
    sites.map((s) => h('option', { value: s.id, selected: s.id === state.siteId }, `${s.code} · ${s.name}`)),
  );
  const modeSelect = h('select', { id: 'mode-select', name: 'mode' });
  const fillModes = () => {
    const site = sitesById[state.siteId];
    const modes = site ? site.modes : [];
    if (!modes.includes(state.mode)) state.mode = modes[0] || '';
    replace(modeSelect, modes.map((m) => h('option', { value: m, selected: m === state.mode }, m)));
  };
  fillModes();

  declSelect.addEventListener('change', () => {
    state.declarationId = declSelect.value;
    replace(formBox);
    const d = chosenDecl();
    if (d) {
      state.siteId = d.site_id;
      state.mode = d.transport_mode;
      siteSelect.value = d.site_id;
      fillModes();
    }
    describeChoice();
    load();
  });
  siteSelect.addEventListener('change', () => {
    state.siteId = siteSelect.value;
    sessionStorage.setItem('clearway.site', state.siteId);
    fillModes();
    describeChoice();
    load();
  });
  modeSelect.addEventListener('change', () => {
    state.mode = modeSelect.value;
    describeChoice();
    load();
  });

  const choiceNote = h('p', { class: 'note', id: 'choice-note' });
  function describeChoice() {
    const d = chosenDecl();
    if (rescheduling) {
      replace(choiceNote);
      return;
    }
    if (!d) {
      replace(choiceNote, 'Browse free capacity below; to book, choose a submitted declaration first.');
    } else if (d.site_id !== state.siteId || d.transport_mode !== state.mode) {
      replace(choiceNote, h('strong', {}, 'Note: '), `declaration ${declarationName(d)} is for ${sitesById[d.site_id]?.code || 'another site'} by ${d.transport_mode}; its slot must be at that site and mode.`);
    } else {
      replace(choiceNote, `Booking for ${declarationName(d)}: pick a slot in the heat map, then tell us about the truck.`);
    }
  }
  describeChoice();

  const weekLabel = h('p', { class: 'week-label', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary small', onclick: () => shiftWeek(-7) }, '← Previous week');
  const thisWeek = h('button', { type: 'button', class: 'secondary small', onclick: () => { state.week = ''; load(); } }, 'This week');
  const next = h('button', { type: 'button', class: 'secondary small', onclick: () => shiftWeek(7) }, 'Next week →');

  function shiftWeek(n) {
    const site = sitesById[state.siteId];
    const start = state.week || todayIn(site.timezone);
    state.week = addDays(start, n);
    load();
  }

  async function load() {
    const site = sitesById[state.siteId];
    if (!site || !state.mode) {
      replace(mapBox, h('p', { class: 'empty' }, sites.length ? 'Choose a site and a transport mode.' : 'No clearance sites have been set up yet.'));
      return;
    }
    const today = todayIn(site.timezone);
    if (!state.week || state.week < today) state.week = today;
    prev.disabled = state.week <= today;
    const days = Array.from({ length: 7 }, (_, i) => addDays(state.week, i));
    replace(weekLabel, `${longDay(days[0])} – ${longDay(days[6])}, ${site.code} (${zoneLabel(currentOffset(site.timezone), site.timezone)})`);
    replace(mapBox, loading('Loading slots…'));
    try {
      const slots = await weekSlots(site.id, state.mode, midnight(site.timezone, days[0]), midnight(site.timezone, addDays(days[6], 1)));
      replace(
        mapBox,
        heatmap({ slots, days, timezone: site.timezone, now: new Date(), onPick: pick, highlight: rescheduling && rescheduling.slot_id }),
        legend(),
      );
    } catch (err) {
      replace(mapBox, errorBox(err, 'Slots could not be loaded'));
    }
  }

  async function pick(slot, button) {
    replace(outcome);
    const d = chosenDecl();
    if (!rescheduling && !d) {
      announce('Choose the declaration to book for first.', 'warning');
      replace(outcome, h('div', { class: 'alert warning', role: 'alert' }, h('p', {}, 'Choose the declaration to book for first (the select above the heat map).')));
      declSelect.focus();
      return;
    }
    if (rescheduling) {
      await move(slot, button);
      return;
    }
    truckForm(slot, button, d);
  }

  /** Rescheduling: confirm, then move the booking (its truck and declarations stay). */
  async function move(slot, button) {
    const site = sitesById[state.siteId];
    if (slot.id === rescheduling.slot_id) {
      announce('Your booking is already on that slot.', 'warning');
      return;
    }
    const facts = h(
      'dl',
      { class: 'facts compact' },
      h('dt', {}, 'Slot'),
      h('dd', {}, slotSpan(slot)),
      h('dt', {}, 'Site'),
      h('dd', {}, `${site.code} · ${site.name}, ${slot.mode}`),
      h('dt', {}, 'Free places'),
      h('dd', {}, `${slot.available} of ${slot.capacity}`),
      h('dt', {}, 'Currently'),
      h('dd', {}, slotSpan({ ...rescheduling, timezone: site.timezone })),
      rescheduling.vehicle ? [h('dt', {}, 'Vehicle'), h('dd', {}, plateText(rescheduling.vehicle))] : null,
    );
    const ok = await dialog({
      title: 'Move the booking to this slot?',
      body: [facts, h('p', { class: 'hint' }, 'Moving the booking issues a new gate pass version: print the pass again.')],
      confirm: 'Move booking',
    });
    if (!ok) {
      button.focus();
      return;
    }
    try {
      const booking = await api.post(`/bookings/${rescheduling.id}/reschedule`, { slot_id: slot.id });
      const when = slotSpan({ ...booking, timezone: site.timezone });
      announce(`Booking moved to ${when}.`, 'success');
      replace(
        outcome,
        h(
          'div',
          { class: 'alert success', role: 'status' },
          h('p', { class: 'alert-title' }, 'Booking moved'),
          h('p', {}, badge(booking.status), ` ${when}.`, booking.gate_pass ? ` New gate pass: version ${booking.gate_pass.version}.` : ''),
          h('p', {}, h('a', { href: `#/bookings/${booking.id}` }, 'Print the new gate pass'), ' · ', h('a', { href: '#/bookings' }, 'See your bookings')),
        ),
      );
      Object.assign(rescheduling, booking);
      await load();
      outcome.querySelector('.alert')?.setAttribute('tabindex', '-1');
      outcome.querySelector('.alert')?.focus();
    } catch (err) {
      announce(`Not moved: ${describe(err)}`, 'error');
      const plain = bookingProblemText(err, declsById);
      replace(outcome, plain ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, 'The booking was not moved'), h('p', {}, plain)) : errorBox(err, 'The booking was not moved'));
      await load();
    }
  }

  /**
   * A new booking: after the slot, the truck. The declarations it carries
   * (the chosen one and any other of the same site and mode without a booking),
   * the vehicle, the driver and the containers.
   */
  function truckForm(slot, button, d) {
    const site = sitesById[state.siteId];
    const candidates = decls.filter(
      (x) => x.bookable && !activeByDecl[x.id] && x.site_id === slot.site_id && x.transport_mode === slot.mode,
    );
    if (!candidates.some((x) => x.id === d.id)) candidates.unshift(d);
    candidates.sort((a, b) => (a.id === d.id ? -1 : b.id === d.id ? 1 : 0));
    const declSet = h(
      'fieldset',
      { class: 'field checks decl-checks', dataset: { for: 'declaration_ids' } },
      h('legend', {}, 'Declarations on this truck'),
      h('p', { class: 'hint', id: 'decl-checks-hint' }, candidates.length > 1
        ? `Tick every declaration whose goods travel on this truck. Listed: your declarations for ${site.code} by ${slot.mode} that have no booking yet. One place is taken whatever their number.`
        : `Only ${declarationName(d)} is ready to book for ${site.code} by ${slot.mode}; other declarations of the same site and mode would be listed here.`),
      h(
        'ul',
        { class: 'plain decl-list' },
        candidates.map((x) =>
          h(
            'li',
            {},
            h(
              'label',
              {},
              h('input', { type: 'checkbox', name: 'declaration_ids', value: x.id, checked: x.id === d.id, 'aria-describedby': 'decl-checks-hint' }),
              ' ',
              h('span', { class: 'mono' }, declarationName(x)),
              h('span', { class: 'muted' }, ` — ${x.kind}, ${x.consignee}`),
              ' ',
              badge(x.status),
            ),
          ),
        ),
      ),
      h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
    );
    const truck = truckFields();
    const result = h('div', { class: 'form-result', 'aria-live': 'polite' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Book slot');
    const other = h('button', { type: 'button', class: 'secondary', onclick: () => { replace(formBox); button.focus(); } }, 'Choose another slot');
    const form = h(
      'form',
      { class: 'card truck-form', novalidate: true, 'aria-labelledby': 'truck-form-h' },
      h('h2', { id: 'truck-form-h', tabindex: '-1' }, 'The truck for this slot'),
      h(
        'dl',
        { class: 'facts compact slot-facts' },
        h('dt', {}, 'Slot'),
        h('dd', {}, slotSpan(slot)),
        h('dt', {}, 'Site'),
        h('dd', {}, `${site.code} · ${site.name}, ${slot.mode}`),
        h('dt', {}, 'Free places'),
        h('dd', {}, `${slot.available} of ${slot.capacity}`),
      ),
      declSet,
      truck.el,
      result,
      h('div', { class: 'actions left' }, submit, other),
    );
    let lastKey = null;
    let lastBody = null;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      replace(result);
      setMessage(declSet, 'server', '');
      const ids = [...form.querySelectorAll('input[name=declaration_ids]:checked')].map((i) => i.value);
      setMessage(declSet, 'client', ids.length ? (ids.length > 20 ? 'At most 20 declarations on one truck.' : '') : 'Tick at least one declaration.');
      const members = truck.read();
      if (!members || !ids.length || ids.length > 20) {
        replace(result, h('div', { class: 'alert error', role: 'alert' }, h('p', {}, 'Please correct the fields marked above.')));
        (form.querySelector('[aria-invalid=true]') || declSet.querySelector('input'))?.focus();
        return;
      }
      const body = { declaration_ids: ids, slot_id: slot.id, containers: members.containers };
      if (members.vehicle) body.vehicle = members.vehicle;
      if (members.driver) body.driver = members.driver;
      // The same request again (a retry) keeps its key; a changed one gets a new key.
      const text = JSON.stringify(body);
      if (text !== lastBody) {
        lastBody = text;
        lastKey = api.idempotencyKey();
      }
      try {
        const booking = await busy(submit, () => api.post('/bookings', body, { 'Idempotency-Key': lastKey }));
        booked(booking, site);
      } catch (err) {
        announce(`Not booked: ${describe(err)}`, 'error');
        const rest = truck.showServerErrors(err.fieldErrors).filter((fe) => {
          if (!/^declaration_ids?/.test(fe.field)) return true;
          setMessage(declSet, 'server', fe.message);
          return false;
        });
        const slug = problemSlug(err);
        if (slug === 'vehicle-already-booked') setMessage(truck.wrapFor('vehicle.plate'), 'server', 'This vehicle is already booked at an overlapping time.');
        if (slug === 'already-booked' || slug === 'wrong-site-or-mode') setMessage(declSet, 'server', err.problem.detail || err.message);
        const plain = bookingProblemText(err, declsById);
        replace(
          result,
          plain
            ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, 'The slot was not booked'), h('p', {}, plain))
            : errorBox({ ...err, fieldErrors: rest }, 'The slot was not booked'),
        );
        (form.querySelector('[aria-invalid=true]') || result.querySelector('.alert'))?.focus?.();
        if (!err.fieldErrors.length) await load();
      }
    });
    replace(formBox, form);
    form.scrollIntoView({ block: 'start' });
    form.querySelector('h2').focus({ preventScroll: true });
  }

  function booked(booking, site) {
    const when = slotSpan({ ...booking, timezone: site.timezone });
    const names = declIds(booking).map((id) => (declsById[id] ? declarationName(declsById[id]) : id));
    announce(`Booked ${when}.`, 'success');
    replace(formBox);
    replace(
      outcome,
      h(
        'div',
        { class: 'alert success', role: 'status' },
        h('p', { class: 'alert-title' }, 'Slot booked'),
        h('p', {}, `${names.join(', ')}: `, badge(booking.status), ` ${when}`, booking.vehicle ? `, truck ${plateText(booking.vehicle)}` : '', '.'),
        h('p', {}, h('a', { href: `#/bookings/${booking.id}` }, 'Open the gate pass'), ' · ', h('a', { href: '#/bookings' }, 'See your bookings')),
      ),
    );
    for (const id of declIds(booking)) {
      activeByDecl[id] = booking;
      const opt = [...declSelect.options].find((o) => o.value === id);
      if (opt) opt.remove();
    }
    state.declarationId = '';
    declSelect.value = '';
    describeChoice();
    load().then(() => {
      outcome.querySelector('.alert')?.setAttribute('tabindex', '-1');
      outcome.querySelector('.alert')?.focus();
    });
  }

  const controls = h(
    'div',
    { class: 'controls' },
    h('div', { class: 'field' }, h('label', { for: 'declaration-select' }, rescheduling ? 'Declaration being rescheduled' : 'Declaration to book for'), declSelect),
    h('div', { class: 'field' }, h('label', { for: 'site-select' }, 'Clearance site'), siteSelect),
    h('div', { class: 'field' }, h('label', { for: 'mode-select' }, 'Transport mode'), modeSelect),
  );

  load();
  return h(
    'div',
    { class: 'book-page' },
    pageTitle(rescheduling ? 'Reschedule a booking' : 'Book a clearance slot'),
    !verified ? h('div', { class: 'alert warning', role: 'status' }, h('p', {}, 'Only a verified enterprise can book. You can still look at free capacity.')) : null,
    rescheduling
      ? h('div', { class: 'alert info', role: 'status' }, h('p', {}, `Moving the booking of ${sitesById[rescheduling.site_id]?.code || ''} now at ${slotSpan({ ...rescheduling, timezone: sitesById[rescheduling.site_id]?.timezone })}. Pick the new slot; the old one is freed only if the new one is taken.`))
      : null,
    controls,
    choiceNote,
    h('div', { class: 'week-nav' }, prev, thisWeek, next, weekLabel),
    outcome,
    formBox,
    mapBox,
  );
}
