// The Clearway console: sign-in, then pages by role. Hash routes (#/…), so
// the server serves one page and its assets and nothing else.

import * as api from './api.js';
import { h, replace, announce, errorBox, field, setMessage, liveCheck, pageTitle, busy, describe, placeToast } from './ui.js';
import * as company from './company.js';
import { declarationForm } from './declaration-form.js';
import { heatmapPage } from './heatmap.js';
import * as officer from './officer.js';
import { t } from './i18n.js';
import { reportsPage } from './reports.js';
import { boardPage } from './board.js';
import { calendarPage } from './calendar.js';

const COMPANY = ['company_admin', 'company_clerk'];
const CUSTOMS = ['officer', 'supervisor'];

const ROLE_LABELS = {
  company_admin: 'Company administrator',
  company_clerk: 'Company clerk',
  officer: 'Customs officer',
  supervisor: 'Customs supervisor',
};

/** Pages: a pattern on the hash path, who may see it, and its nav entry. */
const ROUTES = [
  { re: /^\/login$/, page: loginPage, anonymous: true, title: 'Sign in' },
  { re: /^\/register$/, page: registerPage, anonymous: true, title: 'Register a company' },
  { re: /^\/declarations$/, href: '#/declarations', page: company.declarationsPage, roles: COMPANY, nav: 'Declarations', title: 'Declarations' },
  { re: /^\/declarations\/new$/, href: '#/declarations/new', page: declarationForm, roles: COMPANY, nav: 'New declaration', title: 'New declaration' },
  { re: /^\/declarations\/([^/]+)\/edit$/, page: declarationForm, roles: COMPANY, title: 'Edit declaration' },
  { re: /^\/declarations\/([^/]+)$/, page: company.declarationPage, roles: COMPANY, title: 'Declaration' },
  { re: /^\/book$/, href: '#/book', page: heatmapPage, roles: COMPANY, nav: 'Book a slot', title: 'Book a clearance slot' },
  { re: /^\/bookings$/, href: '#/bookings', page: company.bookingsPage, roles: COMPANY, nav: 'Bookings', title: 'Bookings' },
  { re: /^\/bookings\/([^/]+)$/, page: company.bookingPage, roles: COMPANY, title: 'Booking and gate pass' },
  { re: /^\/enterprises$/, href: '#/enterprises', page: officer.enterprisesPage, roles: CUSTOMS, nav: 'Enterprises', title: 'Enterprises' },
  { re: /^\/review$/, href: '#/review', page: officer.reviewQueuePage, roles: CUSTOMS, nav: 'Review queue', title: 'Review queue' },
  { re: /^\/review\/([^/]+)$/, page: officer.reviewPage, roles: CUSTOMS, title: 'Review declaration' },
  { re: /^\/capacity$/, href: '#/capacity', page: officer.capacityPage, roles: CUSTOMS, nav: 'Capacity board', title: 'Capacity board' },
  { re: /^\/gate$/, href: '#/gate', page: officer.gatePage, roles: CUSTOMS, nav: 'Gate', title: 'Gate' },
  { re: /^\/sites$/, href: '#/sites', page: officer.sitesPage, roles: ['supervisor'], nav: 'Sites & schedules', title: 'Sites and schedules' },
  // Reports, the public board and calendar feeds (issue 18): titles in the reader's language.
  { re: /^\/reports$/, href: '#/reports', page: reportsPage, roles: CUSTOMS, get nav() { return t('reports.nav'); }, get title() { return t('reports.title'); } },
  { re: /^\/calendar$/, href: '#/calendar', page: calendarPage, roles: ['company_admin'], get nav() { return t('calendar.nav'); }, get title() { return t('calendar.title'); } },
  // The gate display: shown signed in or not.
  { re: /^\/board\/([^/]+)$/, page: boardPage, public: true, get title() { return t('board.title'); } },
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
        return h('li', {}, h('a', { href: r.href, 'aria-current': current ? 'page' : null }, r.nav));
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
      h('span', { class: 'who-role' }, ROLE_LABELS[state.me.role] || state.me.role),
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
          announce('Signed out.');
          navigate('#/login');
        },
      },
      'Sign out',
    ),
  );
}

/** The pending/suspended banner of a company. */
function enterpriseBanner() {
  const ent = state.enterprise;
  if (!ent || ent.status === 'verified') return null;
  const text =
    ent.status === 'pending'
      ? 'Your enterprise is waiting for verification by customs. You can prepare drafts; submitting declarations and booking slots open once an officer has verified it.'
      : 'Your enterprise is suspended: you can read your data but not change it.';
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
  document.title = `${r.title} · Clearway`;
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    content = await r.page(context(m.slice(1).map(decodeURIComponent), query));
  } catch (err) {
    content = h('div', {}, pageTitle(r.title), errorBox(err, 'This page could not be loaded'));
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
  const email = field({ label: 'Email', name: 'email', type: 'email', required: true, attrs: { autocomplete: 'username' } });
  const password = field({
    label: 'Password',
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
        setMessage(email, 'client', values.email.trim() ? '' : 'Enter your email.');
        setMessage(password, 'client', values.password ? '' : 'Enter your password.');
        if (!values.email.trim() || !values.password) ok = false;
        replace(result);
        if (!ok) {
          form.querySelector('[aria-invalid=true]')?.focus();
          return;
        }
        try {
          await busy(btn, () => api.login(values.email.trim(), values.password));
          await loadMe();
          announce(`Signed in as ${state.me.display_name || state.me.email}.`);
          navigate(homeFor(state.me));
        } catch (err) {
          // Said once: the server's detail for a 401 is the same sentence as the heading.
          replace(
            result,
            err.status === 401
              ? h('div', { class: 'alert error', role: 'alert' }, h('p', { class: 'alert-title' }, 'Wrong email or password'), h('p', {}, 'Check both and try again.'))
              : errorBox(err, 'Could not sign in'),
          );
          password.querySelector('input').select();
        }
      },
    },
    email,
    password,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    result,
    h('p', { class: 'aside' }, 'A company new to Clearway? ', h('a', { href: '#/register' }, 'Register your company'), '.'),
  );
  return h(
    'div',
    { class: 'login' },
    pageTitle('Sign in to Clearway'),
    h(
      'p',
      { class: 'lead' },
      'Customs declarations and 24/7 clearance-slot booking for companies and customs officers.',
    ),
    form,
  );
}

function registerPage() {
  const fields = {
    'enterprise.name': field({ label: 'Legal name of the enterprise', name: 'enterprise.name', required: true, attrs: { autocomplete: 'organization' } }),
    'enterprise.country': field({
      label: 'Country',
      name: 'enterprise.country',
      required: true,
      hint: 'ISO 3166-1 alpha-2, e.g. CN, KZ, DE.',
      attrs: { maxlength: 2, autocomplete: 'country', class: 'short upper' },
    }),
    'enterprise.registration_code': field({
      label: 'Registration code',
      name: 'enterprise.registration_code',
      required: true,
      hint: 'CN: the 18-character Unified Social Credit Code. Elsewhere: an EORI number such as DE123456789012345.',
      attrs: { class: 'upper', autocomplete: 'off' },
    }),
    'admin.display_name': field({ label: 'Your name', name: 'admin.display_name', required: true, attrs: { autocomplete: 'name' } }),
    'admin.email': field({ label: 'Your email', name: 'admin.email', type: 'email', required: true, attrs: { autocomplete: 'email' } }),
    'admin.password': field({
      label: 'Password',
      name: 'admin.password',
      type: 'password',
      required: true,
      hint: 'At least 12 characters, not containing your email or name.',
      attrs: { autocomplete: 'new-password', minlength: 12 },
    }),
  };
  const checks = {
    'enterprise.name': (v) => (v.trim() ? '' : 'Enter the legal name.'),
    'enterprise.country': (v) => (/^[A-Za-z]{2}$/.test(v.trim()) ? '' : 'Two letters, e.g. CN.'),
    'enterprise.registration_code': (v) => (v.trim() ? '' : 'Enter the registration code.'),
    'admin.display_name': (v) => (v.trim() ? '' : 'Enter your name.'),
    'admin.email': (v) => (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v.trim()) ? '' : 'Enter an email address like name@example.com.'),
    'admin.password': (v) => (v.length >= 12 ? '' : `At least 12 characters (${v.length} so far).`),
  };
  const result = h('div', { class: 'form-result' });
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Enterprise'), fields['enterprise.name'], fields['enterprise.country'], fields['enterprise.registration_code']),
    h('fieldset', {}, h('legend', {}, 'First administrator'), fields['admin.display_name'], fields['admin.email'], fields['admin.password']),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Register')),
    result,
    h('p', { class: 'aside' }, 'Already registered? ', h('a', { href: '#/login' }, 'Sign in'), '.'),
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
      announce('Registered. Customs will verify your enterprise.');
      navigate('#/declarations');
    } catch (err) {
      for (const fe of err.fieldErrors || []) {
        if (fields[fe.field]) setMessage(fields[fe.field], 'server', fe.message);
      }
      replace(result, errorBox(err, err.status === 409 ? 'Already registered' : 'Registration refused'));
      form.querySelector('[aria-invalid=true]')?.focus();
    }
  });
  return h(
    'div',
    {},
    pageTitle('Register a company'),
    h('p', { class: 'lead' }, 'Your enterprise stays pending until a customs officer verifies it.'),
    form,
  );
}

// ---- start ---------------------------------------------------------------

window.addEventListener('hashchange', route);
window.addEventListener('clearway:signed-out', (e) => {
  state.me = null;
  state.enterprise = null;
  if (e.detail && e.detail.expired) announce('Your session has ended. Please sign in again.', 'warning');
  navigate('#/login');
});

(async () => {
  await loadMe();
  route();
})().catch((err) => {
  replace(document.getElementById('main'), errorBox(err, describe(err)));
});
