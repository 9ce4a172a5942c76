// A week of a site's slots as a heat map of free capacity: rows are start
// times in the site's local time, columns are days. Each slot is a button;
// clicking one books it (or moves a booking there).

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, dialog, loading, describe, badge, busy, setMessage, problemSlug, placeToast } from './ui.js';
import { localParts, shortDay, longDay, addDays, todayIn, midnight, slotSpan, slotSpanLong, zoneLabel, currentOffset, inZone } from './time.js';
import { activeBookings, byId, declarationName, truckFields, bookingProblemText, plateText, declIds } from './company.js';
import { holdControl, waitlistControl, waitlistPanel, countdown } from './holds.js';
import { t } from './i18n.js';

// ---- one colour scale for free capacity -------------------------------------
// Shared by the company's heat map and the officers' capacity board: a slot's
// level is the same on both (a full slot is `heat-0` everywhere), and the
// legend says what each colour means.

/** Level 0 (full) … 4 (mostly free) from `free` of `capacity` places; `closed` for a closed or zero slot. */
export function levelOf(free, capacity, status = 'open') {
  if (status !== 'open' || capacity === 0) return 'closed';
  if (free <= 0) return '0';
  const share = free / capacity;
  if (share <= 0.25) return '1';
  if (share <= 0.5) return '2';
  if (share <= 0.75) return '3';
  return '4';
}

/** A slot's level from its own `available` and `capacity`. */
export function heatLevel(slot) {
  return levelOf(slot.available, slot.capacity, slot.status);
}

export const LEVEL_TEXT = {
  4: 'More than 75 % free',
  3: '51–75 % free',
  2: '26–50 % free',
  1: '25 % or less free',
  0: 'Full',
  closed: 'Closed',
  past: 'Started or past',
};

/** The legend of the scale (`extra`: more [level, text] pairs). */
export function legend(levels = ['4', '3', '2', '1', '0', 'closed', 'past'], extra = []) {
  const items = levels.map((l) => [l, LEVEL_TEXT[l]]).concat(extra);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    items.map(([lvl, text]) => h('li', {}, h('span', { class: `swatch heat-${lvl}`, 'aria-hidden': 'true' }), text)),
  );
}

/**
 * A bar of booked places for the board: the filled part is coloured by the
 * slot's level on the scale (so a full slot is the heat map's "full" colour).
 * Decorative: the text beside it says the numbers.
 */
export function usageBar(slot, ended = false) {
  const level = ended ? 'past' : heatLevel(slot);
  const fill = h('span', { class: `usage-fill heat-${level}` });
  const share = slot.capacity ? Math.min(1, Math.max(0, slot.booked / slot.capacity)) : slot.status === 'open' ? 0 : 1;
  // CSSOM (not a style attribute): allowed by the console's CSP.
  fill.style.width = `${Math.round(share * 100)}%`;
  return h('span', { class: 'usage-bar', 'aria-hidden': 'true', dataset: { level } }, fill);
}

/** `Tue 1 Dec 08:00–09:00`, for the tooltip (the caption names the zone). */
function slotTimeShort(s) {
  const a = localParts(s.starts_at_local);
  const b = localParts(s.ends_at_local);
  return `${shortDay(a.date)} ${a.time}–${b.time}`;
}

/** `08:00`, or `Mon 30 Nov 22:00` when not on the slot's own day, in the site's zone. */
function localTimeOf(isoUtc, timezone, slot) {
  const text = inZone(isoUtc, timezone); // `1 Dec 2026 08:00 UTC+06:00 Asia/Urumqi`
  const m = /^(\d+ \w+ \d{4}) (\d{2}:\d{2})/.exec(text);
  if (!m) return text;
  const day = localParts(slot.starts_at_local).date;
  const [d, mon, y] = m[1].split(' ');
  const same = Number(day.slice(8, 10)) === Number(d) && day.slice(0, 4) === y;
  return same ? m[2] : `${d} ${mon} ${m[2]}`;
}

function minutesText(n) {
  if (n >= 120 && n % 60 === 0) return `${n} minutes (${n / 60} hours)`;
  return `${n} minute${n === 1 ? '' : 's'}`;
}

/**
 * Why the caller cannot book a slot, in plain words, from the server's
 * `reason` and the site's effective `policy` (when the server shows it).
 */
export function reasonText(reason, slot, { policy, advanced, timezone }) {
  const p = policy || {};
  switch (reason) {
    case 'notice': {
      const n = advanced ? p.min_notice_minutes_advanced : p.min_notice_minutes;
      return Number.isFinite(n) ? `bookings close ${minutesText(n)} before the start` : 'too close to the start: bookings close shortly before it (minimum notice)';
    }
    case 'horizon':
      return Number.isFinite(p.horizon_days)
        ? `too far ahead: bookings open ${p.horizon_days} day${p.horizon_days === 1 ? '' : 's'} before the start`
        : 'too far ahead: not open for booking yet';
    case 'full':
      return 'no free place left';
    case 'share': {
      const pct = p.max_share_percent;
      if (!Number.isFinite(pct)) return 'your company already holds the largest share of this slot it may';
      const most = Math.max(1, Math.floor((slot.capacity * pct) / 100));
      return `your company already holds ${most} place${most === 1 ? '' : 's'}, the most one company may hold here (${pct} % of the places)`;
    }
    case 'reserved': {
      const until = releaseAt(slot);
      return until
        ? `the free places are reserved for advanced-certified enterprises until ${localTimeOf(until.toISOString(), timezone, slot)}`
        : 'the free places are reserved for advanced-certified enterprises';
    }
    case 'closed':
      return 'closed by customs';
    case 'started':
      return 'already started';
    default:
      return reason ? `not bookable (${reason})` : 'not bookable';
  }
}

/** When the reserved places of a slot are released to everyone, or null. */
function releaseAt(slot) {
  if (slot.reserved_until) return new Date(slot.reserved_until);
  if (!(slot.reserved_advanced > 0) || !Number.isFinite(slot.release_minutes)) return null;
  return new Date(new Date(slot.starts_at).getTime() - slot.release_minutes * 60000);
}

/**
 * How a slot is shown to a company: its level on the colour scale, its text,
 * its label and, when it cannot be booked, why. `bookable`/`reason` come from
 * the server; without them (an older server) the console judges by status,
 * start and free places as before. The server's `available` is already what
 * the caller may take (a general company's count leaves out the places still
 * reserved, `reserved_available`, for advanced-certified enterprises).
 */
export function slotView(s, { now, policy, advanced, timezone }) {
  const release = releaseAt(s);
  const held = Number.isFinite(s.reserved_available)
    ? s.reserved_available
    : release && now < release
      ? Math.min(s.reserved_advanced, s.available)
      : 0;
  const reservedNow = held > 0 && Boolean(release);
  const until = reservedNow ? localTimeOf(release.toISOString(), timezone, s) : '';
  // Places this company may take (an older server counted the reserved ones for everyone).
  const freeForYou = Number.isFinite(s.reserved_available) || advanced ? s.available : Math.max(0, s.available - held);
  const reservedNote = reservedNow
    ? advanced
      ? `; ${held} of them reserved for advanced-certified enterprises like yours until ${until}`
      : `; ${held} more reserved for advanced-certified enterprises until ${until}`
    : '';
  const freeLabel = `${freeForYou} of ${s.capacity} places free${reservedNow && !advanced ? ' for you' : ''}${reservedNote}`;
  const started = new Date(s.starts_at) <= now;
  let reason = null;
  if (typeof s.bookable === 'boolean') {
    if (!s.bookable) reason = s.reason || 'unknown';
  } else if (started) {
    reason = 'started';
  } else if (s.status !== 'open') {
    reason = 'closed';
  } else if (s.available <= 0) {
    reason = 'full';
  }
  if (!reason) {
    return { level: levelOf(freeForYou, s.capacity, s.status), text: String(freeForYou), showCap: true, label: freeLabel, unavailable: false, reason: null, reserved: reservedNow };
  }
  const why = reasonText(reason, s, { policy, advanced, timezone });
  const refusal = `This slot cannot be booked: ${why}.`;
  if (reason === 'started') return { level: 'past', text: '–', showCap: false, label: 'started or past', unavailable: true, reason, refusal };
  if (reason === 'closed') return { level: 'closed', text: 'closed', showCap: false, label: 'closed by customs', unavailable: true, reason, refusal };
  if (reason === 'full') return { level: '0', text: '0', showCap: true, label: `0 of ${s.capacity} places free`, unavailable: true, reason, refusal, reserved: reservedNow };
  return {
    level: 'blocked',
    text: String(freeForYou),
    showCap: true,
    // The reserve already says why (and until when): not twice.
    label: reason === 'reserved' && reservedNow ? `${freeLabel}; not bookable for you` : `${freeLabel}; not bookable for you: ${why}`,
    unavailable: true,
    reason,
    refusal,
    reserved: reservedNow,
  };
}

/**
 * The heat map table. `onPick(slot, button)` runs when a slot is chosen.
 * Arrow keys move between cells (one tab stop for the whole grid).
 */
export function heatmap({ slots, days, timezone, now, onPick, highlight, policy = null, advanced = false, onFull = null }) {
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
      const v = slotView(s, { now, policy, advanced, timezone });
      const label = `${slotSpanLong(s)}: ${v.label}`;
      const btn = h(
        'button',
        {
          type: 'button',
          class: `cell heat-${v.level}${v.reserved ? ' reserved' : ''}${highlight === s.id ? ' current' : ''}`,
          'aria-label': highlight === s.id ? `${label}; your booking is here` : label,
          'aria-disabled': v.unavailable ? 'true' : null,
          tabindex: '-1',
          dataset: { slot: s.id, row: String(r), col: String(c), free: String(s.available), start: s.starts_at_local, tip: `${slotTimeShort(s)}: ${v.label}`, ...(v.reason ? { reason: v.reason } : {}) },
          onclick: () => {
            if (!v.unavailable) onPick(s, btn);
            else {
              showTip(btn, true);
              announce(v.refusal, 'warning');
              // A full slot may still be waited for.
              if (onFull && s.status === 'open' && s.reason === 'full') onFull(s, btn);
            }
          },
        },
        h('span', { class: 'free' }, v.text),
        v.showCap ? h('span', { class: 'cap' }, `/${s.capacity}`) : null,
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
    showTip(btn);
  });
  table.addEventListener('focusout', () => hideTip());
  table.addEventListener('mouseover', (e) => {
    const btn = e.target.closest('button.cell');
    if (btn) showTip(btn);
  });
  table.addEventListener('mouseleave', () => {
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('button.cell');
    if (focused && table.contains(focused)) showTip(focused);
    else hideTip();
  });
  if (!rows.length) {
    return h('p', { class: 'empty' }, 'No slots in this week for this site and transport mode.');
  }
  // What a cell means (and why it cannot be booked), shown beside it on hover and focus;
  // hidden from assistive technology, which reads the same words in the cell's label.
  const tip = h('div', { class: 'cell-tip', 'aria-hidden': 'true', hidden: true });
  const wrap = h('div', { class: 'heatmap-wrap', role: 'region', 'aria-label': 'Slot heat map', tabindex: '-1', 'data-toast-avoid': '' }, table, tip);
  function showTip(btn, warn = false) {
    tip.textContent = btn.dataset.tip || '';
    tip.classList.toggle('warn', warn || btn.hasAttribute('aria-disabled'));
    tip.hidden = false;
    const w = wrap.getBoundingClientRect();
    const b = btn.getBoundingClientRect();
    const left = Math.max(0, Math.min(b.left - w.left, w.width - tip.offsetWidth - 2));
    // CSSOM, not a style attribute: allowed by the console's CSP.
    tip.style.left = `${left}px`;
    tip.style.top = `${b.bottom - w.top + 4}px`;
  }
  function hideTip() {
    tip.hidden = true;
  }
  return wrap;
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
  const advanced = Boolean(ctx.enterprise && ctx.enterprise.credit_class === 'advanced_certified');

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
  const waitBox = h('div', { class: 'waitlist-join-box' });

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
        heatmap({ slots, days, timezone: site.timezone, now: new Date(), onPick: pick, highlight: rescheduling && rescheduling.slot_id, policy: site.policy || null, advanced, onFull: rescheduling ? null : full }),
        legend(['4', '3', '2', '1', '0', 'closed', 'past'], [
          ...(slots.some((x) => x.bookable === false && !['full', 'closed', 'started'].includes(x.reason)) ? [['blocked', 'Not bookable for you (hover or focus it to see why)']] : []),
          ...(slots.some((x) => x.reserved_advanced > 0) ? [['reserved-key', `Corner mark: places reserved for advanced-certified enterprises${advanced ? ' (yours)' : ''}`]] : []),
        ]),
      );
      placeToast();
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

  /** A full slot: join its waitlist with the chosen declaration. */
  function full(slot) {
    replace(outcome);
    const d = chosenDecl();
    if (!d) return;
    // Below the map: nothing above it moves while the cell's tip is shown.
    replace(waitBox, waitlistControl({ ...slot, timezone: sitesById[state.siteId]?.timezone }, d, () => waiting.refresh()));
  }

  /** An offer from the waitlist: book its held place. */
  function bookOffer(hold, entry) {
    const site = sitesById[hold.site_id];
    const d = declsById[entry.declaration_id];
    if (!site || !d) return;
    state.siteId = hold.site_id;
    truckForm({ id: hold.slot_id, site_id: hold.site_id, mode: hold.mode, starts_at: hold.starts_at, ends_at: hold.ends_at, timezone: site.timezone, available: 0, capacity: '—' }, null, d, hold);
  }
  const waiting = waitlistPanel(bookOffer);

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
  function truckForm(slot, button, d, offered = null) {
    const site = sitesById[state.siteId];
    // The hold the booking turns into: an offer from the waitlist, or one taken here.
    let hold = offered;
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
    const other = h('button', { type: 'button', class: 'secondary', onclick: () => { replace(formBox); button?.focus(); } }, 'Choose another slot');
    const holding = offered
      ? h('div', { class: 'alert info hold-banner', role: 'status' }, h('p', { class: 'alert-title' }, t('waitlist.offered')), h('p', {}, countdown(offered.expires_at)), h('p', { class: 'hint' }, t('holds.hint')))
      : holdControl(slot, (x) => { hold = x; });
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
      holding,
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
      if (hold) body.hold_id = hold.id;
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
        waiting.refresh();
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
    h('div', { class: 'week-nav' }, prev, thisWeek, next, weekLabel, h('div', { class: 'toast-host', 'data-toast-host': '' })),
    outcome,
    formBox,
    rescheduling ? null : waiting,
    mapBox,
    waitBox,
  );
}
