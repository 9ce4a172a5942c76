// A week of a site's slots as a heat map of free capacity: rows are start
// times in the site's local time, columns are days. Each slot is a button;
// clicking one books it (or moves a booking there).

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, dialog, loading, describe, badge, busy, setMessage, problemSlug, placeToast } from './ui.js';
import { localParts, shortDay, longDay, addDays, todayIn, midnight, slotSpan, slotSpanLong, zoneLabel, zoneName, currentOffset, timeParts } from './time.js';
import { t, formatNumber } from './i18n.js';
import { activeBookings, byId, declarationName, truckFields, bookingProblemText, plateText, declIds } from './company.js';
import { holdControl, waitlistControl, waitlistPanel, countdown } from './holds.js';

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

/** What a level of the scale means, in the console's language. */
export function levelText(level) {
  return t(`heat.level.${level}`);
}

/** The legend of the scale (`extra`: more [level, text] pairs). */
export function legend(levels = ['4', '3', '2', '1', '0', 'closed', 'past'], extra = []) {
  const items = levels.map((l) => [l, levelText(l)]).concat(extra);
  return h(
    'ul',
    { class: 'legend', 'aria-label': t('heat.legend') },
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
  const share = slot.capacity ? Math.min(1, Math.max(0, (slot.booked + (slot.held || 0)) / slot.capacity)) : slot.status === 'open' ? 0 : 1;
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
  const p = timeParts(isoUtc, timezone);
  const day = localParts(slot.starts_at_local).date;
  return p.date === day ? p.time : `${shortDay(p.date)} ${p.time}`;
}

function minutesText(n) {
  if (n >= 120 && n % 60 === 0) return t('heat.minutes_hours', { n, hours: n / 60 });
  return t('heat.minutes', { n });
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
      return Number.isFinite(n) ? t('heat.why.notice', { time: minutesText(n) }) : t('heat.why.notice_unknown');
    }
    case 'horizon':
      return Number.isFinite(p.horizon_days)
        ? t('heat.why.horizon', { days: p.horizon_days })
        : t('heat.why.horizon_unknown');
    case 'full':
      return t('heat.why.full');
    case 'share': {
      const pct = p.max_share_percent;
      if (!Number.isFinite(pct)) return t('heat.why.share_unknown');
      const most = Math.max(1, Math.floor((slot.capacity * pct) / 100));
      return t('heat.why.share', { most, pct });
    }
    case 'reserved': {
      const until = releaseAt(slot);
      return until
        ? t('heat.why.reserved_until', { time: localTimeOf(until.toISOString(), timezone, slot) })
        : t('heat.why.reserved');
    }
    case 'closed':
      return t('heat.why.closed');
    case 'started':
      return t('heat.why.started');
    default:
      return reason ? t('heat.why.other', { reason }) : t('heat.why.none');
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
      ? t('heat.reserved_yours', { held, until })
      : t('heat.reserved_more', { held, until })
    : '';
  const freeLabel = t(reservedNow && !advanced ? 'heat.free_for_you' : 'heat.free', { free: freeForYou, capacity: s.capacity }) + reservedNote;
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
  const refusal = t('heat.refusal', { why });
  if (reason === 'started') return { level: 'past', text: '–', showCap: false, label: t('heat.label_past'), unavailable: true, reason, refusal };
  if (reason === 'closed') return { level: 'closed', text: t('heat.cell_closed'), showCap: false, label: t('heat.why.closed'), unavailable: true, reason, refusal };
  if (reason === 'full') return { level: '0', text: '0', showCap: true, label: t('heat.free', { free: 0, capacity: s.capacity }), unavailable: true, reason, refusal, reserved: reservedNow };
  return {
    level: 'blocked',
    text: String(freeForYou),
    showCap: true,
    // The reserve already says why (and until when): not twice.
    label: reason === 'reserved' && reservedNow ? t('heat.not_for_you', { label: freeLabel }) : t('heat.not_for_you_why', { label: freeLabel, why }),
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
  // The site's display zones (the same for every slot of a site): each row says its time there too.
  const alsoZones = ((slots[0] && slots[0].display_times) || []).map((d) => d.timezone);
  const table = h(
    'table',
    { class: 'heatmap' },
    h(
      'caption',
      {},
      t('heat.caption', { from: shortDay(days[0]), to: shortDay(days[days.length - 1]), zone: zoneLabel(offset, timezone) }),
      alsoZones.length ? ` ${t('heat.caption_also', { zones: alsoZones.map(zoneName).join(', ') })}` : '',
      ' ',
      h('span', { class: 'hint' }, t('heat.caption_hint')),
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', class: 'corner' }, h('span', { class: 'tz' }, `UTC${offset}`), ' ', h('span', { class: 'tz' }, zoneName(timezone))),
        days.map((d) => {
          const weekday = new Intl.DateTimeFormat(document.documentElement.lang || 'en', { weekday: 'short', timeZone: 'UTC' }).format(new Date(`${d}T12:00:00Z`));
          const date = new Intl.DateTimeFormat(document.documentElement.lang || 'en', { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(`${d}T12:00:00Z`));
          return h('th', { scope: 'col', abbr: longDay(d) }, h('span', { class: 'dow' }, weekday), ' ', h('span', { class: 'dom' }, date));
        }),
      ),
    ),
  );
  const tbody = h('tbody');
  rows.forEach((time, r) => {
    // The row's time in the display zones, from any slot of the row.
    const sample = days.map((day) => byCell.get(`${day} ${time}`)).find(Boolean);
    const also = ((sample && sample.display_times) || []).map((d) => `${localParts(d.starts_at_local).time} ${zoneName(d.timezone)}`);
    const tr = h('tr', {}, h('th', { scope: 'row' }, time, also.length ? h('span', { class: 'alt-time' }, also.join(' · ')) : null));
    grid[r] = [];
    days.forEach((day, c) => {
      const s = byCell.get(`${day} ${time}`);
      if (!s) {
        tr.append(h('td', { class: 'noslot' }, h('span', { class: 'visually-hidden' }, t('heat.no_slot')), h('span', { 'aria-hidden': 'true' }, '·')));
        grid[r][c] = null;
        return;
      }
      const v = slotView(s, { now, policy, advanced, timezone });
      const label = `${slotSpanLong(s)}: ${v.label}`;
      const btn = h(
        'button',
        {
          type: 'button',
          class: `cell heat-${v.level}${v.reserved ? ' reserved' : ''}${highlight === s.id ? ' current' : ''}`, // i18n-ok: classes
          'aria-label': highlight === s.id ? t('heat.yours_here', { label }) : label,
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
    } else if (e.key === 'Home') { // i18n-ok: a key name
      target = grid[r].find(Boolean);
    } else if (e.key === 'End') { // i18n-ok: a key name
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
    return h('p', { class: 'empty' }, t('heat.no_slots'));
  }
  // What a cell means (and why it cannot be booked), shown beside it on hover and focus;
  // hidden from assistive technology, which reads the same words in the cell's label.
  const tip = h('div', { class: 'cell-tip', 'aria-hidden': 'true', hidden: true });
  const wrap = h('div', { class: 'heatmap-wrap', role: 'region', 'aria-label': t('heat.map_label'), tabindex: '-1', 'data-toast-avoid': '' }, table, tip);
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
    h('option', { value: '' }, bookable.length ? t('book.choose_declaration') : t('book.none_ready')),
    (rescheduling ? decls.filter((d) => d.id === rescheduling.declaration_id) : bookable).map((d) => {
      const s = sitesById[d.site_id];
      return h('option', { value: d.id, selected: d.id === state.declarationId }, `${declarationName(d)} — ${t(`kind.${d.kind}`)}, ${s ? s.code : '?'} ${t(`mode.${d.transport_mode}`)}, ${d.consignee}`);
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
    replace(modeSelect, modes.map((m) => h('option', { value: m, selected: m === state.mode }, t(`mode.${m}`))));
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
      replace(choiceNote, t('book.browse'));
    } else if (d.site_id !== state.siteId || d.transport_mode !== state.mode) {
      replace(choiceNote, h('strong', {}, t('book.note')), ' ', t('book.other_site', { name: declarationName(d), site: sitesById[d.site_id]?.code || '?', mode: t(`mode.${d.transport_mode}`) }));
    } else {
      replace(choiceNote, t('book.for', { name: declarationName(d) }));
    }
  }
  describeChoice();

  const weekLabel = h('p', { class: 'week-label', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary small', onclick: () => shiftWeek(-7) }, t('book.prev_week'));
  const thisWeek = h('button', { type: 'button', class: 'secondary small', onclick: () => { state.week = ''; load(); } }, t('book.this_week'));
  const next = h('button', { type: 'button', class: 'secondary small', onclick: () => shiftWeek(7) }, t('book.next_week'));

  function shiftWeek(n) {
    const site = sitesById[state.siteId];
    const start = state.week || todayIn(site.timezone);
    state.week = addDays(start, n);
    load();
  }

  async function load() {
    const site = sitesById[state.siteId];
    if (!site || !state.mode) {
      replace(mapBox, h('p', { class: 'empty' }, sites.length ? t('book.choose_site') : t('book.no_sites')));
      return;
    }
    const today = todayIn(site.timezone);
    if (!state.week || state.week < today) state.week = today;
    prev.disabled = state.week <= today;
    const days = Array.from({ length: 7 }, (_, i) => addDays(state.week, i));
    replace(weekLabel, `${longDay(days[0])} – ${longDay(days[6])}, ${site.code} (${zoneLabel(currentOffset(site.timezone), site.timezone)})`); // i18n-ok: dates and codes
    replace(mapBox, loading(t('book.loading')));
    try {
      const slots = await weekSlots(site.id, state.mode, midnight(site.timezone, days[0]), midnight(site.timezone, addDays(days[6], 1)));
      replace(
        mapBox,
        heatmap({ slots, days, timezone: site.timezone, now: new Date(), onPick: pick, highlight: rescheduling && rescheduling.slot_id, policy: site.policy || null, advanced, onFull: rescheduling ? null : full }),
        legend(['4', '3', '2', '1', '0', 'closed', 'past'], [
          ...(slots.some((x) => x.bookable === false && !['full', 'closed', 'started'].includes(x.reason)) ? [['blocked', t('book.legend_blocked')]] : []),
          ...(slots.some((x) => x.reserved_advanced > 0) ? [['reserved-key', advanced ? t('book.legend_reserved_yours') : t('book.legend_reserved')]] : []),
        ]),
      );
      placeToast();
    } catch (err) {
      replace(mapBox, errorBox(err, t('book.load_failed')));
    }
  }

  async function pick(slot, button) {
    replace(outcome);
    const d = chosenDecl();
    if (!rescheduling && !d) {
      announce(t('book.choose_first'), 'warning');
      replace(outcome, h('div', { class: 'alert warning', role: 'alert' }, h('p', {}, t('book.choose_first_where'))));
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
  const waiting = waitlistPanel(bookOffer, (siteId) => sitesById[siteId]?.timezone);

  /** Rescheduling: confirm, then move the booking (its truck and declarations stay). */
  async function move(slot, button) {
    const site = sitesById[state.siteId];
    if (slot.id === rescheduling.slot_id) {
      announce(t('book.same_slot'), 'warning');
      return;
    }
    const facts = h(
      'dl',
      { class: 'facts compact' },
      h('dt', {}, t('book.slot')),
      h('dd', {}, slotSpan(slot)),
      h('dt', {}, t('book.site')),
      h('dd', {}, `${site.code} · ${site.name}, ${slot.mode}`),
      h('dt', {}, t('book.free_places')),
      h('dd', {}, `${slot.available} of ${slot.capacity}`),
      h('dt', {}, t('book.currently')),
      h('dd', {}, slotSpan({ ...rescheduling, timezone: site.timezone })),
      rescheduling.vehicle ? [h('dt', {}, t('book.vehicle')), h('dd', {}, plateText(rescheduling.vehicle))] : null,
    );
    const ok = await dialog({
      title: t('book.move_q'),
      body: [facts, h('p', { class: 'hint' }, t('book.move_hint'))],
      confirm: t('book.move'),
    });
    if (!ok) {
      button.focus();
      return;
    }
    try {
      const booking = await api.post(`/bookings/${rescheduling.id}/reschedule`, { slot_id: slot.id });
      const when = slotSpan({ ...booking, timezone: site.timezone });
      announce(t('book.moved_to', { when }), 'success');
      replace(
        outcome,
        h(
          'div',
          { class: 'alert success', role: 'status' },
          h('p', { class: 'alert-title' }, t('book.moved')),
          h('p', {}, badge(booking.status), ` ${when}.`, booking.gate_pass ? ` ${t('book.new_pass', { version: booking.gate_pass.version })}` : ''),
          h('p', {}, h('a', { href: `#/bookings/${booking.id}` }, t('book.print_new')), ' · ', h('a', { href: '#/bookings' }, t('book.see_bookings'))),
        ),
      );
      Object.assign(rescheduling, booking);
      await load();
      outcome.querySelector('.alert')?.setAttribute('tabindex', '-1');
      outcome.querySelector('.alert')?.focus();
    } catch (err) {
      announce(t('book.not_moved_because', { why: describe(err) }), 'error');
      const plain = bookingProblemText(err, declsById);
      replace(outcome, plain ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, t('book.not_moved')), h('p', {}, plain)) : errorBox(err, t('book.not_moved')));
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
      h('legend', {}, t('book.decls_on_truck')),
      h('p', { class: 'hint', id: 'decl-checks-hint' }, candidates.length > 1
        ? t('book.tick_all', { site: site.code, mode: t(`mode.${slot.mode}`) })
        : t('book.only_one', { name: declarationName(d), site: site.code, mode: t(`mode.${slot.mode}`) })),
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
              h('span', { class: 'muted' }, ` — ${t(`kind.${x.kind}`)}, ${x.consignee}`),
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
    const submit = h('button', { type: 'submit', class: 'primary' }, t('book.submit'));
    const other = h('button', { type: 'button', class: 'secondary', onclick: () => { replace(formBox); button?.focus(); } }, t('book.other_slot'));
    const holding = offered
      ? h('div', { class: 'alert info hold-banner', role: 'status' }, h('p', { class: 'alert-title' }, t('waitlist.offered')), h('p', {}, countdown(offered.expires_at)), h('p', { class: 'hint' }, t('holds.hint')))
      : holdControl(slot, (x) => { hold = x; });
    const form = h(
      'form',
      { class: 'card truck-form', novalidate: true, 'aria-labelledby': 'truck-form-h' },
      h('h2', { id: 'truck-form-h', tabindex: '-1' }, t('book.truck_title')),
      h(
        'dl',
        { class: 'facts compact slot-facts' },
        h('dt', {}, t('book.slot')),
        h('dd', {}, slotSpan(slot)),
        h('dt', {}, t('book.site')),
        h('dd', {}, `${site.code} · ${site.name}, ${slot.mode}`),
        h('dt', {}, t('book.free_places')),
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
      setMessage(declSet, 'client', ids.length ? (ids.length > 20 ? t('book.max20') : '') : t('book.tick_one'));
      const members = truck.read();
      if (!members || !ids.length || ids.length > 20) {
        replace(result, h('div', { class: 'alert error', role: 'alert' }, h('p', {}, t('book.correct_fields'))));
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
        announce(t('book.not_booked_because', { why: describe(err) }), 'error');
        const rest = truck.showServerErrors(err.fieldErrors).filter((fe) => {
          if (!/^declaration_ids?/.test(fe.field)) return true;
          setMessage(declSet, 'server', fe.message);
          return false;
        });
        const slug = problemSlug(err);
        if (slug === 'vehicle-already-booked') setMessage(truck.wrapFor('vehicle.plate'), 'server', t('book.vehicle_taken'));
        if (slug === 'already-booked' || slug === 'wrong-site-or-mode') setMessage(declSet, 'server', err.problem.detail || err.message);
        const plain = bookingProblemText(err, declsById);
        replace(
          result,
          plain
            ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, t('book.not_booked')), h('p', {}, plain))
            : errorBox({ ...err, fieldErrors: rest }, t('book.not_booked')),
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
    announce(t('book.booked_at', { when }), 'success');
    replace(formBox);
    replace(
      outcome,
      h(
        'div',
        { class: 'alert success', role: 'status' },
        h('p', { class: 'alert-title' }, t('book.booked')),
        h('p', {}, `${names.join(', ')}: `, badge(booking.status), ` ${when}`, booking.vehicle ? `, ${t('book.truck', { plate: plateText(booking.vehicle) })}` : '', '.'),
        h('p', {}, h('a', { href: `#/bookings/${booking.id}` }, t('book.open_pass')), ' · ', h('a', { href: '#/bookings' }, t('book.see_bookings'))),
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
    h('div', { class: 'field' }, h('label', { for: 'declaration-select' }, rescheduling ? t('book.decl_rescheduled') : t('book.decl_for')), declSelect),
    h('div', { class: 'field' }, h('label', { for: 'site-select' }, t('book.clearance_site')), siteSelect),
    h('div', { class: 'field' }, h('label', { for: 'mode-select' }, t('book.transport_mode')), modeSelect),
  );

  load();
  return h(
    'div',
    { class: 'book-page' },
    pageTitle(rescheduling ? t('book.reschedule_title') : t('route.book')),
    !verified ? h('div', { class: 'alert warning', role: 'status' }, h('p', {}, t('book.only_verified'))) : null,
    rescheduling
      ? h('div', { class: 'alert info', role: 'status' }, h('p', {}, t('book.moving', { site: sitesById[rescheduling.site_id]?.code || '', when: slotSpan({ ...rescheduling, timezone: sitesById[rescheduling.site_id]?.timezone }) })))
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
