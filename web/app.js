// The Clearway console: sign-in, then pages by role. Hash routes (#/…), so
// the server serves one page and its assets and nothing else.

import * as api from './api.js';
import { h, replace, announce, errorBox, field, setMessage, liveCheck, pageTitle, busy, describe, placeToast, roleName } from './ui.js';
import * as company from './company.js';
import { declarationForm } from './declaration-form.js';
import { heatmapPage } from './heatmap.js';
import * as officer from './officer.js';
import { t, LANGUAGES, language, setLanguage, restoreFor } from './i18n.js';
import { reportsPage } from './reports.js';
import { boardPage } from './board.js';
import { calendarPage } from './calendar.js';

const COMPANY = ['company_admin', 'company_clerk'];
const CUSTOMS = ['officer', 'supervisor'];



/** Pages: a pattern on the hash path, who may see it, and its nav entry (`nav`, `title`: catalog keys). */
const ROUTES = [
  { re: /^\/login$/, page: loginPage, anonymous: true, title: 'route.login' },
  { re: /^\/register$/, page: registerPage, anonymous: true, title: 'route.register' },
  { re: /^\/declarations$/, href: '#/declarations', page: company.declarationsPage, roles: COMPANY, nav: 'route.declarations', title: 'route.declarations' },
  { re: /^\/declarations\/new$/, href: '#/declarations/new', page: declarationForm, roles: COMPANY, nav: 'route.declaration_new', title: 'route.declaration_new' },
  { re: /^\/declarations\/([^/]+)\/edit$/, page: declarationForm, roles: COMPANY, title: 'route.declaration_edit' },
  { re: /^\/declarations\/([^/]+)$/, page: company.declarationPage, roles: COMPANY, title: 'route.declaration' },
  { re: /^\/book$/, href: '#/book', page: heatmapPage, roles: COMPANY, nav: 'nav.book', title: 'route.book' },
  { re: /^\/bookings$/, href: '#/bookings', page: company.bookingsPage, roles: COMPANY, nav: 'route.bookings', title: 'route.bookings' },
  { re: /^\/bookings\/([^/]+)$/, page: company.bookingPage, roles: COMPANY, title: 'route.booking' },
  { re: /^\/enterprises$/, href: '#/enterprises', page: officer.enterprisesPage, roles: CUSTOMS, nav: 'route.enterprises', title: 'route.enterprises' },
  { re: /^\/review$/, href: '#/review', page: officer.reviewQueuePage, roles: CUSTOMS, nav: 'route.review_queue', title: 'route.review_queue' },
  { re: /^\/review\/([^/]+)$/, page: officer.reviewPage, roles: CUSTOMS, title: 'route.review' },
  { re: /^\/capacity$/, href: '#/capacity', page: officer.capacityPage, roles: CUSTOMS, nav: 'route.capacity', title: 'route.capacity' },
  { re: /^\/gate$/, href: '#/gate', page: officer.gatePage, roles: CUSTOMS, nav: 'route.gate', title: 'route.gate' },
  { re: /^\/sites$/, href: '#/sites', page: officer.sitesPage, roles: ['supervisor'], nav: 'nav.sites', title: 'route.sites' },
  // Reports, the public board and calendar feeds.
  { re: /^\/reports$/, href: '#/reports', page: reportsPage, roles: CUSTOMS, nav: 'reports.nav', title: 'reports.title' },
  { re: /^\/calendar$/, href: '#/calendar', page: calendarPage, roles: ['company_admin'], nav: 'calendar.nav', title: 'calendar.title' },
  // The gate display: shown signed in or not.
  { re: /^\/board\/([^/]+)$/, page: boardPage, public: true, title: 'board.title' },
];

const state = { me: null, enterprise: null, sites: null };

/** What every page gets. */
function context(params, query) {
  return {
    me: state.me,
    enterprise: state.enterprise,
    params,
    query,
    isCompany: state.me && COMPANY.includes(state.me.role),
    isSupervisor: state.me && state.me.role === 'supervisor',
    navigate,
    refresh: () => route(),
    /** Every site, read once per session (`force` re-reads). */
    async sites(force = false) {
      if (!state.sites || force) state.sites = await api.all('/sites');
      return state.sites;
    },
    async reloadEnterprise() {
      await loadEnterprise();
      renderHeader();
      return state.enterprise;
    },
  };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, q = ''] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(q)) };
}

function homeFor(me) {
  if (!me) return '#/login';
  return COMPANY.includes(me.role) ? '#/declarations' : '#/review';
}

async function loadEnterprise() {
  state.enterprise = null;
  if (state.me && state.me.enterprise_id) {
    try {
      state.enterprise = await api.get(`/enterprises/${state.me.enterprise_id}`);
    } catch {
      state.enterprise = null;
    }
  }
}

async function loadMe() {
  if (!api.session.token) {
    state.me = null;
    return;
  }
  try {
    state.me = await api.get('/me');
    await loadEnterprise();
  } catch {
    state.me = null;
    api.session.clear();
  }
}

function renderHeader() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const { path } = parseHash();
  if (!state.me) {
    replace(nav);
    replace(who);
    return;
  }
  const items = ROUTES.filter((r) => r.nav && r.roles && r.roles.includes(state.me.role));
  replace(
    nav,
    h(
      'ul',
      {},
      items.map((r) => {
        const current = r.re.test(path);
        return h('li', {}, h('a', { href: r.href, 'aria-current': current ? 'page' : null }, t(r.nav)));
      }),
    ),
  );
  const ent = state.enterprise;
  replace(
    who,
    h(
      'p',
      { class: 'who-line' },
      h('span', { class: 'who-name' }, state.me.display_name || state.me.email),
      h('span', { class: 'who-role' }, roleName(state.me.role)),
      ent ? h('span', { class: 'who-ent' }, ent.name) : null,
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        onclick: async (e) => {
          await busy(e.currentTarget, () => api.logout());
          state.me = null;
          state.enterprise = null;
          state.sites = null;
          announce(t('app.signed_out'));
          navigate('#/login');
        },
      },
      t('app.sign_out'),
    ),
  );
}

/** The language switcher of the header: remembered for the signed-in user (and this browser). */
function languageSwitcher() {
  const box = document.getElementById('lang');
  if (!box) return;
  const id = 'lang-select';
  const select = h(
    'select',
    {
      id,
      class: 'lang-select',
      onchange: (e) => {
        setLanguage(e.currentTarget.value, state.me && state.me.id);
        renderStatic();
        route();
        announce(t('language.changed'));
      },
    },
    LANGUAGES.map((l) => h('option', { value: l.code, lang: l.code, selected: l.code === language() }, l.name)),
  );
  replace(box, h('label', { for: id, class: 'lang-label' }, t('language.label')), select);
}

/** The page's own text (index.html holds none of its own words): filled in the language chosen. */
function renderStatic() {
  document.documentElement.lang = language();
  const set = (sel, text) => {
    const el = document.querySelector(sel);
    if (el) el.textContent = text;
  };
  set('.skip-link', t('app.skip'));
  set('.brand-sub', t('app.tagline'));
  set('#foot-times', t('app.footer_times'));
  set('#foot-docs', t('app.footer_docs'));
  document.getElementById('nav')?.setAttribute('aria-label', t('app.nav_label'));
  const loadingText = document.querySelector('#main > .loading');
  if (loadingText) loadingText.textContent = t('app.loading');
  languageSwitcher();
}

/** The pending/suspended banner of a company. */
function enterpriseBanner() {
  const ent = state.enterprise;
  if (!ent || ent.status === 'verified') return null;
  const text =
    ent.status === 'pending'
      ? t('app.banner_pending')
      : t('app.banner_suspended');
  return h('div', { class: `alert ${ent.status === 'pending' ? 'warning' : 'error'}`, role: 'status' }, h('p', {}, text));
}

let rendering = 0;

async function route() {
  const ticket = (rendering += 1);
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  const found = ROUTES.map((r) => ({ r, m: r.re.exec(path) })).find((x) => x.m);
  if (!found) {
    navigate(homeFor(state.me));
    return;
  }
  const { r, m } = found;
  if (!r.anonymous && !r.public && !state.me) {
    navigate('#/login');
    return;
  }
  if (r.anonymous && state.me) {
    navigate(homeFor(state.me));
    return;
  }
  if (r.roles && !r.roles.includes(state.me.role)) {
    navigate(homeFor(state.me));
    return;
  }
  if (state.enterprise && state.enterprise.status !== 'verified') {
    // A pending enterprise may have been verified meanwhile.
    await loadEnterprise();
  }
  renderHeader();
  document.title = `${t(r.title)} · Clearway`; // i18n-ok: the brand
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    content = await r.page(context(m.slice(1).map(decodeURIComponent), query));
  } catch (err) {
    content = h('div', {}, pageTitle(t(r.title)), errorBox(err, t('app.page_failed')));
  }
  if (ticket !== rendering) return; // a newer navigation won
  main.removeAttribute('aria-busy');
  replace(main, r.roles && COMPANY.some((x) => r.roles.includes(x)) ? enterpriseBanner() : null, content);
  placeToast();
  const title = main.querySelector('h1');
  if (title && document.activeElement && !main.contains(document.activeElement)) {
    title.focus({ preventScroll: false });
  }
}

// ---- sign in and registration -------------------------------------------

function loginPage() {
  const email = field({ label: t('login.email'), name: 'email', type: 'email', required: true, attrs: { autocomplete: 'username' } });
  const password = field({
    label: t('login.password'),
    name: 'password',
    type: 'password',
    required: true,
    attrs: { autocomplete: 'current-password' },
  });
  const result = h('div', { class: 'form-result' });
  const form = h(
    'form',
    {
      class: 'card narrow',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const btn = form.querySelector('button[type=submit]');
        const values = Object.fromEntries(new FormData(form));
        let ok = true;
        setMessage(email, 'client', values.email.trim() ? '' : t('login.enter_email'));
        setMessage(password, 'client', values.password ? '' : t('login.enter_password'));
        if (!values.email.trim() || !values.password) ok = false;
        replace(result);
        if (!ok) {
          form.querySelector('[aria-invalid=true]')?.focus();
          return;
        }
        try {
          await busy(btn, () => api.login(values.email.trim(), values.password));
          await loadMe();
          restoreFor(state.me.id);
          renderStatic();
          announce(t('login.signed_in', { name: state.me.display_name || state.me.email }));
          navigate(homeFor(state.me));
        } catch (err) {
          // Said once: the server's detail for a 401 is the same sentence as the heading.
          replace(
            result,
            err.status === 401
              ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, t('login.wrong')), h('p', {}, t('login.wrong_hint')))
              : errorBox(err, t('login.failed')),
          );
          password.querySelector('input').select();
        }
      },
    },
    email,
    password,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('login.submit'))),
    result,
    h('p', { class: 'aside' }, t('login.new_company'), ' ', h('a', { href: '#/register' }, t('login.register_link'))),
  );
  return h(
    'div',
    { class: 'login' },
    pageTitle(t('login.title')),
    h(
      'p',
      { class: 'lead' },
      t('login.lead'),
    ),
    form,
  );
}

function registerPage() {
  const fields = {
    'enterprise.name': field({ label: t('register.legal_name'), name: 'enterprise.name', required: true, attrs: { autocomplete: 'organization' } }),
    'enterprise.country': field({
      label: t('register.country'),
      name: 'enterprise.country',
      required: true,
      hint: t('register.country_hint'),
      attrs: { maxlength: 2, autocomplete: 'country', class: 'short upper' },
    }),
    'enterprise.registration_code': field({
      label: t('register.code'),
      name: 'enterprise.registration_code',
      required: true,
      hint: t('register.code_hint'),
      attrs: { class: 'upper', autocomplete: 'off' },
    }),
    'admin.display_name': field({ label: t('register.your_name'), name: 'admin.display_name', required: true, attrs: { autocomplete: 'name' } }),
    'admin.email': field({ label: t('register.your_email'), name: 'admin.email', type: 'email', required: true, attrs: { autocomplete: 'email' } }),
    'admin.password': field({
      label: t('login.password'),
      name: 'admin.password',
      type: 'password',
      required: true,
      hint: t('register.password_hint'),
      attrs: { autocomplete: 'new-password', minlength: 12 },
    }),
  };
  const checks = {
    'enterprise.name': (v) => (v.trim() ? '' : t('register.enter_name')),
    'enterprise.country': (v) => (/^[A-Za-z]{2}$/.test(v.trim()) ? '' : t('register.two_letters')),
    'enterprise.registration_code': (v) => (v.trim() ? '' : t('register.enter_code')),
    'admin.display_name': (v) => (v.trim() ? '' : t('register.enter_your_name')),
    'admin.email': (v) => (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v.trim()) ? '' : t('register.enter_email')),
    'admin.password': (v) => (v.length >= 12 ? '' : t('register.password_short', { n: v.length })),
  };
  const result = h('div', { class: 'form-result' });
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    h('fieldset', {}, h('legend', {}, t('register.enterprise')), fields['enterprise.name'], fields['enterprise.country'], fields['enterprise.registration_code']),
    h('fieldset', {}, h('legend', {}, t('register.first_admin')), fields['admin.display_name'], fields['admin.email'], fields['admin.password']),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('register.submit'))),
    result,
    h('p', { class: 'aside' }, t('register.already'), ' ', h('a', { href: '#/login' }, t('login.submit'))),
  );
  for (const [name, wrap] of Object.entries(fields)) {
    liveCheck(wrap, checks[name]);
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(result);
    const v = Object.fromEntries(new FormData(form));
    let bad = false;
    for (const [name, wrap] of Object.entries(fields)) {
      const msg = checks[name](v[name] || '');
      setMessage(wrap, 'client', msg);
      setMessage(wrap, 'server', '');
      bad = bad || Boolean(msg);
    }
    if (bad) {
      form.querySelector('[aria-invalid=true]')?.focus();
      return;
    }
    const body = {
      enterprise: {
        name: v['enterprise.name'].trim(),
        country: v['enterprise.country'].trim().toUpperCase(),
        registration_code: v['enterprise.registration_code'].trim().toUpperCase(),
      },
      admin: { email: v['admin.email'].trim(), password: v['admin.password'], display_name: v['admin.display_name'].trim() },
    };
    const btn = form.querySelector('button[type=submit]');
    try {
      await busy(btn, async () => {
        await api.register(body);
        await api.login(body.admin.email, body.admin.password);
      });
      await loadMe();
      announce(t('register.done'));
      navigate('#/declarations');
    } catch (err) {
      for (const fe of err.fieldErrors || []) {
        if (fields[fe.field]) setMessage(fields[fe.field], 'server', fe.message);
      }
      replace(result, errorBox(err, err.status === 409 ? t('register.duplicate') : t('register.refused')));
      form.querySelector('[aria-invalid=true]')?.focus();
    }
  });
  return h(
    'div',
    {},
    pageTitle(t('route.register')),
    h('p', { class: 'lead' }, t('register.lead')),
    form,
  );
}

// ---- start ---------------------------------------------------------------

window.addEventListener('hashchange', route);
window.addEventListener('clearway:signed-out', (e) => {
  state.me = null;
  state.enterprise = null;
  if (e.detail && e.detail.expired) announce(t('app.session_ended'), 'warning');
  navigate('#/login');
});

(async () => {
  renderStatic();
  await loadMe();
  if (state.me) {
    restoreFor(state.me.id);
    renderStatic();
  }
  route();
})().catch((err) => {
  replace(document.getElementById('main'), errorBox(err, describe(err)));
});
