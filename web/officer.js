// Customs pages: enterprises to verify, the declaration review queue, the
// site capacity board, the gate, and (supervisors) sites and schedules.

import * as api from './api.js';
import { h, replace, announce, errorBox, pageTitle, badge, laneBadge, table, dialog, busy, field, setMessage, loading, describe, problemSlug, statusLabel } from './ui.js';
import { zoneName, localParts, addDays, todayIn, midnight, longDay, zoneLabel, currentOffset, inZone, slotSpan, spanInZone, offsetOn, timeParts, dayWithWeekday } from './time.js';
import { usageBar, legend } from './heatmap.js';
import { t, formatNumber } from './i18n.js';
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

/** A credit class in the console's language. */
function creditLabel(credit) {
  if (!credit) return '—';
  const key = `off.credit.${credit}`;
  const text = t(key);
  return text === key ? credit.replace('_', ' ') : text;
}

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
            const reason = field({ label: t('off.reason'), name: 'reason', type: 'textarea', required: true, attrs: { rows: 3, maxlength: 1000 } });
            const ok = await dialog({ title: t('off.ent_action_q', { action: label, name: e.name }), body: reason, confirm: label, danger: verb === 'suspend' });
            if (!ok) return;
            body = { reason: ok.get('reason') };
          }
          try {
            await busy(b, () => api.post(`/enterprises/${e.id}/${verb}`, body));
            enterpriseCache.delete(e.id);
            announce(t(`off.ent_done.${verb}`, { name: e.name }), 'success');
            ctx.refresh();
          } catch (err) {
            b.closest('td').append(errorBox(err, t(`off.ent_failed.${verb}`)));
          }
        },
      }, label, h('span', { class: 'visually-hidden' }, ` ${e.name}`));
      actions.append(b);
    };
    if (e.status === 'pending') act('verify', t('off.verify'), 'primary');
    if (e.status === 'verified') act('suspend', t('off.suspend'), 'danger', true);
    if (e.status === 'suspended') act('reinstate', t('off.reinstate'), 'secondary');
    return {
      attrs: { dataset: { row: e.id } },
      cells: [
        e.name,
        e.country,
        h('span', { class: 'mono' }, e.registration_code),
        creditLabel(e.credit_class),
        inZone(e.created_at, 'UTC'),
        badge(e.status),
        actions,
      ],
    };
  });
  const tabs = [['pending', t('off.ent_tab.pending')], ['verified', t('status.verified')], ['suspended', t('status.suspended')], ['', t('off.all')]];
  return h(
    'div',
    {},
    pageTitle(t('route.enterprises')),
    h(
      'nav',
      { class: 'filters', 'aria-label': t('co.filter_status') },
      tabs.map(([s, label]) => h('a', { href: `#/enterprises?status=${s}`, 'aria-current': status === s ? 'page' : null }, label)),
    ),
    table({
      caption: status === 'pending' ? t('off.ent_caption_pending') : t('off.ent_caption', { status: status ? statusLabel(status) : t('off.all') }),
      columns: [t('off.legal_name'), t('register.country'), t('register.code'), t('off.credit_class'), t('off.registered'), t('co.status'), t('co.actions')],
      rows,
      empty: status === 'pending' ? t('off.no_pending') : t('off.no_enterprises'),
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
        t(`co.kind.${d.kind}`),
        site ? `${site.code} (${t(`mode.${d.transport_mode}`)})` : d.site_id,
        h('span', { class: 'num' }, money(d.invoice_total, d.currency)),
        site ? inZone(d.submitted_at, site.timezone) : d.submitted_at,
        h('div', {}, badge(d.status), d.assigned_officer_id === ctx.me.id ? h('span', { class: 'muted' }, ` ${t('off.yours')}`) : null),
        h('a', { href: `#/review/${d.id}`, class: 'button-link primary small' }, t('off.review'), h('span', { class: 'visually-hidden' }, ` ${declarationName(d)}`)),
      ],
    };
  });
  const tabs = [['waiting', t('off.tab_waiting')], ['amendment_requested', t('status.amendment_requested')], ['approved', t('status.approved')], ['rejected', t('status.rejected')], ['released', t('status.released')], ['', t('off.all')]];
  const siteSelect = h(
    'select',
    { id: 'queue-site', onchange: (e) => ctx.navigate(`#/review?status=${status}&site=${e.target.value}`) },
    h('option', { value: '' }, t('off.all_sites')),
    sites.map((s) => h('option', { value: s.id, selected: s.id === siteFilter }, `${s.code} · ${s.name}`)),
  );
  return h(
    'div',
    {},
    pageTitle(t('off.queue_title')),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'nav',
        { class: 'filters', 'aria-label': t('co.filter_status') },
        tabs.map(([s, label]) => h('a', { href: `#/review?status=${s}&site=${siteFilter}`, 'aria-current': status === s ? 'page' : null }, label)),
      ),
      h('div', { class: 'field inline' }, h('label', { for: 'queue-site' }, t('book.site')), siteSelect),
    ),
    table({
      caption: status === 'waiting' ? t('off.queue_caption') : t('route.declarations'),
      columns: [t('co.number'), t('register.enterprise'), t('co.kind'), t('book.site'), t('co.invoice_total'), t('off.submitted_site'), t('co.status'), ''],
      rows,
      empty: t('off.queue_empty'),
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
      announce(`${declarationName(after)}: ${done}.`, 'success'); // i18n-ok: `done` comes from the catalog
      ctx.refresh();
    } catch (err) {
      const wrap = button.closest('form');
      for (const fe of err.fieldErrors) {
        const f = wrap && wrap.querySelector(`.field[data-for="${fe.field}"]`);
        if (f) setMessage(f, 'server', fe.message);
      }
      replace(result, errorBox(err, t('off.not_done')));
    }
  }

  const panels = h('div', { class: 'decision' });
  if (can(d, 'review')) {
    const claim = h('button', { type: 'button', class: 'secondary', onclick: () => act('review', {}, claim, t('off.claimed')) }, t('off.claim'));
    panels.append(h('p', {}, claim, ' ', h('span', { class: 'muted' }, t('off.claim_hint'))));
  }
  const decisions = [];
  if (can(d, 'approve')) {
    const lanes = h(
      'fieldset',
      { class: 'field lanes', dataset: { for: 'risk_lane' } },
      h('legend', {}, t('co.risk_lane')),
      ['green', 'yellow', 'red'].map((l) =>
        h('label', { class: `lane-choice lane-${l}` }, h('input', { type: 'radio', name: 'risk_lane', value: l, checked: l === 'green' }), ` ${t(`lane.${l}`)}`, h('span', { class: 'hint' }, ` — ${t(`off.lane_hint.${l}`)}`)),
      ),
      h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
    );
    const approveForm = h('form', { class: 'card', 'aria-labelledby': 'approve-h' }, h('h2', { id: 'approve-h' }, t('off.approve')), lanes);
    const approveBtn = h('button', { type: 'submit', class: 'primary' }, t('off.approve'));
    approveForm.append(h('div', { class: 'actions left' }, approveBtn));
    approveForm.addEventListener('submit', (e) => {
      e.preventDefault();
      act('approve', { risk_lane: new FormData(approveForm).get('risk_lane') }, approveBtn, t('off.done.approved'));
    });
    decisions.push(approveForm);
  }

  const reasonForm = (action, title, label, cls, done) => {
    const reason = field({ label: t('off.reason'), name: 'reason', type: 'textarea', required: true, hint: t('off.reason_hint'), attrs: { rows: 3, maxlength: 1000 } });
    const headingId = `${action}-h`;
    const form = h('form', { class: 'card', 'aria-labelledby': headingId, novalidate: true }, h('h2', { id: headingId }, title), reason);
    const btn = h('button', { type: 'submit', class: cls }, label);
    form.append(h('div', { class: 'actions left' }, btn));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = new FormData(form).get('reason').trim();
      setMessage(reason, 'server', '');
      setMessage(reason, 'client', text ? '' : t('off.give_reason'));
      if (!text) {
        reason.querySelector('textarea').focus();
        return;
      }
      act(action, { reason: text }, btn, done);
    });
    return form;
  };
  if (can(d, 'request-amendment')) decisions.push(reasonForm('request-amendment', t('off.amend_title'), t('off.amend'), 'secondary', t('off.done.amend')));
  if (can(d, 'reject')) decisions.push(reasonForm('reject', t('off.reject'), t('off.reject'), 'danger', t('off.done.rejected')));
  if (decisions.length) panels.append(h('div', { class: 'decision-grid' }, decisions));
  if (can(d, 'release')) {
    const rel = h('button', { type: 'button', class: 'primary', onclick: () => act('release', {}, rel, t('off.done.released')) }, t('off.release'));
    panels.append(h('p', {}, rel));
  }
  return h(
    'div',
    {},
    pageTitle(t('off.review_title', { name: declarationName(d) })),
    h('p', {}, h('a', { href: '#/review' }, t('off.back_queue'))),
    h('p', { class: 'lead' }, t('off.filed_by', { name: ent.name, country: ent.country, code: ent.registration_code, credit: creditLabel(ent.credit_class) })),
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
  return h('div', { class: 'field inline' }, h('label', { for: 'board-site' }, t('book.site')), select);
}

function chosenSite(ctx, sites) {
  const id = ctx.query.site || sessionStorage.getItem('clearway.site');
  return sites.find((s) => s.id === id) || sites[0];
}

// ---- capacity board --------------------------------------------------------

/** `2 reserved for advanced-certified until 13:00` (site time), or `2 reserved places released`. */
function reservedText(s, now) {
  if (s.reserved_until && new Date(s.reserved_until) > now) {
    return t('off.reserved_until', { n: s.reserved_advanced, time: timeParts(s.reserved_until, s.timezone).time });
  }
  return t('off.reserved_released', { n: s.reserved_advanced });
}

export async function capacityPage(ctx) {
  const sites = await ctx.sites();
  const site = chosenSite(ctx, sites);
  if (!site) return h('div', {}, pageTitle(t('route.capacity')), h('p', { class: 'empty' }, t('df.no_sites')));
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
    site.modes.map((m) => h('option', { value: m, selected: m === mode }, t(`mode.${m}`))),
  );

  async function change(slot, span, button) {
    const capacity = field({ label: t('off.capacity_places'), name: 'capacity', type: 'number', value: String(slot.capacity), required: true, hint: t('off.booked_now', { n: slot.booked }), attrs: { min: 0, max: 10000, class: 'short' } });
    const status = field({ label: t('co.status'), name: 'status', value: slot.status, options: [{ value: 'open', label: t('status.open') }, { value: 'closed', label: t('off.closed_cancels') }] });
    const reason = field({ label: t('off.reason_recorded'), name: 'reason', type: 'textarea', attrs: { rows: 2, maxlength: 1000 } });
    // Reserved places, where the server has them.
    const hasReserved = 'reserved_advanced' in slot;
    const reservedField = hasReserved
      ? field({ label: t('off.reserved_field'), name: 'reserved_advanced', type: 'number', value: String(slot.reserved_advanced || 0), attrs: { min: 0, max: 10000, class: 'short' } })
      : null;
    const releaseField = hasReserved
      ? field({ label: t('off.release_field'), name: 'release_minutes', type: 'number', value: String(slot.release_minutes ?? 0), attrs: { min: 0, class: 'short' } })
      : null;
    const ok = await dialog({ title: t('off.change_slot', { span }), body: [h('p', { class: 'muted' }, `${site.code} ${t(`mode.${slot.mode}`)}, ${slotSpan(slot)}`), capacity, status, reservedField, releaseField, reason], confirm: t('off.save_change') });
    if (!ok) {
      button.focus();
      return;
    }
    const body = {};
    const cap = Number(ok.get('capacity'));
    if (!Number.isInteger(cap) || cap < 0 || cap > 10000) {
      announce(t('off.capacity_range'), 'error');
      return;
    }
    if (cap !== slot.capacity) body.capacity = cap;
    if (ok.get('status') !== slot.status) body.status = ok.get('status');
    if (ok.get('reason')) body.reason = ok.get('reason');
    if (hasReserved) {
      const n = Number(ok.get('reserved_advanced') || 0);
      const m = Number(ok.get('release_minutes') || 0);
      if (n !== (slot.reserved_advanced || 0)) body.reserved_advanced = n;
      if (m !== (slot.release_minutes ?? 0)) body.release_minutes = m;
    }
    if (body.capacity === undefined && body.status === undefined && body.reserved_advanced === undefined && body.release_minutes === undefined) {
      announce(t('off.nothing_changed'));
      return;
    }
    const box = button.closest('tr').querySelector('.row-msg');
    const send = (b) => busy(button, () => api.call('PATCH', `/slots/${slot.id}`, { body: b }));
    try {
      await send(body);
      announce(t('off.slot_changed', { span, what: body.status === 'closed' ? t('off.what.closed') : body.status === 'open' ? t('off.what.reopened') : body.capacity !== undefined ? t('off.what.capacity', { n: body.capacity }) : t('off.what.reserved') }), 'success');
      ctx.refresh();
    } catch (err) {
      if (err.status === 409 && body.capacity !== undefined && !body.displace) {
        // Where the server moves displaced bookings (it has closures), the officer chooses.
        const rebook = closuresAvailable
          ? h(
              'fieldset',
              { class: 'field checks rebook' },
              h('legend', {}, t('off.displaced')),
              h('label', {}, h('input', { type: 'radio', name: 'rebook', value: 'next_available', checked: true }), ` ${t('off.move_next')}`),
              h('label', {}, h('input', { type: 'radio', name: 'rebook', value: 'cancel' }), ` ${t('off.cancel_them')}`),
            )
          : null;
        const again = await dialog({
          title: t('off.below_booked', { capacity: body.capacity, booked: slot.booked }),
          body: [
            h('p', {}, closuresAvailable
              ? t('off.displace_move_q')
              : t('off.displace_cancel_q')),
            rebook,
          ],
          confirm: t('off.displace'),
          danger: true,
        });
        if (again) {
          try {
            await send({ ...body, displace: true, ...(closuresAvailable ? { rebook: again.get('rebook') || 'next_available' } : {}) });
            announce(t('off.displaced_done', { span, n: body.capacity }), 'success');
            ctx.refresh();
            return;
          } catch (err2) {
            replace(box, errorBox(err2, t('off.not_changed')));
            return;
          }
        }
      }
      replace(box, errorBox(err, t('off.not_changed')));
    }
  }

  const sections = days.map((day) => {
    const all = slots.filter((s) => localParts(s.starts_at_local).date === day);
    const ended = all.filter((s) => new Date(s.ends_at) <= now);
    const list = showEnded ? all : all.filter((s) => new Date(s.ends_at) > now);
    // Only the slots still to come (or under way) count: an ended slot's places are gone.
    const current = all.filter((s) => new Date(s.ends_at) > now && s.status === 'open');
    const booked = current.reduce((a, s) => a + s.booked, 0);
    const open = current.reduce((a, s) => a + s.capacity, 0);
    const offset = all[0] ? localParts(all[0].starts_at_local).offset : currentOffset(site.timezone);
    const rows = list.map((s) => {
      const p = localParts(s.starts_at_local);
      const e = localParts(s.ends_at_local);
      const span = `${p.time}–${e.time}`;
      const isEnded = new Date(s.ends_at) <= now;
      // Held places (holds, waitlist offers) are taken too, though not booked yet.
      const pct = s.capacity ? Math.round((100 * (s.booked + (s.held || 0))) / s.capacity) : 0;
      const btn = isEnded
        ? h('span', { class: 'muted' }, t('off.ended'))
        : h('button', { type: 'button', class: 'secondary small', onclick: (ev) => change(s, span, ev.currentTarget) }, t('off.change'), h('span', { class: 'visually-hidden' }, ` ${t('off.slot_span', { span })}`));
      return {
        attrs: { dataset: { row: s.id }, class: isEnded ? 'ended' : null },
        cells: [
          h('span', { class: 'mono' }, span),
          h(
            'div',
            { class: 'usage' },
            usageBar(s, isEnded),
            h(
              'span',
              { class: 'usage-text' },
              `${s.booked} / ${s.capacity}`,
              h('span', { class: 'visually-hidden' }, ` ${t('off.booked_word')}`),
              s.held > 0 ? h('span', { class: 'muted' }, ` · ${t('off.held_note', { n: s.held })}`) : null,
              h('span', { class: 'muted' }, ` ${pct} %`),
              s.reserved_advanced > 0 ? h('span', { class: 'muted reserved-note' }, ` · ${reservedText(s, now)}`) : null,
            ),
          ),
          badge(s.status),
          h('div', {}, btn, h('div', { class: 'row-msg', 'aria-live': 'polite' })),
        ],
      };
    });
    return h(
      'section',
      { class: 'board-day', 'aria-labelledby': `day-${day}` },
      h('h2', { id: `day-${day}` }, day === today ? t('off.today') : t('off.tomorrow'), h('span', { class: 'sub' }, ` ${longDay(day)}`)),
      h(
        'p',
        { class: 'day-summary' },
        h('span', { class: 'day-count' }, t('off.day_count', { booked: formatNumber(booked), open: formatNumber(open) })),
        ended.length ? h('span', { class: 'muted' }, ` ${t('off.not_ended')}`) : null,
        ended.length && !showEnded ? h('span', { class: 'muted' }, ` · ${t('off.ended_hidden', { n: ended.length })}`) : null,
      ),
      table({
        caption: `${site.code} ${t(`mode.${mode}`)}, ${longDay(day)}, ${zoneLabel(offset, site.timezone)}`, // i18n-ok: code, date, zone
        columns: [t('book.slot'), t('off.booked_capacity'), t('co.status'), ''],
        rows,
        empty: all.length ? t('off.all_ended') : t('off.no_slots_day'),
        className: 'board',
      }),
    );
  });

  return h(
    'div',
    {},
    pageTitle(t('route.capacity')),
    h(
      'div',
      { class: 'toolbar' },
      sitePicker(ctx, sites, site, { mode }),
      h('div', { class: 'field inline' }, h('label', { for: 'board-mode' }, t('book.transport_mode')), modeSelect),
      h('a', { href: here({ ended: showEnded ? '0' : '1' }) }, showEnded ? t('off.hide_ended') : t('off.show_ended')),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary small',
          onclick: () => {
            const form = document.querySelector('form.closure-form');
            if (!form) return;
            form.scrollIntoView({ block: 'start' });
            form.querySelector('select, input').focus({ preventScroll: true });
          },
        },
        t('off.close_range'),
      ),
      h('p', { class: 'zone-note' }, t('off.times_in', { zone: zoneLabel(currentOffset(site.timezone), site.timezone) })),
    ),
    h('div', { class: 'board-days' }, sections),
    h('p', { class: 'hint' }, t('off.bars_hint')),
    legend(['4', '3', '2', '1', '0', 'closed', 'past']),
    closurePanel(ctx, site),
  );
}

// ---- closures: close or reduce a range ---------------------------------------
// A dry run first (which companies' bookings would move where, which would be
// cancelled), applied only on confirmation; and the site's closures, each of
// which can be reopened.

/** A closure's result kept across the board's re-render (shown once). */
let flash = null;
/** Whether the server has closures (and so moves displaced bookings): learnt from the closures list. */
let closuresAvailable = false;

/** `2026-12-01T08:00` (a datetime-local value, site time) as RFC 3339 with the site's offset then. */
export function siteTime(value, timezone) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value || '')) return null;
  // The offset at that local time: try the date's offset, then check it round-trips (DST edges).
  let offset = offsetOn(timezone, value.slice(0, 10));
  for (let i = 0; i < 2; i += 1) {
    const guess = new Date(`${value}:00${offset}`);
    const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, timeZoneName: 'longOffset' });
    const name = fmt.formatToParts(guess).find((p) => p.type === 'timeZoneName');
    const real = ((name && name.value) || 'GMT').replace('GMT', '') || '+00:00';
    if (real === offset) break;
    offset = real;
  }
  return `${value}:00${offset}`;
}

/** The next whole hour in the site's zone, as a datetime-local value, `plusHours` later. */
function nextHour(timezone, plusHours = 0) {
  const t = new Date(Date.now() + (plusHours + 1) * 3600000);
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
  const p = Object.fromEntries(fmt.formatToParts(t).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:00`;
}

/** Slots and bookings named by a closure's `affected`, each read once. */
function reader(path) {
  const cache = new Map();
  return (id) => {
    if (!id) return Promise.resolve(null);
    if (!cache.has(id)) cache.set(id, api.get(`${path}/${id}`).catch(() => null));
    return cache.get(id);
  };
}

/** `Tue 1 Dec 2026, 08:00–09:00` of a slot (the zone is said once, in the caption). */
function slotWhen(slot) {
  if (!slot) return null;
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  return `${dayWithWeekday(a.date)}, ${a.time}–${b.time}`;
}

/** The table of what a closure does (or would do) to bookings, in the server's order. */
async function affectedTable(answer, site, { applied }) {
  const affected = Array.isArray(answer.affected) ? answer.affected : [];
  if (!affected.length) {
    return h('p', { class: 'empty' }, applied ? t('off.cl.none_affected') : t('off.cl.none_would'));
  }
  const slotOf = reader('/slots');
  const bookingOf = reader('/bookings');
  const rows = await Promise.all(
    affected.map(async (a) => {
      const [from, to, booking, ent] = await Promise.all([slotOf(a.from_slot_id), slotOf(a.to_slot_id), bookingOf(a.booking_id), a.enterprise_id ? enterprise(a.enterprise_id) : null]);
      const moved = Boolean(a.to_slot_id);
      const truck = booking && booking.vehicle ? plateText(booking.vehicle, false) : null;
      const what = booking ? t('off.cl.n_decls', { n: declIds(booking).length }) : '';
      return {
        attrs: { dataset: { booking: a.booking_id, outcome: moved ? 'moved' : 'cancelled' } },
        cells: [
          ent ? ent.name : a.enterprise_id || '—',
          h('div', {}, truck ? h('span', { class: 'plate' }, truck) : h('span', { class: 'mono small' }, a.booking_id), what ? h('p', { class: 'muted small' }, what) : null),
          h('span', { class: 'slot-when from' }, slotWhen(from) || a.from_slot_id),
          moved
            ? h('span', { class: 'outcome moved' }, h('span', { 'aria-hidden': 'true' }, '→ '), applied ? `${t('off.cl.moved_to')} ` : `${t('off.cl.moves_to')} `, h('strong', { class: 'slot-when to' }, slotWhen(to) || a.to_slot_id))
            : h('span', { class: 'outcome cancelled' }, applied ? t('status.cancelled') : t('off.cl.would_cancel'), answer.rebook === 'next_available' ? h('span', { class: 'muted' }, ` ${t('off.cl.no_room')}`) : null),
        ],
      };
    }),
  );
  return table({
    caption: t(applied ? 'off.cl.caption_applied' : 'off.cl.caption_preview', { zone: zoneLabel(currentOffset(site.timezone), site.timezone) }),
    columns: [t('off.cl.company'), t('off.cl.truck'), t('off.cl.booked_slot'), applied ? t('off.cl.outcome') : t('off.cl.would_happen')],
    rows,
    className: 'affected',
  });
}

function summary(answer, applied) {
  const affected = Array.isArray(answer.affected) ? answer.affected : [];
  const moved = affected.filter((a) => a.to_slot_id).length;
  const cancelled = affected.length - moved;
  if (!affected.length) return applied ? t('off.cl.none_affected') : t('off.cl.none_would_short');
  const one = (n) => (n === 1 ? 'one' : 'many');
  const parts = [];
  if (moved) parts.push(t(`off.cl.${applied ? 'moved' : 'would_move'}.${one(moved)}`, { n: moved }));
  if (cancelled) parts.push(t(`off.cl.${applied ? 'cancelled' : 'would_be_cancelled'}.${one(cancelled)}`, { n: cancelled }));
  return `${parts.join('; ')}.`;
}

/** ` (3 slots)` when the server says how many slots a closure binds. */
function slotCount(c) {
  return Number.isFinite(c.slots) ? ` (${t(c.slots === 1 ? 'off.cl.slots.one' : 'off.cl.slots.many', { n: c.slots })})` : '';
}

function whatText(c) {
  const mode = c.mode ? t('off.cl.mode_slots', { mode: t(`mode.${c.mode}`) }) : t('off.cl.all_mode_slots');
  return c.capacity === null || c.capacity === undefined ? t('off.cl.closes', { slots: mode }) : t(c.capacity === 1 ? 'off.cl.lowers.one' : 'off.cl.lowers.many', { slots: mode, n: c.capacity });
}

/** The form, its preview, and the list of the site's closures. */
export function closurePanel(ctx, site) {
  const tz = site.timezone;
  const zone = zoneLabel(currentOffset(tz), tz);
  const f = {
    mode: field({
      label: t('book.transport_mode'),
      name: 'mode',
      value: '',
      options: [{ value: '', label: t('off.cl.all_modes') }, ...site.modes.map((m) => ({ value: m, label: t(`mode.${m}`) }))],
    }),
    from: field({ label: t('off.cl.from', { zone }), name: 'from', type: 'datetime-local', required: true, value: nextHour(tz, 1), hint: t('off.cl.from_hint'), attrs: { step: 60 } }),
    to: field({ label: t('off.cl.to', { zone }), name: 'to', type: 'datetime-local', required: true, value: nextHour(tz, 3), hint: t('off.cl.to_hint'), attrs: { step: 60 } }),
    capacity: field({ label: t('off.cl.capacity'), name: 'capacity', type: 'number', hint: t('off.cl.capacity_hint'), attrs: { min: 0, max: 10000, class: 'short' } }),
    reason: field({ label: t('off.reason'), name: 'reason', type: 'textarea', required: true, hint: t('off.cl.reason_hint'), attrs: { rows: 2, maxlength: 1000 } }),
  };
  const rebook = h(
    'fieldset',
    { class: 'field checks rebook', dataset: { for: 'rebook' } },
    h('legend', {}, t('off.cl.displaced')),
    h('label', {}, h('input', { type: 'radio', name: 'rebook', value: 'next_available', checked: true }), ` ${t('off.cl.move_next')}`),
    h('label', {}, h('input', { type: 'radio', name: 'rebook', value: 'cancel' }), ` ${t('off.cancel_them')}`),
    h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
  );
  const previewBtn = h('button', { type: 'submit', class: 'primary' }, t('off.cl.preview'));
  const preview = h('div', { class: 'closure-preview', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card closure-form', novalidate: true, 'aria-labelledby': 'closure-h' },
    h('h2', { id: 'closure-h' }, t('off.cl.title')),
    h('p', { class: 'hint' }, t('off.cl.hint', { site: site.code })),
    h('div', { class: 'grid closure-grid' }, f.mode, f.from, f.to, f.capacity),
    f.reason,
    rebook,
    h('div', { class: 'actions left' }, previewBtn),
    preview,
  );

  const fieldFor = (name) => (name === 'rebook' ? rebook : f[name]);

  /** The request body from the form, or null (the problems are shown beside the fields). */
  function read() {
    const fd = new FormData(form);
    for (const w of [...Object.values(f), rebook]) {
      setMessage(w, 'server', '');
      setMessage(w, 'client', '');
    }
    const from = siteTime(String(fd.get('from') || ''), tz);
    const to = siteTime(String(fd.get('to') || ''), tz);
    const capText = String(fd.get('capacity') || '').trim();
    const reason = String(fd.get('reason') || '').trim();
    if (!from) setMessage(f.from, 'client', t('off.cl.enter_from'));
    if (!to) setMessage(f.to, 'client', t('off.cl.enter_to'));
    if (from && to && new Date(to) <= new Date(from)) setMessage(f.to, 'client', t('off.cl.end_after'));
    const cap = capText === '' ? null : Number(capText);
    if (cap !== null && (!Number.isInteger(cap) || cap < 0 || cap > 10000)) setMessage(f.capacity, 'client', t('off.cl.capacity_check'));
    if (!reason) setMessage(f.reason, 'client', t('off.cl.give_reason'));
    if (form.querySelector('[aria-invalid=true]')) {
      form.querySelector('[aria-invalid=true]').focus();
      return null;
    }
    const body = { from, to, reason, rebook: String(fd.get('rebook') || 'next_available') };
    if (fd.get('mode')) body.mode = String(fd.get('mode'));
    if (cap !== null) body.capacity = cap;
    return body;
  }

  function showServerErrors(err) {
    let shown = false;
    for (const fe of err.fieldErrors || []) {
      const w = fieldFor(String(fe.field).split('.')[0]);
      if (w) {
        setMessage(w, 'server', fe.message);
        shown = true;
      }
    }
    return shown;
  }

  // A preview is only good for the values it was made from.
  form.addEventListener('input', () => {
    if (preview.firstChild && !preview.querySelector('.applied')) {
      replace(preview, h('p', { class: 'muted' }, t('off.cl.changed')));
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = read();
    if (!body) return;
    replace(preview, loading(t('off.cl.working')));
    let answer;
    try {
      answer = await busy(previewBtn, () => api.post(`/sites/${site.id}/closures`, { ...body, dry_run: true }));
    } catch (err) {
      showServerErrors(err);
      replace(preview, errorBox(err, t('off.cl.no_preview')));
      return;
    }
    const list = await affectedTable(answer, site, { applied: false });
    const apply = h('button', { type: 'button', class: 'danger' }, t('off.cl.apply'));
    const again = h('button', { type: 'button', class: 'secondary', onclick: () => { replace(preview); form.querySelector('input, select').focus(); } }, t('off.cl.change_range'));
    const box = h(
      'section',
      { class: 'card preview-card', 'aria-labelledby': 'preview-h', tabindex: '-1' },
      h('h3', { id: 'preview-h' }, t('off.cl.preview_title')),
      h('p', {}, `${t('off.cl.within', { what: `${whatText({ mode: body.mode, capacity: body.capacity })}${slotCount(answer)}`, span: spanInZone(answer.from || body.from, answer.to || body.to, tz) })} `, h('strong', { class: 'preview-summary' }, summary(answer, false))), // i18n-ok: words from t()
      list,
      h('div', { class: 'actions left' }, apply, again),
      h('div', { class: 'row-msg', 'aria-live': 'polite' }),
    );
    apply.addEventListener('click', async () => {
      const msg = box.querySelector('.row-msg');
      replace(msg);
      try {
        const done = await busy(apply, () => api.post(`/sites/${site.id}/closures`, body));
        flash = { siteId: site.id, answer: done, body };
        announce(t('off.cl.applied_at', { site: site.code, summary: summary(done, true) }), 'success');
        ctx.refresh();
      } catch (err) {
        showServerErrors(err);
        replace(msg, errorBox(err, t('off.cl.not_applied')));
      }
    });
    replace(preview, box);
    box.focus();
  });

  // The result of the closure just applied, shown once after the board re-renders.
  const result = h('div', { class: 'closure-result' });
  if (flash && flash.siteId === site.id) {
    const { answer } = flash;
    flash = null;
    affectedTable(answer, site, { applied: true })
      .then((list) => {
        replace(
          result,
          h(
            'div',
            { class: 'alert success applied', role: 'status', tabindex: '-1' },
            h('p', { class: 'alert-title' }, t('off.cl.applied')),
            h('p', {}, `${t('off.cl.within', { what: `${whatText(answer)}${slotCount(answer)}`, span: spanInZone(answer.from, answer.to, tz) })} ${summary(answer, true)}`), // i18n-ok: words from t()
            list,
          ),
        );
        result.querySelector('.alert').focus();
      })
      .catch((err) => replace(result, errorBox(err, t('off.cl.applied_unlisted'))));
  }

  const listBox = h('div', { class: 'closure-list' }, loading(t('off.cl.loading')));
  const listHeading = h('h3', {}, t('off.cl.list_title', { site: site.code }));
  (async () => {
    let items;
    try {
      items = await api.all(`/sites/${site.id}/closures`);
      closuresAvailable = true;
    } catch (err) {
      if (err.status === 404) {
        // A server without closures: say so instead of offering a form it would refuse.
        form.replaceWith(h('p', { class: 'muted' }, t('off.cl.unavailable')));
        replace(listBox);
        listHeading.remove();
        return;
      }
      replace(listBox, errorBox(err, t('off.cl.load_failed')));
      return;
    }
    const now = new Date();
    items.sort((a, b) => (a.from < b.from ? 1 : a.from > b.from ? -1 : 0));
    const rows = items.map((c) => {
      const ended = new Date(c.to) <= now;
      const lifted = c.active === false || Boolean(c.lifted_at);
      const msg = h('div', { class: 'row-msg', 'aria-live': 'polite' });
      const reopen = lifted
        ? h('span', { class: 'muted' }, c.lifted_at ? t('off.cl.reopened_at', { when: inZone(c.lifted_at, tz) }) : t('off.cl.reopened'))
        : ended
        ? h('span', { class: 'muted' }, t('off.ended'))
        : h(
            'button',
            {
              type: 'button',
              class: 'secondary small',
              onclick: async (ev) => {
                const btn = ev.currentTarget;
                const ok = await dialog({
                  title: t('off.cl.reopen_q'),
                  body: h('p', {}, t('off.cl.reopen_body', { what: whatText(c), span: spanInZone(c.from, c.to, tz), reason: c.reason })),
                  confirm: t('off.cl.reopen'),
                });
                if (!ok) {
                  btn.focus();
                  return;
                }
                try {
                  await busy(btn, () => api.call('DELETE', `/closures/${c.id}`));
                  announce(t('off.cl.reopened_span', { span: spanInZone(c.from, c.to, tz) }), 'success');
                  ctx.refresh();
                } catch (err) {
                  replace(msg, errorBox(err, t('off.cl.not_reopened')));
                }
              },
            },
            t('off.cl.reopen'),
            h('span', { class: 'visually-hidden' }, ` ${spanInZone(c.from, c.to, tz)}`),
          );
      const by = c.created_by && c.created_by === ctx.me.id ? t('off.cl.by_you') : c.created_by_name ? t('co.by', { who: c.created_by_name }) : '';
      return {
        attrs: { dataset: { closure: c.id, active: lifted ? 'false' : 'true' }, class: ended || lifted ? 'ended' : null },
        cells: [
          spanInZone(c.from, c.to, tz),
          h('div', {}, whatText(c), Number.isFinite(c.slots) ? h('p', { class: 'muted small' }, t(c.slots === 1 ? 'off.cl.slots.one' : 'off.cl.slots.many', { n: c.slots })) : null),
          h('div', {}, c.reason, h('p', { class: 'muted small' }, c.rebook === 'cancel' ? t('off.cl.rebook_cancel') : t('off.cl.rebook_move'))),
          h('div', {}, inZone(c.created_at, tz), by ? h('p', { class: 'muted small' }, by) : null),
          h('div', {}, reopen, msg),
        ],
      };
    });
    replace(
      listBox,
      table({
        caption: t('off.cl.list_caption', { site: site.code }),
        columns: [t('off.cl.range'), t('off.cl.what'), t('off.reason'), t('off.cl.made'), ''],
        rows,
        empty: t('off.cl.none', { site: site.code }),
        className: 'closures',
      }),
    );
  })();

  return h(
    'section',
    { class: 'closures-section', 'aria-labelledby': 'closure-h' },
    result,
    form,
    listHeading,
    listBox,
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
      return { kind: 'error', title: t('gate.invalid'), text: t('gate.invalid_text') };
    case 'wrong-site': {
      const other = sitesById[p.site_id];
      return { kind: 'error', title: t('gate.wrong_site'), text: t('gate.wrong_site_text', { other: other ? siteLabel(other) : t('gate.another_site'), here: siteLabel(site) }) };
    }
    case 'gate-pass-superseded':
      return { kind: 'error', title: t('gate.superseded'), text: or(p.current_version, t('gate.superseded_text', { version: p.version, current: p.current_version })) };
    case 'booking-not-active':
      return { kind: 'error', title: t('gate.not_active'), text: or(p.booking_status, t('gate.not_active_text', { status: statusLabel(p.booking_status).toLowerCase() })) };
    case 'already-checked-in':
      return {
        kind: 'warning',
        title: t('gate.already'),
        text: t('gate.already_text', { when: p.checked_in_at ? ` ${t('gate.at', { when: at(p.checked_in_at) })}` : '', who: p.checked_in_by ? ` ${t('co.by', { who: p.checked_in_by })}` : '' }),
      };
    case 'too-early':
      return { kind: 'warning', title: t('gate.early'), text: or(p.window_opens_at, t('gate.early_text', { from: at(p.window_opens_at), to: at(p.window_closes_at) })) };
    case 'too-late':
      return { kind: 'error', title: t('gate.late'), text: or(p.window_closes_at, t('gate.late_text', { closed: at(p.window_closes_at), opened: at(p.window_opens_at) })) };
    case 'vehicle-missing':
      return { kind: 'error', title: t('gate.no_vehicle'), text: t('gate.no_vehicle_text') };
    case 'declarations-not-cleared': {
      const list = Array.isArray(p.declarations) ? p.declarations : [];
      return {
        kind: 'error',
        title: t('gate.not_cleared'),
        text: list.length ? t('gate.not_cleared_list') : t('gate.not_cleared_text'),
        list: list.map((x) => `${x.number || x.id} — ${statusLabel(x.status)}`),
      };
    }
    case 'no-booking-for-vehicle':
      return {
        kind: 'error',
        title: t('gate.no_booking'),
        text: t('gate.no_booking_text', { vehicle: p.plate ? `${p.country || ''} ${p.plate}`.trim() : '—' }),
      };
    case 'validation':
      return { kind: 'error', title: t('gate.check_entry'), text: (err.fieldErrors || []).map((e) => e.message).join(' ') || describe(err) };
    default:
      return { kind: 'error', title: t('gate.not_checked_in'), text: describe(err) };
  }
}

/** The truck of a booking as the gate sees it: vehicle, driver, containers, each declaration, slot and window. */
async function visitCard(b, site, sitesById, readDecl, opts = {}) {
  const visitSite = sitesById[b.site_id] || site;
  const tz = visitSite.timezone;
  const [decls, ent] = await Promise.all([Promise.all(declIds(b).map(readDecl)), enterprise(b.enterprise_id)]);
  const headingId = `visit-${b.id}`;
  const facts = [
    [t('book.vehicle'), b.vehicle ? h('span', { class: 'plate' }, plateText(b.vehicle, false)) : h('strong', {}, t('gate.none_on_booking'))],
    [t('co.trailer_label'), b.vehicle && b.vehicle.trailer_plate ? h('span', { class: 'plate' }, b.vehicle.trailer_plate) : '—'],
    [t('co.driver'), b.driver ? `${b.driver.name}, ${t('co.document', { number: b.driver.document_number })}` : '—'],
    [t('co.containers'), (b.containers || []).length ? h('ul', { class: 'plain tight mono' }, b.containers.map((c) => h('li', {}, c))) : t('co.none_listed')],
    [t('register.enterprise'), ent.name],
    [t('co.slot_site_time'), slotSpan({ ...b, timezone: tz })],
    [t('gate.arrival_window'), b.arrival_window ? spanInZone(b.arrival_window.opens_at, b.arrival_window.closes_at, tz) : '—'],
    [t('book.site'), siteLabel(visitSite)],
    [
      t('co.booking'),
      h(
        'span',
        {},
        badge(b.status),
        b.checked_in_at ? ` ${t('gate.at', { when: inZone(b.checked_in_at, tz) })}${opts.by ? ` ${t('co.by', { who: opts.by })}` : ''}` : '',
        b.gate_pass ? h('span', { class: 'muted' }, ` · ${t('gate.pass_version', { version: b.gate_pass.version })}`) : '',
      ),
    ],
  ];
  return h(
    'section',
    { class: 'visit card', 'aria-labelledby': headingId, dataset: { booking: b.id } },
    h('h3', { id: headingId }, b.vehicle ? [`${t('off.cl.truck')} `, h('span', { class: 'plate' }, plateText(b.vehicle, false))] : t('gate.no_vehicle_booking')),
    h('dl', { class: 'facts visit-facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    table({
      caption: t('gate.decls_n', { n: declIds(b).length }),
      columns: [t('co.number'), t('co.status'), t('co.risk_lane'), t('co.kind'), t('co.consignee')],
      rows: declIds(b).map((id, i) => {
        const d = decls[i];
        return d
          ? { attrs: { dataset: { declaration: id } }, cells: [h('a', { href: `#/review/${id}`, class: 'mono' }, declarationName(d)), badge(d.status), laneBadge(d.risk_lane), t(`co.kind.${d.kind}`), d.consignee] }
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
    label: t('gate.code'),
    name: 'code',
    hint: t('gate.code_hint'),
    attrs: { autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', class: 'code-input', enterkeyhint: 'go' },
  });
  const codeInput = code.querySelector('input');
  const codeBtn = h('button', { type: 'submit', class: 'primary' }, t('gate.check_in'));
  const codeForm = h('form', { class: 'scan-form', novalidate: true, 'aria-label': t('gate.scan_label') }, code, h('div', { class: 'scan-buttons' }, codeBtn));

  const plate = field({ label: t('co.plate'), name: 'plate', attrs: { autocomplete: 'off', spellcheck: 'false', maxlength: 24, class: 'upper' } });
  const country = field({ label: t('register.country'), name: 'country', hint: t('gate.country_hint'), attrs: { autocomplete: 'off', maxlength: 2, class: 'short upper' } });
  const plateBtn = h('button', { type: 'submit', class: 'secondary' }, t('gate.by_plate'));
  const plateForm = h('form', { class: 'scan-form by-plate', novalidate: true, 'aria-label': t('gate.by_plate') }, h('div', { class: 'plate-fields' }, plate, country), h('div', { class: 'scan-buttons' }, plateBtn));

  async function scan(body, button) {
    replace(result, loading(t('gate.checking')));
    const readDecl = declarationReader();
    try {
      const b = await busy(button, () => api.post('/gate/scan', { site_id: site.id, ...body }));
      const card = await visitCard(b, site, sitesById, readDecl, { by: t('gate.you') });
      const plateName = b.vehicle ? plateText(b.vehicle, false) : t('gate.the_truck');
      replace(
        result,
        h(
          'div',
          { class: 'alert success scan-outcome', role: 'status', dataset: { outcome: 'checked-in' } },
          h('p', { class: 'alert-title' }, t('gate.checked_in_title', { plate: plateName })),
          h('p', {}, t(declIds(b).length === 1 ? 'gate.checked_in_one' : 'gate.checked_in_many', { plate: plateName, when: b.checked_in_at ? ` ${t('gate.at', { when: inZone(b.checked_in_at, site.timezone) })}` : '', n: declIds(b).length })),
        ),
        card,
      );
      announce(t('gate.checked_in_short', { plate: plateName }), 'success');
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
          h('p', { class: 'alert-title' }, t('gate.refused_title', { title: r.title })),
          h('p', {}, r.text),
          r.list && r.list.length ? h('ul', {}, r.list.map((x) => h('li', {}, x))) : null,
        ),
        card,
      );
      announce(`${t('gate.refused_title', { title: r.title })}.`, r.kind);
    }
  }

  codeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = codeInput.value.trim();
    setMessage(code, 'client', value ? '' : t('gate.enter_code'));
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
    setMessage(plate, 'client', p.length >= 2 ? '' : t('gate.enter_plate'));
    setMessage(country, 'client', /^[A-Z]{2}$/.test(c) ? '' : t('gate.two_letters'));
    if (p.length < 2 || !/^[A-Z]{2}$/.test(c)) {
      plateForm.querySelector('[aria-invalid=true]')?.focus();
      return;
    }
    scan({ plate: p, country: c }, plateBtn);
  });

  // The camera, only where the browser can read QR codes itself.
  let camera = null;
  if ('BarcodeDetector' in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    const video = h('video', { class: 'camera', muted: true, playsinline: true, hidden: true, 'aria-label': t('gate.camera_view') });
    const status = h('p', { class: 'hint', 'aria-live': 'polite' });
    video.muted = true;
    let stream = null;
    const stop = () => {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.srcObject = null;
      video.hidden = true;
      camBtn.textContent = t('gate.scan_camera');
      window.removeEventListener('hashchange', stop);
    };
    const start = async () => {
      try {
        const formats = BarcodeDetector.getSupportedFormats ? await BarcodeDetector.getSupportedFormats() : ['qr_code'];
        if (!formats.includes('qr_code')) {
          replace(status, t('gate.no_qr'));
          return;
        }
        const detector = new BarcodeDetector({ formats: ['qr_code'] });
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
        video.srcObject = stream;
        video.hidden = false;
        await video.play();
        camBtn.textContent = t('gate.stop_camera');
        replace(status, t('gate.hold'));
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
              replace(status, t('gate.code_read'));
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
        replace(status, t('gate.camera_failed', { why: err.message }));
      }
    };
    const camBtn = h('button', { type: 'button', class: 'secondary', onclick: () => (stream ? stop() : start()) }, t('gate.scan_camera'));
    codeForm.querySelector('.scan-buttons').append(camBtn);
    camera = h('div', { class: 'camera-box' }, video, status);
  }

  const panel = h(
    'section',
    { class: 'card scan-panel', 'aria-labelledby': 'scan-h' },
    h('h2', { id: 'scan-h' }, t('gate.scan_title', { site: site.code })),
    h('div', { class: 'scan-forms' }, codeForm, h('p', { class: 'scan-or', 'aria-hidden': 'true' }, t('gate.or')), plateForm),
    camera,
  );
  return { panel, result, focus: () => codeInput.focus() };
}

export async function gatePage(ctx) {
  const sites = await ctx.sites();
  const site = chosenSite(ctx, sites);
  if (!site) return h('div', {}, pageTitle(t('route.gate')), h('p', { class: 'empty' }, t('df.no_sites')));
  const sitesById = byId(sites);
  const today = todayIn(site.timezone);
  const from = new Date(midnight(site.timezone, today));
  const to = new Date(midnight(site.timezone, addDays(today, 2)));
  const show = ctx.query.show || 'open';
  const filterInput = h('input', { type: 'search', id: 'gate-filter', placeholder: t('gate.filter_placeholder'), autocomplete: 'off' });
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
              announce(`${who}: ${done}.`, 'success'); // i18n-ok: `done` comes from the catalog
              await renderTable();
            } catch (err) {
              const r = gateRefusal(err, site, sitesById);
              replace(msg, h('div', { class: `alert ${r.kind}`, role: 'alert' }, h('p', { class: 'alert-title' }, `${label}: ${r.title}`), h('p', {}, r.text), r.list ? h('ul', {}, r.list.map((x) => h('li', {}, x))) : null)); // i18n-ok: both from the catalog
            }
          },
        }, label, h('span', { class: 'visually-hidden' }, ` ${who}`));
        actions.append(btn);
      };
      const allowed = (a, fallback) => (Array.isArray(b.allowed_actions) ? b.allowed_actions.includes(a) : fallback);
      if (allowed('check-in', b.status === 'confirmed')) gate('check-in', t('gate.check_in'), 'primary', t('gate.done.checked_in'));
      // The server lists `no-show` for every confirmed booking; it takes one only once the slot has ended.
      if (allowed('no-show', b.status === 'confirmed') && new Date(b.ends_at) <= now) gate('no-show', t('status.no_show'), 'danger', t('gate.done.no_show'));
      if (allowed('complete', b.status === 'checked_in')) gate('complete', t('gate.complete'), 'primary', t('gate.done.completed'));
      const search = [plate, b.vehicle ? b.vehicle.plate : '', b.vehicle && b.vehicle.trailer_plate, ...names, ents[i].name, ...(b.containers || [])].filter(Boolean).join(' ').toLowerCase();
      return {
        attrs: { dataset: { row: b.id, status: b.status, search } },
        cells: [
          slotTime(b, site),
          b.vehicle
            ? h('div', {}, h('span', { class: 'plate' }, plate), b.vehicle.trailer_plate ? h('p', { class: 'muted small' }, t('co.trailer_n', { plate: b.vehicle.trailer_plate })) : null)
            : h('span', { class: 'muted' }, t('gate.no_vehicle_short')),
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
      caption: t('gate.table_caption', { site: site.code, zone: zoneLabel(currentOffset(site.timezone), site.timezone) }),
      columns: [t('co.slot_site_time'), t('book.vehicle'), t('gate.decls_col'), t('register.enterprise'), t('co.booking'), t('gate.actions')],
      rows,
      empty: show === 'open' ? t('gate.nobody') : t('gate.no_bookings'),
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

  const scanner = scanPanel(site, sitesById, () => renderTable().catch((err) => replace(tableBox, errorBox(err, t('gate.reload_failed')))));
  await renderTable();
  // The code field takes the focus once the page is shown: a hand scanner types into it.
  setTimeout(() => {
    if (scanner.panel.isConnected) scanner.focus();
  }, 0);
  return h(
    'div',
    { class: 'gate-page' },
    pageTitle(t('route.gate')),
    h('div', { class: 'toolbar' }, sitePicker(ctx, sites, site, { show })),
    scanner.panel,
    scanner.result,
    h(
      'section',
      { 'aria-labelledby': 'expected-h' },
      h('h2', { id: 'expected-h' }, t('gate.expected')),
      h(
        'div',
        { class: 'toolbar' },
        h(
          'nav',
          { class: 'filters', 'aria-label': t('co.which_bookings') },
          h('a', { href: `#/gate?site=${site.id}&show=open`, 'aria-current': show === 'open' ? 'page' : null }, t('gate.show_open')),
          h('a', { href: `#/gate?site=${site.id}&show=all`, 'aria-current': show === 'all' ? 'page' : null }, t('gate.show_all')),
        ),
        h('div', { class: 'field inline' }, h('label', { for: 'gate-filter' }, t('gate.find')), filterInput),
      ),
      h('p', { class: 'muted' }, t('gate.days', { today: longDay(today), tomorrow: longDay(addDays(today, 1)), site: site.name })),
      tableBox,
    ),
  );
}

// ---- sites and schedules (supervisors) -------------------------------------

const COMMON_ZONES = ['Asia/Urumqi', 'Asia/Shanghai', 'Asia/Almaty', 'Asia/Tashkent', 'Asia/Bishkek', 'Europe/Tallinn', 'Europe/Riga', 'Europe/Warsaw', 'UTC'];

/** The seven booking rules of a site, as the form shows them (label and hint: `policy.<key>` and `policy.<key>.hint`). */
const POLICY_FIELDS = [
  ['min_notice_minutes', 0, 10080],
  ['min_notice_minutes_advanced', 0, 10080],
  ['horizon_days', 1, 366],
  ['cancel_cutoff_minutes', 0, 10080],
  ['max_share_percent', 1, 100],
  ['arrival_early_minutes', 0, 1440],
  ['arrival_late_minutes', 0, 1440],
];

/**
 * A supervisor's form for a site's booking rules: the effective values
 * (`policy` of the site), sent as the keys that changed; an emptied field
 * is sent as null (back to the deployment's default).
 */
function policyForm(ctx, site) {
  const policy = site.policy;
  if (!policy || typeof policy !== 'object') {
    return h('p', { class: 'muted policy-missing' }, t('policy.missing'));
  }
  const wraps = {};
  for (const [key, min] of POLICY_FIELDS) {
    const v = policy[key];
    const label = t(`policy.${key}`);
    const hint = t(`policy.${key}.hint`);
    wraps[key] = field({ label, name: `policy.${key}`, type: 'number', value: v === null || v === undefined ? '' : String(v), hint, attrs: { min, step: 1, class: 'short', inputmode: 'numeric' } });
  }
  const msg = h('div', { class: 'row-msg', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'secondary' }, t('policy.save'), h('span', { class: 'visually-hidden' }, ` ${site.code}`));
  const headingId = `policy-${site.id}`;
  const form = h(
    'form',
    { class: 'policy-form', novalidate: true, 'aria-labelledby': headingId, dataset: { site: site.id } },
    h('h3', { id: headingId }, t('policy.title', { site: site.code })),
    h('p', { class: 'hint' }, t('policy.hint')),
    h('div', { class: 'grid policy-grid' }, POLICY_FIELDS.map(([key]) => wraps[key])),
    h('div', { class: 'actions left' }, save),
    msg,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(msg);
    const changes = {};
    for (const [key] of POLICY_FIELDS) {
      const w = wraps[key];
      setMessage(w, 'server', '');
      const text = w.querySelector('input').value.trim();
      const n = text === '' ? null : Number(text);
      // The ranges are the server's to judge (its message goes beside the field).
      const bad = n !== null && (!Number.isInteger(n) || n < 0);
      setMessage(w, 'client', bad ? t('policy.whole') : '');
      const before = policy[key] === undefined ? null : policy[key];
      if (!bad && n !== before) changes[key] = n;
    }
    if (form.querySelector('[aria-invalid=true]')) {
      form.querySelector('[aria-invalid=true]').focus();
      return;
    }
    if (!Object.keys(changes).length) {
      replace(msg, h('p', { class: 'muted' }, t('off.nothing_changed')));
      return;
    }
    try {
      await busy(save, () => api.patch(`/sites/${site.id}`, { policy: changes }));
      announce(t('policy.saved', { site: site.code }), 'success');
      ctx.refresh();
    } catch (err) {
      let placed = 0;
      for (const fe of err.fieldErrors || []) {
        const key = String(fe.field).replace(/^policy\./, '');
        if (wraps[key]) {
          setMessage(wraps[key], 'server', fe.message);
          placed += 1;
        }
      }
      replace(
        msg,
        placed
          ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, t('policy.not_saved')), h('p', {}, placed === 1 ? t('policy.refused_one') : t('policy.refused_many')))
          : errorBox(err, t('policy.not_saved')),
      );
      form.querySelector('[aria-invalid=true]')?.focus();
    }
  });
  return form;
}

export async function sitesPage(ctx) {
  const sites = await ctx.sites(true);
  const schedules = await Promise.all(sites.map((s) => api.get(`/sites/${s.id}/schedules`).then((r) => r.items).catch(() => [])));
  const result = h('div', { class: 'form-result', 'aria-live': 'polite' });

  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : COMMON_ZONES;
  const f = {
    code: field({ label: t('sites.code'), name: 'code', required: true, hint: t('sites.code_hint'), attrs: { maxlength: 5, class: 'short upper' } }),
    name: field({ label: t('sites.name'), name: 'name', required: true, attrs: { maxlength: 200 } }),
    timezone: field({ label: t('sites.timezone'), name: 'timezone', required: true, value: 'Asia/Shanghai', hint: t('sites.timezone_hint'), attrs: { list: 'zones' } }),
    display_zones: field({ label: t('sites.display_zones'), name: 'display_zones', value: 'Asia/Urumqi, Asia/Almaty', hint: t('sites.display_zones_hint'), attrs: { autocomplete: 'off' } }),
  };
  const modes = h(
    'fieldset',
    { class: 'field checks', dataset: { for: 'modes' } },
    h('legend', {}, t('sites.modes')),
    ['road', 'rail', 'air'].map((m) => h('label', {}, h('input', { type: 'checkbox', name: 'modes', value: m, checked: m === 'road' }), ` ${t(`mode.${m}`)}`)),
    h('div', { class: 'messages' }, h('p', { class: 'msg client' }), h('p', { class: 'msg server' })),
  );
  const siteForm = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'new-site-h' },
    h('h2', { id: 'new-site-h' }, t('sites.new')),
    h('div', { class: 'grid' }, f.code, f.name, f.timezone, f.display_zones, modes),
    h('datalist', { id: 'zones' }, zones.map((z) => h('option', { value: z }))),
    h('div', { class: 'actions left' }, h('button', { type: 'submit', class: 'primary' }, t('sites.create'))),
  );
  siteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fd = new FormData(siteForm);
    const body = { code: String(fd.get('code')).trim().toUpperCase(), name: String(fd.get('name')).trim(), timezone: String(fd.get('timezone')).trim(), modes: fd.getAll('modes') };
    const shown = String(fd.get('display_zones') || '').split(',').map((z) => z.trim()).filter(Boolean);
    if (shown.length) body.display_zones = shown;
    for (const [k, w] of Object.entries(f)) setMessage(w, 'server', '');
    setMessage(f.code, 'client', /^[A-Z]{2}[A-Z2-9]{3}$/.test(body.code) ? '' : t('sites.code_check'));
    setMessage(f.name, 'client', body.name ? '' : t('sites.enter_name'));
    setMessage(modes, 'client', body.modes.length ? '' : t('sites.one_mode'));
    if (siteForm.querySelector('[aria-invalid=true]') || !body.modes.length) return;
    try {
      await busy(e.submitter, () => api.post('/sites', body));
      announce(t('sites.created', { code: body.code }), 'success');
      ctx.refresh();
    } catch (err) {
      for (const fe of err.fieldErrors) {
        const w = f[fe.field] || (fe.field.startsWith('modes') ? modes : fe.field.startsWith('display_zones') ? f.display_zones : null);
        if (w) setMessage(w, 'server', fe.message);
      }
      replace(result, errorBox(err, t('sites.not_created')));
    }
  });

  const cards = sites.map((s, i) => {
    const sch = schedules[i];
    const form = h('form', { class: 'inline-form', novalidate: true });
    const modeSel = field({ label: t('book.transport_mode'), name: 'mode', options: s.modes.map((m) => ({ value: m, label: t(`mode.${m}`) })) });
    const minutes = field({ label: t('sites.slot_length_min'), name: 'slot_minutes', value: '60', options: [15, 30, 60, 120, 240].map((m) => ({ value: m, label: String(m) })) });
    const cap = field({ label: t('sites.capacity_per_slot'), name: 'capacity', type: 'number', value: '10', attrs: { min: 0, max: 10000, class: 'short' } });
    const reserved = field({ label: t('sites.reserved'), name: 'reserved_advanced', type: 'number', value: '0', hint: t('sites.reserved_hint'), attrs: { min: 0, max: 10000, class: 'short' } });
    const release = field({ label: t('sites.released'), name: 'release_minutes', type: 'number', value: '1440', hint: t('sites.released_hint'), attrs: { min: 0, max: 43200, class: 'short' } });
    const msg = h('div', { class: 'row-msg', 'aria-live': 'polite' });
    form.append(modeSel, minutes, cap, reserved, release, h('div', { class: 'actions left' }, h('button', { type: 'submit', class: 'secondary' }, t('sites.add_schedule'))), msg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      replace(msg);
      const body = { mode: fd.get('mode'), slot_minutes: Number(fd.get('slot_minutes')), capacity: Number(fd.get('capacity')) };
      // Sent only when used, so that a server without reserved places takes the form as before.
      const n = Number(fd.get('reserved_advanced') || 0);
      if (n > 0) {
        body.reserved_advanced = n;
        body.release_minutes = Number(fd.get('release_minutes') || 0);
      }
      try {
        const r = await busy(e.submitter, () => api.post(`/sites/${s.id}/schedules`, body));
        announce(t('sites.schedule_added', { code: s.code, n: r.slots_created }), 'success');
        ctx.refresh();
      } catch (err) {
        replace(msg, errorBox(err, t('sites.schedule_failed')));
      }
    });
    return h(
      'section',
      { class: 'card site-card', 'aria-labelledby': `site-${s.id}`, dataset: { site: s.id } },
      h('h2', { id: `site-${s.id}` }, siteLabel(s)),
      h('p', {}, t('sites.card_line', { zone: zoneLabel(s.utc_offset, s.timezone), also: (s.display_zones || []).length ? ` · ${t('sites.also', { zones: s.display_zones.map(zoneName).join(', ') })}` : '', modes: s.modes.map((m) => t(`mode.${m}`)).join(', ') })),
      policyForm(ctx, s),
      table({
        caption: t('sites.schedules_of', { code: s.code }),
        columns: [t('book.transport_mode'), t('sites.slot_length'), t('sites.capacity'), t('sites.reserved_aeo'), t('sites.days'), t('sites.valid')],
        rows: sch.map((x) => [
          t(`mode.${x.mode}`),
          t('sites.n_min', { n: x.slot_minutes }),
          String(x.capacity),
          x.reserved_advanced > 0 ? t('sites.reserved_released', { n: x.reserved_advanced, min: x.release_minutes }) : '—',
          x.days.join(' '),
          `${x.valid_from} → ${x.valid_to || t('sites.open_ended')}`,
        ]),
        empty: t('sites.no_schedule'),
      }),
      form,
    );
  });

  return h('div', {}, pageTitle(t('route.sites')), result, siteForm, cards);
}

