// The public board for a gate display (`#/board/{code}`, no sign-in): free
// places per slot of the next hours in large type. It refreshes itself
// every 30 s with the ETag it holds (a 304 costs nothing), and cycles
// through Chinese, Russian and English every 20 s. The language it shows is
// not stored for any user: the language before the board is restored when
// the page is left.

import { h, replace } from './ui.js';
import { t, language, setLanguage } from './i18n.js';
import { localParts } from './time.js';

const REFRESH_MS = 30_000;
const LANGUAGE_MS = 20_000;
const CYCLE = ['zh-CN', 'ru', 'en'];
/** Hours of slots shown from the current hour. */
const HOURS = 12;

/** What the board holds between refreshes. */
function boardState(code) {
  return { code, etag: null, data: null, error: null, updated: null };
}

async function fetchBoard(st) {
  const from = new Date();
  from.setUTCMinutes(0, 0, 0);
  const to = new Date(from.getTime() + HOURS * 3600_000);
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  const headers = { Accept: 'application/json' };
  if (st.etag) headers['If-None-Match'] = st.etag;
  const res = await fetch(`/api/v1/public/sites/${encodeURIComponent(st.code)}/availability?${q}`, { headers });
  if (res.status === 304) {
    st.updated = new Date();
    return;
  }
  if (!res.ok) {
    st.error = res.status;
    return;
  }
  st.etag = res.headers.get('ETag');
  st.data = await res.json();
  st.error = null;
  st.updated = new Date();
}

function render(root, st) {
  if (st.error && !st.data) {
    replace(root, h('h1', { class: 'board-title' }, st.code), h('p', { class: 'board-error', role: 'alert' }, st.error === 404 ? t('board.unknown_site') : t('board.unavailable')));
    return;
  }
  if (!st.data) return;
  const { site, items } = st.data;
  const rows = items.map((s) => {
    const p = localParts(s.starts_at_local);
    const state = !s.open ? 'closed' : s.available === 0 ? 'full' : s.available <= Math.max(1, Math.floor(s.capacity / 5)) ? 'few' : 'free';
    return h(
      'tr',
      { class: `board-row ${state}` },
      h('th', { scope: 'row' }, p.time),
      h('td', {}, t(`board.mode.${s.mode}`)),
      h('td', { class: 'num' }, s.open ? String(s.available) : '—'),
      h('td', { class: 'num' }, String(s.capacity)),
      h('td', {}, t(`board.state.${state}`)),
    );
  });
  const updated = st.updated ? st.updated.toLocaleTimeString(language(), { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
  replace(
    root,
    h('header', { class: 'board-head' },
      h('h1', { class: 'board-title', tabindex: '-1' }, `${site.name} · ${site.code}`),
      h('p', { class: 'board-sub' }, t('board.subtitle', { zone: site.timezone })),
    ),
    rows.length
      ? h('table', { class: 'board-table' },
          h('caption', { class: 'visually-hidden' }, t('board.caption')),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, t('board.col.time')),
            h('th', { scope: 'col' }, t('board.col.mode')),
            h('th', { scope: 'col', class: 'num' }, t('board.col.free')),
            h('th', { scope: 'col', class: 'num' }, t('board.col.capacity')),
            h('th', { scope: 'col' }, t('board.col.state')))),
          h('tbody', {}, rows))
      : h('p', { class: 'board-empty' }, t('board.empty')),
    h('p', { class: 'board-foot' }, t('board.updated', { time: updated })),
  );
}

/** Stops the board that is showing (its timers), if any. */
let stopBoard = null;

export async function boardPage(ctx) {
  if (stopBoard) stopBoard();
  const code = (ctx.params[0] || '').toUpperCase();
  const st = boardState(code);
  const root = h('div', { class: 'board', lang: language() });
  const before = language();
  document.body.classList.add('board-mode');
  await fetchBoard(st).catch(() => {
    st.error = 0;
  });
  render(root, st);
  let turn = Math.max(0, CYCLE.indexOf(before));
  const refresh = setInterval(async () => {
    await fetchBoard(st).catch(() => {
      st.error = 0;
    });
    render(root, st);
  }, REFRESH_MS);
  const cycle = setInterval(() => {
    turn = (turn + 1) % CYCLE.length;
    // No user id: nothing is remembered for a user (the language before is restored on leaving).
    setLanguage(CYCLE[turn]);
    root.setAttribute('lang', CYCLE[turn]);
    render(root, st);
  }, LANGUAGE_MS);
  const stop = () => {
    clearInterval(refresh);
    clearInterval(cycle);
    window.removeEventListener('hashchange', leave);
    stopBoard = null;
  };
  // Leaving the board: the console's chrome and language come back.
  const leave = () => {
    if (/^#\/board\//.test(location.hash)) return;
    stop();
    document.body.classList.remove('board-mode');
    setLanguage(before);
  };
  stopBoard = stop;
  window.addEventListener('hashchange', leave);
  return root;
}
