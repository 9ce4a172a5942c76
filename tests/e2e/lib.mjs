// What the browser tests share: the environment run.sh gives, a tiny step
// runner (a failed step stops the file and screenshots every open tab), the
// API for set-up, and page checks (accessibility, width, script errors).
// Each *.e2e.mjs file imports it, runs its steps and ends with finish().

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const BASE = process.env.BASE_URL;
export const SHOTS = process.env.SCREENSHOT_DIR;
export const ARTIFACTS = process.env.ARTIFACT_DIR || '/tmp/clearway-e2e';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SUPERVISOR = { email: process.env.SUPERVISOR_EMAIL, password: process.env.SUPERVISOR_PASSWORD };
export const PASSWORD = 'E2e-Company-Password-2026';
export const OFFICER = { email: 'officer@customs.e2e.test', password: 'Silk-Road-Inspector-2026' };
export const TZ_OFFSET_MS = 6 * 3600 * 1000; // Asia/Urumqi, UTC+06:00 all year
export const LAPTOP = { width: 1280, height: 800 };
export const TABLET = { width: 820, height: 1180 };

if (!BASE || !SHOTS || !SUPERVISOR.email) {
  console.error('run me through tests/e2e/run.sh');
  process.exit(2);
}
mkdirSync(SHOTS, { recursive: true });
mkdirSync(ARTIFACTS, { recursive: true });

// ---- a tiny runner ----------------------------------------------------------

export const results = [];
let aborted = false;
export const pages = [];

export async function step(name, fn) {
  if (aborted) {
    results.push({ name, status: 'skipped' });
    console.log(`- skipped: ${name}`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, status: 'passed' });
    console.log(`ok ${results.length} - ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, status: 'failed' });
    console.log(`not ok ${results.length} - ${name}\n   ${String(err && err.stack ? err.stack : err).split('\n').join('\n   ')}`);
    aborted = true;
    for (const [i, p] of pages.entries()) {
      const path = join(ARTIFACTS, `failure-${results.length}-${i}.png`);
      await p.screenshot({ path, fullPage: true }).catch(() => {});
      console.log(`   screenshot: ${path} (${p.url()})`);
      if (p.calls.length) console.log(`   last API calls:\n     ${p.calls.join('\n     ')}`);
    }
  }
}

/** Parts of the server that have not landed yet: their steps are left out (and listed), not failed. */
export const leftOut = [];
export async function stepIf(available, name, fn) {
  if (available) return step(name, fn);
  leftOut.push(name);
  console.log(`# left out (not on this server yet): ${name}`);
  return undefined;
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** Polls until fn() is truthy. */
export async function until(fn, message, timeout = 15000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${message} (last: ${last})`);
}

export async function textOf(locator) {
  return (await locator.textContent()) || '';
}

export async function expectText(locator, text, timeout) {
  await until(async () => (await textOf(locator)).includes(text), `“${text}” in ${locator}`, timeout);
}

/** The page (already re-rendered) offers no such control. */
export async function expectNone(locator, what) {
  assert((await locator.count()) === 0, `${what} is not offered`);
}

/** The toast, when shown, covers no heat-map cell that is on screen. */
export async function toastClearOfCells(page, where) {
  const hit = await page.evaluate(() => {
    const t = document.querySelector('#toast .toast');
    if (!t) return 'no toast shown';
    const r = t.getBoundingClientRect();
    if (!r.width || !r.height) return 'the toast has no size';
    for (const c of document.querySelectorAll('table.heatmap button.cell')) {
      const b = c.getBoundingClientRect();
      if (b.bottom <= 0 || b.top >= innerHeight) continue;
      if (r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom) return `covers cell ${c.dataset.start}`;
    }
    return '';
  });
  assert(hit === '', `${where}: toast ${hit}`);
}

// ---- the API, for set-up and cross-checks -----------------------------------

export async function api(method, path, token, body, headers = {}) {
  const res = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: {
      Accept: 'application/json',
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return json;
}

export async function login(email, password) {
  return (await api('POST', '/auth/login', null, { email, password })).access_token;
}

export function localDate(offsetDays = 0) {
  return new Date(Date.now() + TZ_OFFSET_MS + offsetDays * 86400000).toISOString().slice(0, 10);
}

export function cotton(siteId, overrides = {}) {
  return {
    kind: 'import',
    site_id: siteId,
    transport_mode: 'road',
    consignor: 'Tashkent Textile Export LLC',
    consignee: 'Background Trading Co., Ltd.',
    origin_country: 'UZ',
    destination_country: 'CN',
    currency: 'CNY',
    incoterm: 'FCA',
    invoice_total: '1000.00',
    gross_mass_kg: '1300',
    items: [{ hs_code: '520512', description: 'Single cotton yarn', quantity: '1200', unit: 'KGM', net_mass_kg: '1200', value: '1000.00', origin_country: 'UZ' }],
    ...overrides,
  };
}

// ---- page checks ------------------------------------------------------------

/** Labels, accessible names, alt texts, one h1, and text contrast (WCAG AA). */
export async function accessibility(page, where) {
  const problems = await page.evaluate(() => {
    const out = [];
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    };
    const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''}`;
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden') continue;
      const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!named) out.push(`unlabelled control ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      const name = (el.getAttribute('aria-label') || el.textContent || '').trim();
      if (!name) out.push(`no accessible name: ${describe(el)}`);
    }
    for (const el of document.querySelectorAll('img')) {
      if (!el.hasAttribute('alt')) out.push(`img without alt: ${el.src}`);
    }
    const h1s = document.querySelectorAll('main h1');
    if (h1s.length !== 1) out.push(`${h1s.length} h1 in main`);
    if (!document.documentElement.lang) out.push('no lang on html');

    // Text contrast against the first opaque background behind it.
    const parse = (c) => {
      const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
      return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])] : null;
    };
    const lum = ([r, g, b]) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const s = getComputedStyle(e);
        const c = parse(s.backgroundColor);
        if (s.backgroundImage && s.backgroundImage !== 'none' && !(c && c[3] === 1)) return null; // gradient: skip
        if (c && c[3] === 1) return c;
      }
      return [255, 255, 255, 1];
    };
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || !n.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      if (!visible(el) || el.closest('.visually-hidden, [disabled], [aria-disabled="true"], [aria-busy="true"], dialog:not([open]), option')) continue;
      const s = getComputedStyle(el);
      const fg = parse(s.color);
      const bg = bgOf(el);
      if (!fg || !bg) continue;
      const opacity = Number(s.opacity);
      if (opacity < 1) continue;
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      const size = parseFloat(s.fontSize);
      const bold = Number(s.fontWeight) >= 700;
      const large = size >= 24 || (bold && size >= 18.66);
      const need = large ? 3 : 4.5;
      if (ratio < need) out.push(`contrast ${ratio.toFixed(2)} < ${need} for “${n.textContent.trim().slice(0, 40)}” (${describe(el)})`);
    }
    return out;
  });
  assert(problems.length === 0, `${where}: accessibility problems:\n     ${problems.join('\n     ')}`);
}

/** Nothing wider than the viewport (the page scrolls only vertically). */
export async function fitsWidth(page, where) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert(scroll <= width, `${where}: page is ${scroll}px wide in a ${width}px viewport`);
}

export async function shot(page, name, opts = {}) {
  await page.mouse.move(0, 0);
  await page.evaluate(() => {
    document.getElementById('live')?.replaceChildren();
    const toast = document.getElementById('toast');
    if (toast) {
      toast.replaceChildren();
      toast.hidden = true;
    }
    document.activeElement?.blur?.();
  });
  await page.screenshot({ path: join(SHOTS, name), ...opts });
}

/** A fresh tab watching for script errors and CSP violations. */
export async function newPage(browser, viewport = LAPTOP) {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'Europe/Berlin' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.errors = [];
  page.calls = [];
  page.on('response', (r) => {
    if (!r.url().includes('/api/')) return;
    page.calls.push(`${r.request().method()} ${r.url().replace(BASE, '')} → ${r.status()}`);
    if (page.calls.length > 12) page.calls.shift();
  });
  page.on('pageerror', (e) => page.errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/i.test(t) || (m.type() === 'error' && !/Failed to load resource/.test(t))) {
      page.errors.push(`console ${m.type()}: ${t}`);
    }
  });
  pages.push(page);
  return page;
}

export function noErrors(page) {
  assert(page.errors.length === 0, `errors in the page:\n     ${page.errors.join('\n     ')}`);
}

export async function signIn(page, email, password) {
  await page.goto(`${BASE}/#/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#who .who-name').waitFor();
}

export async function go(page, hash, heading) {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  if (heading) await expectText(page.locator('main h1'), heading);
  await page.locator('main[aria-busy="true"]').waitFor({ state: 'detached' }).catch(() => {});
}

/** Headless Chromium as every file starts it. */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Prints the summary line run.sh reads and exits non-zero on any failure. */
export function finish() {
  const count = (s) => results.filter((r) => r.status === s).length;
  const passed = count('passed');
  const failed = count('failed');
  const skipped = count('skipped');
  console.log(`screenshots in ${SHOTS}`);
  if (leftOut.length) console.log(`left out, the server does not offer them yet:\n  - ${leftOut.join('\n  - ')}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed || skipped ? 1 : 0);
}
