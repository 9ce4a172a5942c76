// End-to-end test of the Clearway console in headless Chromium (Debian's
// package, driven by playwright-core). Run by run.sh, which starts the server.
//
// The flow of the issue: a company registers, an officer verifies it, the
// company files (with validation errors first) and submits a declaration and
// books a slot from the heat map with its truck (then moves it); the officer
// approves the declaration and checks the truck in at the gate. Then one truck
// for two declarations: vehicle, driver, a container (its check digit checked),
// the printable gate pass with its QR code, a vehicle change (If-Match), and
// the officer scanning the pass at the gate. Along the way: screenshots
// for the README, accessibility checks (labels, names, contrast), no CSP
// violation or script error, and the tablet layout.

import { join } from 'node:path';
import {
  ARTIFACTS,
  BASE,
  LAPTOP,
  OFFICER,
  PASSWORD,
  SHOTS,
  SUPERVISOR,
  TABLET,
  accessibility,
  api,
  assert,
  cotton,
  expectNone,
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
  stepIf,
  textOf,
  toastClearOfCells,
  until,
} from './lib.mjs';
import { uscc } from './uscc.mjs';

// ---- the run ------------------------------------------------------------------

const run = Date.now().toString(36);
// As in the demo data (README): Kashgar is CNKHG, on Beijing time with
// Urumqi and Almaty time beside it; the company is registered in China.
const company = {
  name: 'Kashgar Silk Road Trading Co., Ltd.',
  email: `admin-${run}@kashgar-silkroad.e2e.test`,
  code: uscc(Date.now()),
};
/** A date at the site (Beijing time, UTC+08:00) `offsetDays` from today. */
function siteDate(offsetDays = 0) {
  return new Date(Date.now() + 8 * 3600 * 1000 + offsetDays * 86400000).toISOString().slice(0, 10);
}
const ctx = {};

const browser = await launch();

try {
  await step('set-up through the API: officer, site CNKHG (Asia/Shanghai shown with Urumqi and Almaty, road), 24/7 schedule', async () => {
    ctx.supervisor = await login(SUPERVISOR.email, SUPERVISOR.password);
    await api('POST', '/officers', ctx.supervisor, { ...OFFICER, display_name: 'Gulnara Officer', role: 'officer' });
    ctx.officer = await login(OFFICER.email, OFFICER.password);
    const site = await api('POST', '/sites', ctx.supervisor, { code: 'CNKHG', name: 'Kashgar Comprehensive Bonded Zone', timezone: 'Asia/Shanghai', display_zones: ['Asia/Urumqi', 'Asia/Almaty'], modes: ['road'] });
    ctx.site = site;
    const sch = await api('POST', `/sites/${site.id}/schedules`, ctx.supervisor, { mode: 'road', slot_minutes: 60, capacity: 6 });
    assert(sch.slots_created > 24 * 7, `slots created: ${sch.slots_created}`);
  });

  await step('set-up: other companies book some of tomorrow’s slots (so the heat map has colours)', async () => {
    const tomorrow = siteDate(1);
    const slots = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&from=${encodeURIComponent(`${tomorrow}T00:00:00+08:00`)}&to=${encodeURIComponent(`${siteDate(2)}T00:00:00+08:00`)}&limit=200`, ctx.officer)).items;
    const at = (hh) => slots.find((s) => s.starts_at_local.slice(11, 13) === hh);
    const plan = {
      A: [['09', 3], ['10', 2], ['11', 3], ['13', 2]],
      B: [['09', 3], ['11', 1], ['13', 3], ['15', 1]],
    };
    ctx.bg = {};
    for (const [tag, bookings] of Object.entries(plan)) {
      const email = `bg-${tag.toLowerCase()}-${run}@background.e2e.test`;
      const reg = await api('POST', '/auth/register', null, {
        enterprise: { name: `Background ${tag} Trading Co., Ltd.`, country: 'CN', registration_code: uscc(`${tag === 'A' ? 1 : 2}${Date.now()}`) },
        admin: { email, password: PASSWORD, display_name: `Background ${tag}` },
      });
      await api('POST', `/enterprises/${reg.enterprise.id}/verify`, ctx.officer, {});
      const token = await login(email, PASSWORD);
      ctx.bgToken = ctx.bgToken || token;
      for (const [hh, n] of bookings) {
        for (let i = 0; i < n; i += 1) {
          const d = await api('POST', '/declarations', token, cotton(ctx.site.id));
          await api('POST', `/declarations/${d.id}/submit`, token, {});
          await api('POST', '/bookings', token, { declaration_id: d.id, slot_id: at(hh).id });
          (ctx.bg[hh] = ctx.bg[hh] || []).push(d.id);
        }
      }
    }
    await api('PATCH', `/slots/${at('16').id}`, ctx.officer, { status: 'closed', reason: 'lane maintenance' });
    await api('PATCH', `/slots/${at('17').id}`, ctx.officer, { capacity: 2 });
    // What of issue 15 this server offers (the parts land one by one).
    const asCompany = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&limit=5`, ctx.bgToken)).items;
    const site = await api('GET', `/sites/${ctx.site.id}`, ctx.supervisor);
    const closures = await fetch(`${BASE}/api/v1/sites/${ctx.site.id}/closures`, { headers: { Authorization: `Bearer ${ctx.officer}` } });
    ctx.has = {
      bookable: asCompany.length > 0 && typeof asCompany[0].bookable === 'boolean',
      policy: Boolean(site.policy && typeof site.policy === 'object'),
      closures: closures.ok,
      reserved: asCompany.length > 0 && 'reserved_advanced' in asCompany[0],
    };
    console.log(`# this server: ${JSON.stringify(ctx.has)}`);
  });

  let pageC;
  let pageO;

  await step('the console is served at / with a strict CSP; the sign-in page is accessible', async () => {
    const res = await fetch(`${BASE}/`);
    assert(res.ok, `GET / → ${res.status}`);
    const csp = res.headers.get('content-security-policy') || '';
    assert(csp.includes("default-src 'self'") && !csp.includes('unsafe-inline'), `CSP: ${csp}`);
    pageC = await newPage(browser);
    await pageC.goto(`${BASE}/`);
    await expectText(pageC.locator('main h1'), 'Sign in to Clearway');
    await accessibility(pageC, 'sign-in');
    await shot(pageC, '01-login.png');
    // A wrong password: the box says so once (not a heading and the same sentence again).
    await pageC.getByLabel('Email').fill('nobody@kashgar-silkroad.e2e.test');
    await pageC.getByLabel('Password').fill('not-the-password-2026');
    await pageC.getByRole('button', { name: 'Sign in' }).click();
    const wrong = pageC.locator('main .form-result .alert.error');
    await expectText(wrong, 'Wrong email or password');
    const said = (await textOf(wrong)).toLowerCase().split('wrong email or password').length - 1;
    assert(said === 1, `the message is said once, not ${said} times: “${await textOf(wrong)}”`);
    await pageC.getByLabel('Email').fill('');
    await pageC.getByLabel('Password').fill('');
    noErrors(pageC);
  });

  await step('a company registers itself and lands on its declarations, pending verification', async () => {
    await pageC.getByRole('link', { name: 'Register your company' }).click();
    await expectText(pageC.locator('main h1'), 'Register a company');
    // Client-side checks first.
    await pageC.getByRole('button', { name: 'Register' }).click();
    await expectText(pageC.locator('.field[data-for="admin.password"] .msg.client'), 'At least 12 characters');
    await accessibility(pageC, 'register');
    await pageC.getByLabel('Legal name of the enterprise').fill(company.name);
    await pageC.getByLabel('Country').fill('CN');
    await pageC.getByLabel('Registration code').fill(company.code);
    await pageC.getByLabel('Your name').fill('Aygul Tursun');
    await pageC.getByLabel('Your email').fill(company.email);
    await pageC.getByLabel('Password').fill(PASSWORD);
    await pageC.getByRole('button', { name: 'Register' }).click();
    await expectText(pageC.locator('main h1'), 'Declarations');
    await expectText(pageC.locator('main .alert.warning'), 'waiting for verification');
    await expectText(pageC.locator('#who'), company.name);
    noErrors(pageC);
  });

  await step('an officer signs in and verifies the enterprise from the waiting list', async () => {
    pageO = await newPage(browser);
    await signIn(pageO, OFFICER.email, OFFICER.password);
    await expectText(pageO.locator('main h1'), 'review queue');
    await pageO.getByRole('link', { name: 'Enterprises' }).click();
    await expectText(pageO.locator('main h1'), 'Enterprises');
    const row = pageO.locator('tbody tr', { hasText: company.name });
    await row.waitFor();
    await accessibility(pageO, 'enterprises');
    await shot(pageO, '08-officer-enterprises.png');
    await row.getByRole('button', { name: /Verify/ }).click();
    await expectText(pageO.locator('#live'), 'verified');
    await until(async () => (await pageO.locator('tbody tr', { hasText: company.name }).count()) === 0, 'the row leaves the waiting list');
    noErrors(pageO);
  });

  await step('declaration form: client checks, then the server’s messages beside the fields', async () => {
    await go(pageC, '#/declarations/new', 'New declaration');
    await until(async () => (await pageC.locator('main .alert', { hasText: 'waiting for verification' }).count()) === 0, 'the pending banner is gone');
    // Empty required fields: the console's own checks, no request.
    await pageC.getByLabel('Consignee (receiver)').fill('');
    await pageC.getByRole('button', { name: 'Save and submit' }).click();
    await expectText(pageC.locator('.summary-slot'), 'Please correct');
    await expectText(pageC.locator('.field[data-for="consignor"] .msg.client'), 'Enter the consignor');
    await expectText(pageC.locator('.field[data-for="items[0].hs_code"] .msg.client'), '6 to 10 digits');
    // Values that only the server can refuse: unknown country, HS chapter 77.
    const f = (label) => pageC.getByLabel(label, { exact: false });
    await f('Consignor (sender)').fill('Tashkent Textile Export LLC');
    await f('Consignee (receiver)').fill(company.name);
    await f('Country of origin').fill('XX');
    await f('Country of destination').fill('CN');
    await f('Invoice total').fill('1250.00');
    await f('Gross mass (kg)').fill('1600.5');
    const item = (i, key) => pageC.locator(`.field[data-for="items[${i}].${key}"] input`);
    await item(0, 'hs_code').fill('770000');
    await item(0, 'description').fill('Single cotton yarn, uncombed');
    await item(0, 'quantity').fill('1200');
    await item(0, 'net_mass_kg').fill('1200');
    await item(0, 'value').fill('1000');
    await item(0, 'origin_country').fill('UZ');
    await pageC.getByRole('button', { name: 'Add item' }).click();
    await item(1, 'hs_code').fill('5205220000');
    await item(1, 'description').fill('Single cotton yarn, combed');
    await item(1, 'quantity').fill('300');
    await item(1, 'net_mass_kg').fill('300');
    await item(1, 'value').fill('250.00');
    await item(1, 'origin_country').fill('UZ');
    await pageC.getByRole('button', { name: 'Save draft' }).click();
    await expectText(pageC.locator('.summary-slot'), 'The server refused');
    await expectText(pageC.locator('.field[data-for="origin_country"] .msg.server'), 'Server');
    await expectText(pageC.locator('.field[data-for="items[0].hs_code"] .msg.server'), 'Server');
    // While the user edits, the console's own check appears beside the server's message.
    await f('Country of origin').fill('X');
    await f('Country of destination').focus();
    await expectText(pageC.locator('.field[data-for="origin_country"] .msg.client'), 'Two letters');
    await expectText(pageC.locator('.field[data-for="origin_country"] .msg.server'), 'ISO 3166-1');
    const drafts = await api('GET', '/declarations', await login(company.email, PASSWORD));
    assert(drafts.items.length === 0, 'nothing was stored by the refused save');
    await accessibility(pageC, 'declaration form with errors');
    await pageC.locator('.summary-slot').scrollIntoViewIfNeeded();
    await shot(pageC, '03-declaration-form-errors.png', { fullPage: true });
    // Tablet: the form reflows.
    await pageC.setViewportSize(TABLET);
    await fitsWidth(pageC, 'declaration form (tablet)');
    await pageC.setViewportSize(LAPTOP);
    noErrors(pageC);
  });

  await step('the company corrects the declaration and submits it; it gets its number', async () => {
    const f = (label) => pageC.getByLabel(label, { exact: false });
    await f('Country of origin').fill('UZ');
    await f('Invoice total').fill('1250.00');
    await pageC.locator('.field[data-for="items[0].hs_code"] input').fill('520512');
    await pageC.getByRole('button', { name: 'Save and submit' }).click();
    await expectText(pageC.locator('main h1'), 'Declaration CNKHG');
    ctx.number = (await textOf(pageC.locator('main h1'))).replace('Declaration ', '').trim();
    assert(/^CNKHG\d{4}I/.test(ctx.number), `number ${ctx.number}`);
    await expectText(pageC.locator('main .facts'), 'Submitted');
    await expectText(pageC.locator('main .facts'), 'UTC+08:00 Beijing');
    // What it offers now comes from the answer's allowed_actions and bookable.
    const offered = pageC.locator('main .actions');
    await offered.getByRole('link', { name: 'Book a clearance slot' }).waitFor();
    await offered.getByRole('button', { name: 'Cancel declaration' }).waitFor();
    await expectNone(offered.getByRole('link', { name: 'Edit' }), 'edit (submitted)');
    await expectNone(offered.getByRole('button', { name: /Submit/ }), 'submit (submitted)');
    await go(pageC, '#/declarations', 'Declarations');
    const row = pageC.locator('tbody tr', { hasText: ctx.number });
    await expectText(row, 'Submitted');
    // A second draft, so that the list shows more than one state.
    await go(pageC, '#/declarations/new', 'New declaration');
    await pageC.getByLabel('Consignor (sender)').fill('Almaty Electronics LLP');
    await pageC.getByLabel('Country of origin').fill('KZ');
    await pageC.getByLabel('Invoice total').fill('1250.00');
    await pageC.getByLabel('Gross mass (kg)').fill('260');
    const item = (key) => pageC.locator(`.field[data-for="items[0].${key}"] input`);
    await item('hs_code').fill('8471300000');
    await item('description').fill('Laptop computers');
    await item('quantity').fill('120');
    await item('unit').fill('PCE');
    await item('net_mass_kg').fill('240.5');
    await item('value').fill('1250.00');
    await item('origin_country').fill('KZ');
    await pageC.getByRole('button', { name: 'Save draft' }).click();
    await expectText(pageC.locator('main h1'), 'Declaration Draft');
    await go(pageC, '#/declarations', 'Declarations');
    await expectText(pageC.locator('tbody'), 'Draft');
    const draftRow = pageC.locator('tbody tr[data-status="draft"]');
    await draftRow.getByRole('link', { name: /^Edit/ }).waitFor();
    await draftRow.getByRole('button', { name: /^Submit Draft/ }).waitFor();
    await expectNone(draftRow.getByRole('link', { name: /Book a slot/ }), 'booking a draft');
    const submittedRow = pageC.locator('tbody tr', { hasText: ctx.number });
    await submittedRow.getByRole('link', { name: /Book a slot/ }).waitFor();
    await expectNone(submittedRow.getByRole('link', { name: /^Edit/ }), 'edit (submitted, list)');
    await accessibility(pageC, 'declarations');
    noErrors(pageC);
  });

  await step('the company edits its draft (the edit carries the version it was based on)', async () => {
    await pageC.locator('tbody tr', { hasText: 'Draft' }).getByRole('link', { name: /Edit/ }).click();
    await expectText(pageC.locator('main h1'), 'Edit declaration');
    await pageC.getByLabel('Consignor (sender)').fill('Almaty Electronics LLP (Kashgar branch)');
    await pageC.getByRole('button', { name: 'Save draft' }).click();
    await expectText(pageC.locator('main .facts'), 'Kashgar branch');
    await expectText(pageC.locator('main .facts'), 'Version2');
    await go(pageC, '#/declarations', 'Declarations');
    noErrors(pageC);
  });

  await step('the company books a slot from the heat map (keyboard works, times in the site’s zone)', async () => {
    await pageC.locator('tbody tr', { hasText: ctx.number }).getByRole('link', { name: /Book a slot/ }).click();
    await expectText(pageC.locator('main h1'), 'Book a clearance slot');
    await pageC.locator('table.heatmap button.cell').first().waitFor();
    const selected = await pageC.locator('#declaration-select').inputValue();
    assert(selected, 'a declaration is preselected');
    await expectText(pageC.locator('table.heatmap caption'), 'UTC+08:00 Beijing');
    // Colour is not the only cue: each cell says its number and has a label.
    const full = pageC.locator('button.cell.heat-0').first();
    assert(await full.count(), 'a full slot is shown');
    assert((await full.getAttribute('aria-label')).includes('0 of 6 places free'), 'full slot label');
    ctx.fullColour = await full.evaluate((el) => getComputedStyle(el).backgroundColor);
    // Arrow keys move between cells.
    const first = pageC.locator('table.heatmap button.cell[tabindex="0"]');
    await first.focus();
    const before = await first.getAttribute('data-slot');
    await pageC.keyboard.press('ArrowDown');
    const after = await pageC.evaluate(() => document.activeElement.dataset.slot);
    assert(after && after !== before, 'ArrowDown moved the focus');
    await accessibility(pageC, 'heat map');
    await shot(pageC, '04-slot-heatmap.png', { fullPage: true });
    // A slot that cannot be booked says why, and the toast never covers a cell:
    // with the grid's top in view, then with the grid filling the screen.
    await full.click({ force: true }); // aria-disabled: Playwright would wait for it to be enabled
    await expectText(pageC.locator('#live'), 'cannot be booked');
    await expectText(pageC.locator('.heatmap-wrap .cell-tip'), '0 of 6 places free');
    await toastClearOfCells(pageC, 'heat map, top in view');
    await pageC.evaluate(() => {
      const t = document.querySelector('table.heatmap tbody');
      window.scrollTo(0, t.getBoundingClientRect().top + window.scrollY + 120);
    });
    const visibleFull = await pageC.evaluate(() => {
      const c = [...document.querySelectorAll('button.cell[aria-disabled]')].find((b) => {
        const r = b.getBoundingClientRect();
        return r.top > 60 && r.bottom < innerHeight - 60;
      });
      return c && c.dataset.slot;
    });
    if (visibleFull) {
      await pageC.locator(`button.cell[data-slot="${visibleFull}"]`).click({ force: true });
      await toastClearOfCells(pageC, 'heat map filling the screen');
    }
    await pageC.evaluate(() => window.scrollTo(0, 0));
    if (ctx.has.bookable) {
      // Slots inside the minimum notice are greyed out and say why (the first one within 2 h).
      const inNotice = pageC.locator('button.cell[data-reason="notice"]').first();
      assert(await inNotice.count(), 'a slot inside the notice is marked');
      assert((await inNotice.getAttribute('aria-disabled')) === 'true', 'it is not offered for booking');
      assert(/heat-blocked/.test(await inNotice.getAttribute('class')), 'it is greyed out');
      const label = await inNotice.getAttribute('aria-label');
      assert(label.includes('bookings close') && label.includes('before the start'), `it says why: ${label}`);
      if (ctx.has.policy) assert(label.includes('120 minutes'), `with the site's notice: ${label}`);
      await pageC.mouse.move(0, 0); // the tooltip follows the pointer when it is over a cell
      await inNotice.focus();
      await expectText(pageC.locator('.heatmap-wrap .cell-tip'), 'bookings close');
      await pageC.evaluate(() => {
        document.getElementById('live')?.replaceChildren();
        document.getElementById('toast')?.replaceChildren();
      });
      await pageC.screenshot({ path: join(SHOTS, '17-heatmap-notice.png') });
      const soon = Date.now() + 120 * 60000;
      const wrong = await pageC.evaluate((limit) => [...document.querySelectorAll('button.cell:not([aria-disabled])')].filter((b) => new Date(b.dataset.start).getTime() < limit).map((b) => b.dataset.start), soon);
      assert(wrong.length === 0, `no slot inside the notice is offered: ${wrong}`);
    }
    // Book the first slot at least 2.5 h ahead (minimum notice is 2 h).
    const target = await pageC.evaluate(() => {
      const soon = Date.now() + 150 * 60000;
      const cell = [...document.querySelectorAll('button.cell:not([aria-disabled])')]
        .filter((b) => new Date(b.dataset.start).getTime() >= soon)
        .sort((a, b) => new Date(a.dataset.start) - new Date(b.dataset.start))[0];
      return cell && cell.dataset.slot;
    });
    assert(target, 'a bookable slot exists');
    ctx.firstSlot = target;
    await pageC.locator(`button.cell[data-slot="${target}"]`).click();
    // After the slot, the truck: its plate (the gate needs it to check the truck in).
    const form = pageC.locator('form.truck-form');
    await expectText(form, 'UTC+08:00 Beijing');
    await form.getByLabel('Plate number').fill('123 ABC 02');
    await form.getByLabel('Country of registration').fill('kz');
    await form.getByRole('button', { name: 'Book slot' }).click();
    await expectText(pageC.locator('.book-page > .form-result'), 'Slot booked');
    await expectText(pageC.locator('.book-page > .form-result'), 'KZ 123ABC02');
    await until(async () => (await pageC.locator(`button.cell[data-slot="${target}"]`).getAttribute('data-free')) === '5', 'the cell shows one place less');
    noErrors(pageC);
  });

  await step('the heat map works on a tablet (820×1180)', async () => {
    await pageC.setViewportSize(TABLET);
    await go(pageC, '#/book', 'Book a clearance slot');
    await pageC.locator('table.heatmap button.cell').first().waitFor();
    await fitsWidth(pageC, 'heat map (tablet)');
    await accessibility(pageC, 'heat map (tablet)');
    await shot(pageC, '09-slot-heatmap-tablet.png');
    await pageC.setViewportSize(LAPTOP);
  });

  await stepIf(ctx.has && ctx.has.reserved, 'reserved places on the heat map: a general company sees them as not for it, and until when; the board shows them', async () => {
    const tomorrow = siteDate(1);
    const slots = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&from=${encodeURIComponent(`${tomorrow}T00:00:00+08:00`)}&to=${encodeURIComponent(`${siteDate(2)}T00:00:00+08:00`)}&limit=200`, ctx.officer)).items;
    const at = (hh) => slots.find((x) => x.starts_at_local.slice(11, 13) === hh);
    // 14:00 (on the board): two of six places held for advanced-certified enterprises until 13:00;
    // 12:00 (through the API): all six until 11:00.
    await go(pageO, `#/capacity?site=${ctx.site.id}`, 'Capacity board');
    await pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '14:00–15:00' }).getByRole('button', { name: /Change/ }).click();
    const dlg = pageO.getByRole('dialog');
    await dlg.getByLabel('Reserved for advanced-certified (places)').fill('2');
    await dlg.getByLabel(/Released to everyone/).fill('60');
    await accessibility(pageO, 'slot change dialog with reserved places');
    await dlg.getByRole('button', { name: 'Save change' }).click();
    await expectText(pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '14:00–15:00' }), '2 reserved for advanced-certified until 13:00');
    const changed = await api('GET', `/slots/${at('14').id}`, ctx.officer);
    assert(changed.reserved_advanced === 2 && changed.release_minutes === 60 && changed.capacity === 6, `14:00 saved: ${JSON.stringify(changed)}`);
    await api('PATCH', `/slots/${at('12').id}`, ctx.officer, { reserved_advanced: 6, release_minutes: 60 });
    await go(pageC, `#/book?site=${ctx.site.id}`, 'Book a clearance slot'); // another hash: the page is drawn again
    await pageC.locator('table.heatmap button.cell').first().waitFor();
    const some = pageC.locator(`button.cell[data-slot="${at('14').id}"]`);
    const someLabel = await some.getAttribute('aria-label');
    assert(someLabel.includes('4 of 6 places free for you; 2 more reserved for advanced-certified enterprises until 13:00'), `14:00: ${someLabel}`);
    assert(/\breserved\b/.test(await some.getAttribute('class')) && !(await some.getAttribute('aria-disabled')), '14:00 is marked and still offered');
    const all = pageC.locator(`button.cell[data-slot="${at('12').id}"]`);
    const allLabel = await all.getAttribute('aria-label');
    assert((await all.getAttribute('data-reason')) === 'reserved' && (await all.getAttribute('aria-disabled')) === 'true', `12:00 is not offered: ${allLabel}`);
    assert(allLabel.includes('reserved for advanced-certified enterprises until 11:00'), `12:00 says why: ${allLabel}`);
    await expectText(pageC.locator('.legend'), 'reserved for advanced-certified');
    await pageC.mouse.move(0, 0);
    await all.focus();
    await expectText(pageC.locator('.heatmap-wrap .cell-tip'), 'until 11:00');
    await pageC.evaluate(() => {
      document.getElementById('live')?.replaceChildren();
      document.getElementById('toast')?.replaceChildren();
    });
    await pageC.screenshot({ path: join(SHOTS, '18-heatmap-reserved.png') });
    noErrors(pageC);
    noErrors(pageO);
  });

  await step('the company reschedules the booking to a later slot', async () => {
    await go(pageC, '#/bookings', 'Bookings');
    const row = pageC.locator('tbody tr', { hasText: ctx.number });
    await expectText(row, 'Confirmed');
    await expectText(row, 'UTC+08:00 Beijing');
    await row.getByRole('link', { name: 'Reschedule' }).click();
    await expectText(pageC.locator('main h1'), 'Reschedule a booking');
    await pageC.locator('button.cell.current').waitFor();
    const target = await pageC.evaluate((old) => {
      const cells = [...document.querySelectorAll('button.cell:not([aria-disabled])')].sort((a, b) => new Date(a.dataset.start) - new Date(b.dataset.start));
      const i = cells.findIndex((c) => c.dataset.slot === old);
      return cells[i + 1] && cells[i + 1].dataset.slot;
    }, ctx.firstSlot);
    assert(target, 'a later slot exists');
    await pageC.locator(`button.cell[data-slot="${target}"]`).click();
    await pageC.getByRole('dialog').getByRole('button', { name: 'Move booking' }).click();
    await expectText(pageC.locator('.form-result'), 'Booking moved');
    const bookings = await api('GET', '/bookings', await login(company.email, PASSWORD));
    const active = bookings.items.filter((b) => b.active);
    assert(active.length === 1 && active[0].slot_id === target, `one booking, on the new slot: ${JSON.stringify(active)}`);
    ctx.bookingId = active[0].id;
    await go(pageC, '#/bookings', 'Bookings');
    await accessibility(pageC, 'bookings');
    await shot(pageC, '10-company-bookings.png');
    await go(pageC, '#/declarations', 'Declarations');
    await expectText(pageC.locator('tbody tr', { hasText: ctx.number }), 'UTC+08:00 Beijing');
    await expectNone(pageC.locator('tbody tr', { hasText: ctx.number }).getByRole('link', { name: /Book a slot/ }), 'a second booking');
    await shot(pageC, '02-company-declarations.png');
    noErrors(pageC);
  });

  await step('the officer approves the declaration from the review queue (risk lane)', async () => {
    await go(pageO, '#/review', 'review queue');
    const row = pageO.locator('tbody tr', { hasText: ctx.number });
    await row.waitFor();
    await expectText(row, company.name);
    await expectText(row, 'UTC+08:00 Beijing');
    await accessibility(pageO, 'review queue');
    await shot(pageO, '05-officer-review-queue.png');
    await row.getByRole('link', { name: /Review/ }).first().click();
    await expectText(pageO.locator('main h1'), `Review ${ctx.number}`);
    await accessibility(pageO, 'review page');
    await pageO.setViewportSize(TABLET);
    await fitsWidth(pageO, 'review page (tablet)');
    await pageO.setViewportSize(LAPTOP);
    await pageO.getByLabel(/Yellow/).check();
    await pageO.getByRole('button', { name: 'Claim for review' }).waitFor();
    await pageO.getByRole('button', { name: 'Approve', exact: true }).click();
    await expectText(pageO.locator('main .facts'), 'Approved');
    await expectText(pageO.locator('main .facts'), 'Yellow lane');
    // An approved declaration can only be released.
    await pageO.getByRole('button', { name: 'Release goods' }).waitFor();
    await expectNone(pageO.getByRole('button', { name: 'Approve', exact: true }), 'approve (approved)');
    await expectNone(pageO.getByRole('button', { name: /Reject|Request amendment|Claim/ }), 'reject, amendment or claim (approved)');
    noErrors(pageO);
  });

  await step('the officer asks for an amendment of one declaration and rejects another', async () => {
    await go(pageO, `#/review/${ctx.bg['13'][0]}`, 'Review');
    const amend = pageO.locator('form', { has: pageO.getByRole('heading', { name: 'Request an amendment' }) });
    await amend.getByRole('button', { name: 'Request amendment' }).click();
    await expectText(amend.locator('.msg.client'), 'Give the company a reason');
    await amend.getByLabel(/Reason/).fill('item 1: the HS code does not match the description');
    await amend.getByRole('button', { name: 'Request amendment' }).click();
    await expectText(pageO.locator('main .facts'), 'Amendment requested');
    await go(pageO, `#/review/${ctx.bg['15'][0]}`, 'Review');
    const reject = pageO.locator('form', { has: pageO.getByRole('heading', { name: 'Reject' }) });
    await reject.getByLabel(/Reason/).fill('the invoice does not match the goods inspected');
    await reject.getByRole('button', { name: 'Reject' }).click();
    await expectText(pageO.locator('main .facts'), 'Rejected');
    await expectNone(pageO.locator('main .decision button'), 'any decision (rejected)');
    noErrors(pageO);
  });

  await step('the capacity board shows booked vs capacity for today and tomorrow; an officer changes one', async () => {
    await go(pageO, '#/capacity', 'Capacity board');
    await expectText(pageO.locator('main'), 'Tomorrow');
    await expectText(pageO.locator('main .zone-note'), 'UTC+08:00 Beijing');
    await expectText(pageO.locator('main'), '6 / 6');
    await expectText(pageO.locator('main'), 'Closed');
    await accessibility(pageO, 'capacity board');
    // Today's "N booked of M open places" counts only the open slots that have not ended.
    const todayCount = async () => {
      const items = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&from=${encodeURIComponent(`${siteDate(0)}T00:00:00+08:00`)}&to=${encodeURIComponent(`${siteDate(1)}T00:00:00+08:00`)}&limit=200`, ctx.officer)).items;
      const live = items.filter((x) => x.status === 'open' && new Date(x.ends_at) > new Date());
      return `${live.reduce((a, x) => a + x.booked, 0)} booked of ${live.reduce((a, x) => a + x.capacity, 0)} open places`;
    };
    const before = await todayCount();
    const shown = (await textOf(pageO.locator('section.board-day').nth(0).locator('.day-count'))).trim();
    const after = await todayCount();
    assert(shown === before || shown === after, `today: “${shown}”, expected “${after}” (slots not yet ended)`);
    // One colour scale: a full slot is the colour the company's heat map gives a full slot.
    const fullFill = pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '09:00–10:00' }).locator('.usage-fill');
    const boardColour = await fullFill.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert(ctx.fullColour && boardColour === ctx.fullColour, `full slot: ${boardColour} on the board, ${ctx.fullColour} on the heat map`);
    const tomorrow = pageO.locator('section.board-day').nth(1);
    await tomorrow.locator('h2').scrollIntoViewIfNeeded();
    await shot(pageO, '06-capacity-board.png');
    // Set an empty slot's capacity (tomorrow 20:00) to 8.
    const row = tomorrow.locator('tbody tr', { hasText: '20:00–21:00' });
    await row.getByRole('button', { name: /Change/ }).click();
    const dlg = pageO.getByRole('dialog');
    await dlg.getByLabel('Capacity (places)').fill('8');
    await accessibility(pageO, 'slot change dialog');
    await dlg.getByRole('button', { name: 'Save change' }).click();
    await expectText(pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '20:00–21:00' }), '0 / 8');
    // Below the booked count: refused, then displaced on confirmation (tomorrow 11:00 has 4 booked).
    const busy = pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '11:00–12:00' });
    await busy.getByRole('button', { name: /Change/ }).click();
    await pageO.getByRole('dialog').getByLabel('Capacity (places)').fill('3');
    await pageO.getByRole('dialog').getByLabel(/Reason/).fill('one lane closed for repairs');
    await pageO.getByRole('dialog').getByRole('button', { name: 'Save change' }).click();
    await expectText(pageO.getByRole('dialog'), 'below the 4 bookings');
    await pageO.getByRole('dialog').getByRole('button', { name: 'Displace bookings' }).click();
    await expectText(pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '11:00–12:00' }), '3 / 3');
    await pageO.setViewportSize(TABLET);
    await fitsWidth(pageO, 'capacity board (tablet)');
    await pageO.setViewportSize(LAPTOP);
    noErrors(pageO);
  });

  await stepIf(ctx.has && ctx.has.closures, 'an officer closes a range: the dry run shows whose bookings move where; applied, the company’s booking has moved; then reopened', async () => {
    // The company books tomorrow 19:00 (through the API); the officer closes 19:00–20:00.
    const token = await login(company.email, PASSWORD);
    const tomorrow = siteDate(1);
    const slots = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&from=${encodeURIComponent(`${tomorrow}T00:00:00+08:00`)}&to=${encodeURIComponent(`${siteDate(2)}T00:00:00+08:00`)}&limit=200`, ctx.officer)).items;
    const at = (hh) => slots.find((x) => x.starts_at_local.slice(11, 13) === hh);
    const d = await api('POST', '/declarations', token, cotton(ctx.site.id, { consignor: 'Fergana Valley Fruit JSC', consignee: company.name }));
    const submitted = await api('POST', `/declarations/${d.id}/submit`, token, {});
    const booking = await api('POST', '/bookings', token, { declaration_id: d.id, slot_id: at('19').id, vehicle: { plate: '555KHG02', country: 'KZ' } }, { 'Idempotency-Key': `e2e-closure-${run}` });
    ctx.displaced = { booking, number: submitted.number };
    await go(pageO, '#/capacity', 'Capacity board');
    const form = pageO.locator('form.closure-form');
    await pageO.getByRole('button', { name: 'Close or reduce a range…' }).click();
    // Checked before anything is sent.
    await form.getByRole('button', { name: 'Preview' }).click();
    await expectText(form.locator('.field[data-for="reason"] .msg.client'), 'Give a reason');
    await form.getByLabel('Transport mode').selectOption('road');
    await form.getByLabel(/^From/).fill(`${tomorrow}T19:00`);
    await form.getByLabel(/^To/).fill(`${tomorrow}T20:00`);
    await form.getByLabel('Reason').fill('x-ray scanner out of service');
    await form.getByLabel(/Move to the next slot/).check();
    await form.getByRole('button', { name: 'Preview' }).click();
    const preview = form.locator('.preview-card');
    await expectText(preview, 'nothing has changed yet');
    const row = preview.locator(`tbody tr[data-booking="${booking.id}"]`);
    await expectText(row, company.name);
    await expectText(row, '19:00–20:00');
    await expectText(row, 'Moves to');
    await expectText(row, '20:00–21:00');
    await expectText(preview, '1 booking would move');
    let still = await api('GET', `/bookings/${booking.id}`, token);
    assert(still.slot_id === booking.slot_id, 'the dry run changed nothing');
    await accessibility(pageO, 'closure preview');
    await preview.scrollIntoViewIfNeeded();
    await pageO.evaluate(() => document.getElementById('toast')?.replaceChildren());
    await pageO.mouse.move(0, 0);
    await form.screenshot({ path: join(SHOTS, '15-closure-preview.png') });
    await preview.getByRole('button', { name: 'Apply closure' }).click();
    const applied = pageO.locator('.closure-result .alert.success');
    await expectText(applied, 'Closure applied');
    await expectText(applied.locator(`tr[data-booking="${booking.id}"]`), 'Moved to');
    still = await api('GET', `/bookings/${booking.id}`, token);
    assert(still.slot_id === at('20').id, `the booking moved to 20:00: ${JSON.stringify(still)}`);
    assert(still.status === 'confirmed', `still confirmed: ${still.status}`);
    if (booking.gate_pass) assert(still.gate_pass.version === booking.gate_pass.version + 1, `a new gate pass version: ${JSON.stringify(still.gate_pass)}`);
    await expectText(pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '19:00–20:00' }), 'Closed');
    const listed = pageO.locator('table.closures tbody tr', { hasText: 'x-ray scanner' });
    await listed.waitFor();
    // The company sees its booking at the new time.
    await go(pageC, '#/bookings', 'Bookings');
    const mine = pageC.locator('tbody tr', { hasText: submitted.number });
    await expectText(mine, '20:00–21:00');
    await expectText(mine, 'Confirmed');
    // Reopened: the slot is open again; the moved booking stays where it is.
    await listed.getByRole('button', { name: /Reopen/ }).click();
    await pageO.getByRole('dialog').getByRole('button', { name: 'Reopen' }).click();
    await expectText(pageO.locator('#live'), 'Reopened');
    await expectText(pageO.locator('section.board-day').nth(1).locator('tbody tr', { hasText: '19:00–20:00' }), 'Open');
    still = await api('GET', `/bookings/${booking.id}`, token);
    assert(still.slot_id === at('20').id, 'the moved booking stays where it is');
    // Previewing "cancel them" for 20:00 says the booking would be cancelled; left unapplied, nothing changes.
    const form2 = pageO.locator('form.closure-form');
    await form2.getByLabel(/^From/).fill(`${tomorrow}T20:00`);
    await form2.getByLabel(/^To/).fill(`${tomorrow}T21:00`);
    await form2.getByLabel('Reason').fill('power cut');
    await form2.getByLabel('Cancel them').check();
    await form2.getByRole('button', { name: 'Preview' }).click();
    await expectText(form2.locator(`.preview-card tbody tr[data-booking="${booking.id}"]`), 'Would be cancelled');
    await form2.locator('.preview-card').getByRole('button', { name: 'Change the range' }).click();
    assert((await form2.locator('.preview-card').count()) === 0, 'the preview is put away');
    still = await api('GET', `/bookings/${booking.id}`, token);
    assert(still.status === 'confirmed' && still.slot_id === at('20').id, 'an unapplied preview changes nothing');
    await pageO.setViewportSize(TABLET);
    await fitsWidth(pageO, 'capacity board with closures (tablet)');
    await pageO.setViewportSize(LAPTOP);
    noErrors(pageO);
    noErrors(pageC);
  });

  await step('at the gate the officer checks the truck in, then completes it', async () => {
    await go(pageO, '#/gate', 'Gate');
    const row = pageO.locator('tbody tr', { hasText: ctx.number });
    await row.waitFor();
    await expectText(row, 'Yellow lane');
    await expectText(row, company.name);
    await expectText(row, 'UTC+08:00 Beijing');
    await accessibility(pageO, 'gate');
    await shot(pageO, '07-gate.png');
    await row.getByRole('button', { name: /Check in/ }).click();
    await expectText(pageO.locator('#live'), 'checked in');
    const r2 = pageO.locator('tbody tr', { hasText: ctx.number });
    await expectText(r2, 'Checked in');
    const b = await api('GET', `/bookings/${ctx.bookingId}`, ctx.officer);
    assert(b.status === 'checked_in', `booking status ${b.status}`);
    await pageO.setViewportSize(TABLET);
    await fitsWidth(pageO, 'gate (tablet)');
    await pageO.setViewportSize(LAPTOP);
    await r2.getByRole('button', { name: /Complete/ }).click();
    await expectText(pageO.locator('#live'), 'completed');
    await until(async () => (await api('GET', `/bookings/${ctx.bookingId}`, ctx.officer)).status === 'completed', 'the booking is completed');
    noErrors(pageO);
  });

  await step('a company books one truck for two declarations: vehicle, driver, a container (check digit checked first)', async () => {
    const token = await login(company.email, PASSWORD);
    ctx.truck = [];
    for (const consignor of ['Bukhara Cotton Mills JSC', 'Samarkand Silk Road Textiles LLC']) {
      const d = await api('POST', '/declarations', token, cotton(ctx.site.id, { consignor, consignee: company.name }));
      ctx.truck.push(await api('POST', `/declarations/${d.id}/submit`, token, {}));
    }
    const [d1, d2] = ctx.truck;
    await go(pageC, `#/book?declaration=${d1.id}`, 'Book a clearance slot');
    await pageC.locator('table.heatmap button.cell').first().waitFor();
    assert((await pageC.locator('#declaration-select').inputValue()) === d1.id, 'the declaration of the link is chosen');
    const target = await pageC.evaluate(() => {
      const soon = Date.now() + 150 * 60000;
      const cell = [...document.querySelectorAll('button.cell:not([aria-disabled])')]
        .filter((b) => new Date(b.dataset.start).getTime() >= soon)
        .sort((a, b) => new Date(a.dataset.start) - new Date(b.dataset.start))[0];
      return cell && cell.dataset.slot;
    });
    assert(target, 'a bookable slot exists');
    await pageC.locator(`button.cell[data-slot="${target}"]`).click();
    const form = pageC.locator('form.truck-form');
    await expectText(form, 'UTC+08:00 Beijing');
    // The other declaration of the same site and mode is offered; the chosen one is ticked.
    assert(await form.getByRole('checkbox', { name: new RegExp(d1.number) }).isChecked(), 'the chosen declaration is ticked');
    await form.getByRole('checkbox', { name: new RegExp(d2.number) }).check();
    await form.getByLabel('Plate number').fill('777 ABZ 02');
    await form.getByLabel('Country of registration').fill('XX');
    await form.getByLabel('Trailer plate (optional)').fill('45 TRL 02');
    await form.getByLabel('Driver’s name').fill('Yerlan Bekov');
    await form.getByLabel('Driver’s document number').fill('N12345678');
    // A container number with a wrong check digit: the console says which digit it should be.
    await form.getByLabel('Container 1').fill('CSQU3054385');
    await form.getByLabel('Driver’s name').focus();
    await expectText(form.locator('.field[data-for="containers[0]"] .msg.client'), 'check digit should be 3, not 5');
    await form.getByRole('button', { name: 'Book slot' }).click();
    await expectText(form.locator('.form-result'), 'Please correct');
    await form.locator('.field[data-for="containers[0]"]').scrollIntoViewIfNeeded();
    await accessibility(pageC, 'truck booking form');
    await form.scrollIntoViewIfNeeded();
    await shot(pageC, '12-truck-booking-form.png', { fullPage: true });
    await pageC.setViewportSize(TABLET);
    await fitsWidth(pageC, 'truck booking form (tablet)');
    await pageC.setViewportSize(LAPTOP);
    // Corrected; the country is one only the server can refuse: its message goes beside the field.
    await form.getByLabel('Container 1').fill('CSQU 305438 3');
    await form.getByRole('button', { name: 'Book slot' }).click();
    await expectText(form.locator('.field[data-for="vehicle.country"] .msg.server'), 'Server');
    await form.getByLabel('Country of registration').fill('KZ');
    await form.getByRole('button', { name: 'Book slot' }).click();
    const done = pageC.locator('.book-page > .form-result');
    await expectText(done, 'Slot booked');
    await expectText(done, d1.number);
    await expectText(done, d2.number);
    const bookings = (await api('GET', '/bookings', token)).items.filter((b) => b.active && (b.declaration_ids || []).includes(d1.id));
    assert(bookings.length === 1, `one booking for the truck: ${JSON.stringify(bookings)}`);
    const b = bookings[0];
    assert(JSON.stringify(b.declaration_ids) === JSON.stringify([d1.id, d2.id]), `both declarations, in order: ${b.declaration_ids}`);
    assert(b.vehicle && b.vehicle.plate === '777ABZ02' && b.vehicle.country === 'KZ' && b.vehicle.trailer_plate === '45TRL02', `vehicle ${JSON.stringify(b.vehicle)}`);
    assert(b.driver && b.driver.name === 'Yerlan Bekov', `driver ${JSON.stringify(b.driver)}`);
    assert(JSON.stringify(b.containers) === '["CSQU3054383"]', `containers ${JSON.stringify(b.containers)}`);
    ctx.truckBooking = b;
    noErrors(pageC);
  });

  await step('the booking shows its gate pass: QR code, code, version, the truck; it prints only the pass', async () => {
    await pageC.locator('.book-page > .form-result').getByRole('link', { name: 'Open the gate pass' }).click();
    await expectText(pageC.locator('main h1'), 'Booking at CNKHG, KZ 777ABZ02');
    const pass = pageC.locator('section.gate-pass');
    await pass.locator('.qr svg[role="img"]').waitFor();
    const box = await pass.locator('.qr svg').boundingBox();
    assert(box && box.width > 100 && box.height > 100, `the QR code is drawn (${JSON.stringify(box)})`);
    await expectText(pass, 'Version 1');
    await expectText(pass, ctx.truck[0].number);
    await expectText(pass, ctx.truck[1].number);
    await expectText(pass, 'CSQU3054383');
    await expectText(pass, 'Yerlan Bekov');
    await expectText(pass, 'UTC+08:00 Beijing');
    ctx.passCode = (await textOf(pass.locator('.code-text'))).trim();
    assert(ctx.passCode === ctx.truckBooking.gate_pass.code, 'the code shown is the booking’s');
    await pass.getByRole('button', { name: 'Print gate pass' }).waitFor();
    await accessibility(pageC, 'gate pass');
    await pageC.screenshot({ path: join(ARTIFACTS, 'booking-page-screen.png'), fullPage: true });
    await pageC.setViewportSize(TABLET);
    await fitsWidth(pageC, 'booking and gate pass (tablet)');
    await pageC.setViewportSize(LAPTOP);
    // The print stylesheet keeps only the pass.
    await pageC.emulateMedia({ media: 'print' });
    assert(!(await pageC.locator('main h1').isVisible()), 'the page heading is not printed');
    assert(!(await pageC.locator('header.top').isVisible()), 'the header is not printed');
    assert(!(await pageC.locator('form.edit-truck').isVisible()), 'the edit form is not printed');
    assert(!(await pass.getByRole('button', { name: 'Print gate pass' }).isVisible()), 'the print button is not printed');
    assert(await pass.locator('.qr svg').isVisible(), 'the QR code is printed');
    await shot(pageC, '13-gate-pass-print.png', { fullPage: true });
    await pageC.emulateMedia({ media: 'screen' });
    noErrors(pageC);
  });

  await step('the company changes the vehicle (If-Match): a stale edit is reloaded, then saved; the gate pass gets a new version', async () => {
    const token = await login(company.email, PASSWORD);
    const edit = pageC.locator('form.edit-truck');
    await edit.getByLabel('Trailer plate (optional)').fill('46 TRL 02');
    // Meanwhile someone else changes the driver.
    await api('PATCH', `/bookings/${ctx.truckBooking.id}`, token, { driver: { name: 'Yerlan Bekov', document_number: 'N87654321' } }, { 'If-Match': `"${ctx.truckBooking.version}"` });
    await edit.getByRole('button', { name: /Save vehicle/ }).click();
    await expectText(pageC.locator('main .alert.warning'), 'changed meanwhile');
    await expectText(pageC.locator('section.gate-pass'), 'N87654321');
    await expectText(pageC.locator('section.gate-pass'), '45TRL02');
    // Again, on the current version.
    await pageC.locator('form.edit-truck').getByLabel('Trailer plate (optional)').fill('46 TRL 02');
    await pageC.locator('form.edit-truck').getByRole('button', { name: /Save vehicle/ }).click();
    await expectText(pageC.locator('main .alert.success'), 'version 2');
    const pass = pageC.locator('section.gate-pass');
    await expectText(pass, '46TRL02');
    await expectText(pass, 'Version 2');
    await pass.locator('.qr svg[role="img"]').waitFor();
    ctx.oldPassCode = ctx.passCode;
    ctx.passCode = (await textOf(pass.locator('.code-text'))).trim();
    assert(ctx.passCode && ctx.passCode !== ctx.oldPassCode, 'a new code');
    noErrors(pageC);
  });

  await step('the same truck cannot hold two bookings at overlapping times (said in plain words, beside the plate)', async () => {
    const token = await login(company.email, PASSWORD);
    const d = await api('POST', '/declarations', token, cotton(ctx.site.id, { consignor: 'Navoi Mining Supplies JSC', consignee: company.name }));
    const d3 = await api('POST', `/declarations/${d.id}/submit`, token, {});
    await go(pageC, `#/book?declaration=${d3.id}`, 'Book a clearance slot');
    await pageC.locator(`button.cell[data-slot="${ctx.truckBooking.slot_id}"]`).click();
    const form = pageC.locator('form.truck-form');
    await expectText(form, d3.number);
    await expectNone(form.getByRole('checkbox', { name: new RegExp(ctx.truck[0].number) }), 'a declaration that is already on a truck');
    await form.getByLabel('Plate number').fill('777-ABZ-02');
    await form.getByLabel('Country of registration').fill('KZ');
    await form.getByRole('button', { name: 'Book slot' }).click();
    await expectText(form.locator('.form-result'), 'already has a booking at a time that overlaps');
    await expectText(form.locator('.field[data-for="vehicle.plate"] .msg.server'), 'already booked');
    await form.getByRole('button', { name: 'Choose another slot' }).click();
    await until(async () => (await pageC.locator('form.truck-form').count()) === 0, 'the form closes');
    noErrors(pageC);
  });

  await step('the officer scans the pass at the gate: refused while not cleared, checked in once approved, then “already checked in”', async () => {
    await go(pageO, '#/review', 'review queue');
    await go(pageO, '#/gate', 'Gate');
    const codeInput = pageO.getByLabel('Gate pass code');
    await codeInput.waitFor();
    await until(() => codeInput.evaluate((el) => el === document.activeElement), 'the code field has the focus (a hand scanner types into it)');
    const outcome = pageO.locator('.scan-result .scan-outcome');
    const scan = async (code) => {
      await pageO.locator('.scan-result').evaluate((el) => el.replaceChildren());
      await codeInput.fill(code);
      await codeInput.press('Enter'); // what a USB scanner does after typing the code
      await outcome.waitFor();
    };
    // The printed pass of before the vehicle change no longer admits.
    await scan(ctx.oldPassCode);
    await expectText(outcome, 'Out-of-date gate pass');
    await expectText(outcome, 'version 1');
    // Not a gate pass at all.
    await scan('not-a-clearway-code');
    await expectText(outcome, 'Not a valid gate pass');
    // The current pass, but customs has not decided yet: the visit is shown with both declarations.
    await scan(ctx.passCode);
    await expectText(outcome, 'Declarations not cleared');
    await expectText(outcome, ctx.truck[0].number);
    await expectText(outcome, ctx.truck[1].number);
    const visit = pageO.locator('.scan-result section.visit');
    await expectText(visit, 'KZ 777ABZ02');
    await expectText(visit, 'Submitted');
    // The officer approves both.
    for (const [i, lane] of [[0, 'green'], [1, 'yellow']]) {
      await api('POST', `/declarations/${ctx.truck[i].id}/approve`, ctx.officer, { risk_lane: lane });
    }
    await scan(ctx.passCode);
    await expectText(outcome, 'Checked in: KZ 777ABZ02');
    await expectText(visit, ctx.truck[0].number);
    await expectText(visit, ctx.truck[1].number);
    await expectText(visit, 'Green lane');
    await expectText(visit, 'Yellow lane');
    await expectText(visit, '46TRL02');
    await expectText(visit, 'Yerlan Bekov');
    await expectText(visit, 'CSQU3054383');
    await expectText(visit, 'Checked in');
    const b = await api('GET', `/bookings/${ctx.truckBooking.id}`, ctx.officer);
    assert(b.status === 'checked_in', `booking status ${b.status}`);
    await expectText(pageO.locator('.gate-bookings tbody tr', { hasText: '777ABZ02' }), 'Checked in');
    await accessibility(pageO, 'gate scan result');
    await shot(pageO, '14-gate-scan.png', { fullPage: true });
    // The same pass again: already checked in, when and by whom.
    await scan(ctx.passCode);
    await expectText(outcome, 'Already checked in');
    await expectText(outcome, 'already checked in at');
    await expectText(outcome, 'by Gulnara Officer');
    // By plate, for a truck without its pass: an unknown plate.
    await pageO.locator('.scan-result').evaluate((el) => el.replaceChildren());
    const byPlate = pageO.locator('form.by-plate');
    await byPlate.getByLabel('Plate number').fill('999 ZZZ 01');
    await byPlate.getByLabel('Country').fill('KZ');
    await byPlate.getByRole('button', { name: 'Check in by plate' }).click();
    await expectText(outcome, 'No booking for this vehicle');
    // By plate, the truck already in.
    await pageO.locator('.scan-result').evaluate((el) => el.replaceChildren());
    await byPlate.getByLabel('Plate number').fill('777-ABZ-02');
    await byPlate.getByRole('button', { name: 'Check in by plate' }).click();
    await expectText(outcome, 'Already checked in');
    await pageO.setViewportSize(TABLET);
    await fitsWidth(pageO, 'gate with a scan result (tablet)');
    await pageO.setViewportSize(LAPTOP);
    noErrors(pageO);
  });

  await step('the company sees the outcome; signing out ends the session', async () => {
    await go(pageC, '#/bookings?show=all', 'Bookings');
    await expectText(pageC.locator('tbody tr', { hasText: ctx.number }), 'Completed');
    await go(pageC, '#/declarations', 'Declarations');
    await expectText(pageC.locator('tbody tr', { hasText: ctx.number }), 'Approved');
    await pageC.getByRole('link', { name: `View ${ctx.number}` }).click();
    await expectText(pageC.locator('main h1'), `Declaration ${ctx.number}`);
    await pageC.locator('main .facts').waitFor();
    await expectNone(pageC.getByRole('button', { name: 'Cancel declaration' }), 'cancel (approved)');
    await expectNone(pageC.locator('main .actions').getByRole('link', { name: 'Edit' }), 'edit (approved)');
    await pageC.getByRole('button', { name: 'Sign out' }).click();
    await expectText(pageC.locator('main h1'), 'Sign in');
    const stored = await pageC.evaluate(() => Object.keys(sessionStorage).length);
    assert(stored === 0, 'no token left in sessionStorage');
    noErrors(pageC);
  });

  let pageS;
  await step('a supervisor adds a site and a schedule from the console', async () => {
    pageS = await newPage(browser);
    await signIn(pageS, SUPERVISOR.email, SUPERVISOR.password);
    await pageS.getByRole('link', { name: 'Sites & schedules' }).click();
    await expectText(pageS.locator('main h1'), 'Sites and schedules');
    await expectText(pageS.locator('main'), 'CNKHG · Kashgar Comprehensive Bonded Zone');
    await pageS.getByLabel('Code (UN/LOCODE)').fill('CNKRL');
    await pageS.getByLabel(/^Name/).fill('Korla Rail Freight Station');
    await pageS.getByRole('checkbox', { name: 'road' }).uncheck();
    await pageS.getByRole('checkbox', { name: 'rail' }).check();
    await pageS.getByRole('button', { name: 'Create site' }).click();
    const card = pageS.locator('section.card', { hasText: 'CNKRL · Korla Rail Freight Station' });
    await card.waitFor();
    await card.getByLabel('Slot length (min)').selectOption('120');
    await card.getByLabel('Capacity per slot').fill('4');
    if (ctx.has.reserved) {
      await card.getByLabel('Reserved for advanced-certified').fill('1');
      await card.getByLabel(/^Released/).fill('240');
    }
    await card.getByRole('button', { name: 'Add 24/7 schedule' }).click();
    await expectText(pageS.locator('section.card', { hasText: 'CNKRL' }).locator('tbody'), '120 min');
    if (ctx.has.reserved) await expectText(pageS.locator('section.card', { hasText: 'CNKRL' }).locator('tbody'), '1, released 240 min before');
    await accessibility(pageS, 'sites');
    await shot(pageS, '11-supervisor-sites.png', { fullPage: true });
    noErrors(pageS);
  });

  await stepIf(ctx.has && ctx.has.policy, 'a supervisor edits a site’s booking rules: the server’s refusal beside the field, then saved', async () => {
    await go(pageS, '#/sites', 'Sites and schedules');
    const form = pageS.locator(`form.policy-form[data-site="${ctx.site.id}"]`);
    await form.waitFor();
    const shareField = form.locator('.field[data-for="policy.max_share_percent"]');
    const before = await api('GET', `/sites/${ctx.site.id}`, ctx.supervisor);
    assert(String(before.policy.max_share_percent) === (await shareField.locator('input').inputValue()), 'the effective share is shown');
    // A share over 100 %: the console leaves the range to the server, whose message goes beside the field.
    await shareField.locator('input').fill('150');
    await form.getByRole('button', { name: /Save booking rules/ }).click();
    await expectText(shareField.locator('.msg.server'), 'Server');
    let now = await api('GET', `/sites/${ctx.site.id}`, ctx.supervisor);
    assert(JSON.stringify(now.policy) === JSON.stringify(before.policy), 'nothing saved');
    await accessibility(pageS, 'site policy form with an error');
    await form.scrollIntoViewIfNeeded();
    await pageS.mouse.move(0, 0);
    await form.screenshot({ path: join(SHOTS, '16-site-policy.png') });
    // Corrected, and a shorter notice at this port.
    await shareField.locator('input').fill('40');
    await form.locator('.field[data-for="policy.min_notice_minutes"] input').fill('90');
    await form.evaluate((el) => el.setAttribute('data-before-save', ''));
    await form.getByRole('button', { name: /Save booking rules/ }).click();
    await expectText(pageS.locator('#live'), 'saved');
    // The page is drawn again from the server's answer.
    await until(async () => (await pageS.locator('form.policy-form[data-before-save]').count()) === 0, 'the sites page is drawn again');
    now = await api('GET', `/sites/${ctx.site.id}`, ctx.supervisor);
    assert(now.policy.max_share_percent === 40 && now.policy.min_notice_minutes === 90, `saved: ${JSON.stringify(now.policy)}`);
    const again = pageS.locator(`form.policy-form[data-site="${ctx.site.id}"]`);
    assert((await again.locator('.field[data-for="policy.min_notice_minutes"] input').inputValue()) === '90', 'the form shows the saved rules');
    // Emptied: back to the deployment's default (120).
    await again.locator('.field[data-for="policy.min_notice_minutes"] input').fill('');
    await again.getByRole('button', { name: /Save booking rules/ }).click();
    await until(async () => (await api('GET', `/sites/${ctx.site.id}`, ctx.supervisor)).policy.min_notice_minutes === before.policy.min_notice_minutes, 'the notice is back to the default');
    noErrors(pageS);
  });

  await step('an expired access token is refreshed transparently', async () => {
    await signIn(pageC, company.email, PASSWORD);
    await pageC.evaluate(() => sessionStorage.setItem('clearway.access_token', 'expired.token.value'));
    await go(pageC, '#/bookings?show=all', 'Bookings');
    await expectText(pageC.locator('main tbody'), ctx.number);
    const token = await pageC.evaluate(() => sessionStorage.getItem('clearway.access_token'));
    assert(token && token !== 'expired.token.value', 'a new access token was stored');
    noErrors(pageC);
  });
} finally {
  await browser.close().catch(() => {});
}


finish();
