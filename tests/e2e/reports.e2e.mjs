// Browser tests of issue 18's reports, public board and calendar feeds:
// an officer's report page draws its charts from real bookings (and offers
// the CSV), the public board of a site shows free places without signing in
// (full screen, cycling languages), and a company admin creates, uses and
// revokes a calendar feed. Its own officer, company and site (CNURC,
// Urumqi, on Beijing time), so that it runs beside the other files.

import {
  BASE,
  PASSWORD,
  SUPERVISOR,
  accessibility,
  api,
  assert,
  cotton,
  expectText,
  finish,
  fitsWidth,
  go,
  launch,
  login,
  newPage,
  noErrors,
  shot,
  signIn,
  step,
  until,
} from './lib.mjs';

const run = Date.now().toString(36);
const officer = { email: `reports-officer-${run}@customs.e2e.test`, password: 'Urumqi-Report-Reader-2026' };
const admin = { email: `admin-${run}@tianshan-freight.e2e.test` };
const ctx = {};

/** A local date in Beijing time, `offset` days from today. */
function beijingDate(offset = 0) {
  return new Date(Date.now() + 8 * 3600_000 + offset * 86_400_000).toISOString().slice(0, 10);
}

const browser = await launch();

try {
  await step('set-up through the API: officer, site CNURC (Asia/Shanghai), bookings checked in and cancelled', async () => {
    ctx.supervisor = await login(SUPERVISOR.email, SUPERVISOR.password);
    await api('POST', '/officers', ctx.supervisor, { ...officer, display_name: 'Aynur Reports', role: 'officer' });
    ctx.officer = await login(officer.email, officer.password);
    ctx.site = await api('POST', '/sites', ctx.supervisor, { code: 'CNURC', name: 'Urumqi International Land Port', timezone: 'Asia/Shanghai', modes: ['road'] });
    await api('POST', `/sites/${ctx.site.id}/schedules`, ctx.supervisor, { mode: 'road', slot_minutes: 60, capacity: 6 });
    const reg = await api('POST', '/auth/register', null, {
      enterprise: { name: 'Tianshan Freight Co.', country: 'DE', registration_code: `DE${String(Date.now()).slice(-11)}7` },
      admin: { email: admin.email, password: PASSWORD, display_name: 'Mei Admin' },
    });
    ctx.enterprise = reg.enterprise.id;
    await api('POST', `/enterprises/${ctx.enterprise}/verify`, ctx.officer, {});
    ctx.admin = await login(admin.email, PASSWORD);
    // The next slots past the booking notice (2 h), inside the arrival window that run.sh opens a day ahead.
    const from = new Date(Date.now() + 3 * 3600_000).toISOString();
    const slots = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&from=${encodeURIComponent(from)}&limit=8`, ctx.officer)).items;
    ctx.slots = slots;
    ctx.bookings = [];
    let plate = 100;
    for (const [i, n] of [[0, 3], [1, 3], [2, 2], [3, 3], [5, 1], [6, 2]]) {
      for (let k = 0; k < n; k += 1) {
        const d = await api('POST', '/declarations', ctx.admin, cotton(ctx.site.id));
        await api('POST', `/declarations/${d.id}/submit`, ctx.admin, {});
        plate += 1;
        const b = await api('POST', '/bookings', ctx.admin, { declaration_id: d.id, slot_id: slots[i].id, vehicle: { plate: `65KZ${plate}AB`, country: 'KZ' } });
        ctx.bookings.push({ slot: i, id: b.id, declaration: d.id });
      }
    }
    // The trucks of the first two slots arrive (their declarations cleared); one of the third is called off.
    for (const b of ctx.bookings.filter((x) => x.slot <= 1)) {
      await api('POST', `/declarations/${b.declaration}/approve`, ctx.officer, { risk_lane: 'green' });
      await api('POST', `/bookings/${b.id}/check-in`, ctx.officer, {});
    }
    await api('POST', `/bookings/${ctx.bookings.find((x) => x.slot === 2).id}/cancel`, ctx.admin, {});
  });

  await step('the officer’s report page draws the hourly chart from those bookings, with figures and a CSV', async () => {
    const page = await newPage(browser);
    ctx.officerPage = page;
    await signIn(page, officer.email, officer.password);
    await expectText(page.locator('#nav'), 'Reports');
    await go(page, `#/reports?site=CNURC&bucket=hour&from=${beijingDate(0)}&to=${beijingDate(2)}`, 'Reports');
    await page.locator('svg.chart').waitFor();
    const drawn = await page.evaluate(() => ({
      buckets: document.querySelectorAll('svg.chart g.bucket').length,
      booked: [...document.querySelectorAll('svg.chart rect.bar-booked')].filter((r) => Number(r.getAttribute('height')) > 0).length,
      checkedIn: [...document.querySelectorAll('svg.chart rect.bar-checked-in')].filter((r) => Number(r.getAttribute('height')) > 0).length,
      line: Boolean(document.querySelector('svg.chart polyline.util-line')),
    }));
    assert(drawn.buckets >= 24, `hourly buckets drawn: ${JSON.stringify(drawn)}`);
    assert(drawn.booked === 6 && drawn.checkedIn === 2 && drawn.line, `bars of real bookings: ${JSON.stringify(drawn)}`);
    // The table under the chart says the same: the first slot's hour (Beijing time), 3 of 6 booked and checked in.
    const label = (i) => { const l = ctx.slots[i].starts_at_local; return `${l.slice(5, 10)} ${l.slice(11, 16)}`; };
    const row = page.locator('table.data tbody tr', { hasText: label(0) }).first();
    await expectText(row, '50%');
    const cells = await row.locator('td').allTextContents();
    assert(cells.slice(0, 5).join(',') === '6,3,3,0,0', `${label(0)} row: ${cells}`);
    const cancelled = await page.locator('table.data tbody tr', { hasText: label(2) }).first().locator('td').allTextContents();
    assert(cancelled[1] === '1' && cancelled[4] === '1', `${label(2)} row: ${cancelled}`);
    await expectText(page.locator('.figures'), 'Decisions');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    const path = await download.path();
    const text = await (await import('node:fs/promises')).readFile(path, 'utf8');
    assert(text.startsWith('bucket_start,capacity,booked,checked_in,no_show,cancelled,utilisation'), `CSV: ${text.slice(0, 80)}`);
    assert(text.includes(`${ctx.slots[0].starts_at_local},6,3,3,0,0,0.5`), `CSV row of the first slot: ${text.slice(0, 300)}`);
    await accessibility(page, 'reports');
    await fitsWidth(page, 'reports');
    noErrors(page);
    await page.setViewportSize({ width: 1280, height: 1080 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, '20-reports.png');
  });

  await step('large type for a wall screen: the chart keeps its data and grows', async () => {
    const page = ctx.officerPage;
    await page.getByLabel('Large type (wall screen)').check();
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('.reports.wall svg.chart.large').waitFor();
    await accessibility(page, 'reports, large type');
    noErrors(page);
  });

  await step('the public board shows free places without signing in, full screen, and changes language by itself', async () => {
    const page = await newPage(browser, { width: 1600, height: 900 });
    await page.goto(`${BASE}/#/board/CNURC`);
    await page.locator('table.board-table').waitFor();
    await expectText(page.locator('.board-title'), 'Urumqi International Land Port');
    assert(!(await page.locator('header.top').isVisible()), 'the console header is hidden on the board');
    const rows = await page.locator('table.board-table tbody tr').count();
    assert(rows >= 10, `the next hours' slots: ${rows}`);
    // Nothing about who booked: no plates, no enterprise.
    const body = await page.locator('main').textContent();
    assert(!body.includes('65KZ') && !body.includes('Tianshan'), 'the board names nobody');
    await accessibility(page, 'public board');
    noErrors(page);
    await shot(page, '21-public-board.png');
    const before = await page.evaluate(() => document.documentElement.lang);
    await until(async () => (await page.evaluate(() => document.documentElement.lang)) !== before, 'the board switches language', 25000);
    const heading = await page.locator('table.board-table thead').textContent();
    assert(/[\u4e00-\u9fff]|[А-Яа-я]/.test(heading), `the headings are in another language now: ${heading}`);
    noErrors(page);
    await page.close();
  });

  await step('a company admin creates a calendar feed, sees its address once, and revoking stops it', async () => {
    const page = await newPage(browser);
    await signIn(page, admin.email, PASSWORD);
    await go(page, '#/calendar', 'Calendar feeds');
    await page.getByLabel('Label').fill('Dispatch office');
    await page.getByRole('button', { name: 'Create feed' }).click();
    const url = await page.locator('input.feed-url').inputValue();
    assert(url.startsWith(`${BASE}/api/v1/enterprises/${ctx.enterprise}/calendar.ics?token=`), url);
    const feed = await fetch(url);
    const ics = await feed.text();
    assert(feed.ok && ics.includes('BEGIN:VEVENT') && ics.includes('DTSTART;TZID=Asia/Shanghai:'), `feed: ${ics.slice(0, 200)}`);
    assert(ics.includes(`UID:${ctx.bookings[0].id}`), 'the first booking is an event');
    await expectText(page.locator('.token-list'), 'Dispatch office');
    await accessibility(page, 'calendar feeds');
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('dialog').getByRole('button', { name: 'Revoke' }).click();
    await expectText(page.locator('.token-list'), 'Revoked');
    assert((await fetch(url)).status === 404, 'a revoked feed answers 404');
    noErrors(page);
  });
} finally {
  await browser.close();
}
finish();
