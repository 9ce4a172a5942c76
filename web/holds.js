// Holds and waitlists in the booking page (issue 16): "Hold this slot" keeps
// a place with a visible countdown while the declarations are chosen; a full
// slot offers "Join the waitlist", with the position in line, and an offer
// from the waitlist surfaces with its own countdown.

import * as api from './api.js';
import { h, replace, announce, errorBox, busy } from './ui.js';
import { slotSpan, spanInZone } from './time.js';
import { t } from './i18n.js';

/** `m:ss` left until `iso`, or null once it has passed. */
export function timeLeft(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (!(ms > 0)) return null;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * A countdown to `iso` that updates every second and calls `onEnd` once it
 * runs out. It stops by itself when removed from the page.
 */
export function countdown(iso, onEnd) {
  const el = h('span', { class: 'countdown mono', role: 'timer', 'aria-live': 'off' });
  const tick = () => {
    const left = timeLeft(iso);
    if (!el.isConnected && el.dataset.started) {
      clearInterval(timer);
      return;
    }
    el.dataset.started = '1';
    if (left === null) {
      clearInterval(timer);
      replace(el, t('holds.expired'));
      if (onEnd) onEnd();
      return;
    }
    replace(el, t('holds.left', { time: left }));
  };
  const timer = setInterval(tick, 1000);
  tick();
  return el;
}

/**
 * "Hold this slot": a button that takes a hold, then shows it with its
 * countdown and a release button. `onChange(hold | null)` tells the booking
 * form which hold to book with.
 */
export function holdControl(slot, onChange) {
  const box = h('div', { class: 'hold-box', 'aria-live': 'polite' });
  const take = h('button', { type: 'button', class: 'secondary', id: 'hold-slot' }, t('holds.hold'));
  take.addEventListener('click', async () => {
    try {
      const hold = await busy(take, () => api.post('/holds', { slot_id: slot.id }));
      onChange(hold);
      shown(hold);
      announce(t('holds.held'), 'success');
    } catch (err) {
      replace(box, take, errorBox(err, t('holds.not_held')));
    }
  });
  function shown(hold) {
    const release = h('button', { type: 'button', class: 'secondary small' }, t('holds.release'));
    release.addEventListener('click', async () => {
      try {
        await busy(release, () => api.call('DELETE', `/holds/${hold.id}`));
      } catch {
        // Already expired or released: the place is free either way.
      }
      onChange(null);
      replace(box, take);
      announce(t('holds.released'), 'info');
    });
    replace(
      box,
      h(
        'div',
        { class: 'alert info hold-banner', role: 'status' },
        h('p', { class: 'alert-title' }, t('holds.title')),
        h('p', {}, t('holds.until', { when: new Date(hold.expires_at).toLocaleTimeString() }), ' ', countdown(hold.expires_at, () => {
          onChange(null);
          replace(box, h('p', { class: 'note' }, t('holds.ran_out')), take);
        })),
        h('p', { class: 'hint' }, t('holds.hint')),
        release,
      ),
    );
  }
  replace(box, take);
  return box;
}

/** "Join the waitlist" for a full slot: waits for a place in it with declaration `d`. */
export function waitlistControl(slot, d, onJoined) {
  const box = h('div', { class: 'card waitlist-box', 'aria-live': 'polite' });
  const join = h('button', { type: 'button', class: 'primary', id: 'join-waitlist' }, t('waitlist.join'));
  join.addEventListener('click', async () => {
    try {
      const entry = await busy(join, () =>
        api.post('/waitlist', { declaration_id: d.id, site_id: slot.site_id, mode: slot.mode, from: slot.starts_at, to: slot.ends_at }),
      );
      replace(box, h('div', { class: 'alert success', role: 'status' }, h('p', { class: 'alert-title' }, t('waitlist.joined')), h('p', { class: 'waitlist-position' }, t('waitlist.position', { n: entry.position }))));
      announce(t('waitlist.position', { n: entry.position }), 'success');
      if (onJoined) onJoined(entry);
    } catch (err) {
      replace(box, h('h2', {}, t('waitlist.full_title')), join, errorBox(err, t('waitlist.not_joined')));
    }
  });
  replace(box, h('h2', {}, t('waitlist.full_title')), h('p', {}, t('waitlist.full_text', { slot: slotSpan(slot) })), join);
  return box;
}

/**
 * The caller's live waitlist entries: position while waiting; an offer with
 * its countdown and a button that books the offered place (`onBook(hold)`).
 */
export function waitlistPanel(onBook, zoneOf = () => 'UTC') {
  const box = h('section', { class: 'waitlist-panel', 'aria-labelledby': 'waitlist-h' });
  async function refresh() {
    let entries;
    try {
      entries = (await api.get('/waitlist?limit=50')).items.filter((e) => e.status === 'waiting' || e.status === 'offered');
    } catch (err) {
      replace(box, errorBox(err, t('waitlist.title')));
      return;
    }
    if (!entries.length) {
      replace(box);
      return;
    }
    const items = await Promise.all(
      entries.map(async (e) => {
        if (e.status === 'offered') {
          const hold = await api.get(`/holds/${e.hold_id}`).catch(() => null);
          const book = h('button', { type: 'button', class: 'primary small book-offer' }, t('waitlist.book_offer'));
          book.addEventListener('click', () => hold && onBook(hold, e));
          return h(
            'li',
            { class: 'waitlist-offer', dataset: { entry: e.id } },
            h('strong', {}, t('waitlist.offered')),
            ' ',
            hold ? (hold.starts_at_local ? slotSpan(hold) : spanInZone(hold.starts_at, hold.ends_at, zoneOf(hold.site_id))) : '',
            ' — ',
            countdown(e.offer_expires_at, refresh),
            ' ',
            book,
          );
        }
        const withdraw = h('button', { type: 'button', class: 'secondary small' }, t('waitlist.withdraw'));
        withdraw.addEventListener('click', async () => {
          await busy(withdraw, () => api.call('DELETE', `/waitlist/${e.id}`)).catch(() => {});
          refresh();
        });
        return h(
          'li',
          { class: 'waitlist-waiting', dataset: { entry: e.id } },
          t('waitlist.position', { n: e.position }),
          ' · ',
          spanInZone(e.from, e.to, zoneOf(e.site_id)),
          ' ',
          withdraw,
        );
      }),
    );
    replace(box, h('h2', { id: 'waitlist-h' }, t('waitlist.title')), h('ul', { class: 'plain waitlist-list' }, items));
  }
  refresh();
  box.refresh = refresh;
  return box;
}
