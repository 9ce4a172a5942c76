// Holds and waitlists in the console (issue 16): a company holds a slot,
// sees the countdown, books the held place; joins the waitlist of a full
// slot, sees its position, and books the place offered when one frees.
// Its own officer, companies and site (CNALW, Alataw Pass), so that it runs
// beside the other files against one server.

import {
  PASSWORD,
  SUPERVISOR,
  accessibility,
  api,
  assert,
  expectText,
  finish,
  go,
  launch,
  localDate,
  login,
  cotton,
  newPage,
  noErrors,
  shot,
  signIn,
  step,
  until,
} from './lib.mjs';

const run = Date.now().toString(36);
const OFFICER = { email: `holds-officer-${run}@customs.e2e.test`, password: 'Alataw-Pass-Inspector-2026' };
const ctx = {};

async function company(tag) {
  const email = `holds-${tag}-${run}@alataw.e2e.test`;
  const reg = await api('POST', '/auth/register', null, {
    enterprise: { name: `Alataw ${tag} Logistics`, country: 'DE', registration_code: `DEH${tag}${run}`.toUpperCase().slice(0, 17) },
    admin: { email, password: PASSWORD, display_name: `Holds ${tag}` },
  });
  await api('POST', `/enterprises/${reg.enterprise.id}/verify`, ctx.officer, {});
  return { email, token: await login(email, PASSWORD), id: reg.enterprise.id };
}

async function declaration(token) {
  const d = await api('POST', '/declarations', token, cotton(ctx.site.id));
  await api('POST', `/declarations/${d.id}/submit`, token, {});
  return d.id;
}

const browser = await launch();
try {
  await step('set-up through the API: officer, site CNALW with one place per hour, a full slot tomorrow', async () => {
    ctx.supervisor = await login(SUPERVISOR.email, SUPERVISOR.password);
    await api('POST', '/officers', ctx.supervisor, { ...OFFICER, display_name: 'Holds Officer', role: 'officer' });
    ctx.officer = await login(OFFICER.email, OFFICER.password);
    ctx.site = await api('POST', '/sites', ctx.supervisor, { code: 'CNALW', name: 'Alataw Pass', timezone: 'Asia/Urumqi', modes: ['road'] });
    await api('POST', `/sites/${ctx.site.id}/schedules`, ctx.supervisor, { mode: 'road', slot_minutes: 60, capacity: 1 });
    const tomorrow = localDate(1);
    const slots = (await api('GET', `/slots?site_id=${ctx.site.id}&mode=road&from=${encodeURIComponent(`${tomorrow}T00:00:00+06:00`)}&limit=48`, ctx.officer)).items;
    const at = (hh) => slots.find((s) => s.starts_at_local.slice(11, 13) === hh);
    ctx.free = at('09');
    ctx.full = at('10');
    ctx.x = await company('x');
    ctx.xBooking = await api('POST', '/bookings', ctx.x.token, { declaration_id: await declaration(ctx.x.token), slot_id: ctx.full.id });
    ctx.a = await company('a');
    ctx.d1 = await declaration(ctx.a.token);
    ctx.d2 = await declaration(ctx.a.token);
  });

  const page = await newPage(browser);

  await step('the company holds a free slot and sees the countdown run', async () => {
    await signIn(page, ctx.a.email, PASSWORD);
    await go(page, `#/book?declaration=${ctx.d1}`, 'Book a clearance slot');
    const cell = page.locator(`button.cell[data-slot="${ctx.free.id}"]`);
    await cell.click();
    await page.locator('#hold-slot').click();
    const banner = page.locator('.hold-banner');
    await expectText(banner, 'Place held');
    const timer = banner.locator('[role=timer]');
    const first = await timer.textContent();
    assert(/\d+:\d\d left/.test(first), `countdown shown: ${first}`);
    await until(async () => (await timer.textContent()) !== first, 'the countdown runs', 5000);
    const held = (await api('GET', '/holds?status=active', ctx.a.token)).items;
    assert(held.length === 1 && held[0].slot_id === ctx.free.id, 'one live hold on the slot');
    ctx.hold = held[0].id;
    const slot = await api('GET', `/slots/${ctx.free.id}`, ctx.officer);
    assert(slot.held === 1 && slot.available === 0, `the slot shows it held: ${JSON.stringify(slot)}`);
    await accessibility(page, 'hold banner');
    await shot(page, 'holds-01-countdown.png', { fullPage: true });
    noErrors(page);
  });

  await step('booking converts the hold into the booking', async () => {
    await page.getByRole('button', { name: 'Book slot' }).click();
    await expectText(page.locator('.alert.success'), 'Slot booked');
    const hold = await api('GET', `/holds/${ctx.hold}`, ctx.a.token);
    assert(hold.status === 'converted' && hold.booking_id, `converted: ${JSON.stringify(hold)}`);
    const slot = await api('GET', `/slots/${ctx.free.id}`, ctx.officer);
    assert(slot.held === 0 && slot.booked === 1, 'the held place is now booked');
    noErrors(page);
  });

  await step('a full slot offers the waitlist, and the position is shown', async () => {
    await go(page, `#/book?declaration=${ctx.d2}`, 'Book a clearance slot');
    await page.locator(`button.cell[data-slot="${ctx.full.id}"]`).click({ force: true });
    await expectText(page.locator('.waitlist-box'), 'This slot is full');
    await page.locator('#join-waitlist').click();
    await expectText(page.locator('.waitlist-box'), 'Position 1 in line');
    await expectText(page.locator('.waitlist-panel'), 'Position 1 in line');
    await accessibility(page, 'waitlist');
    await shot(page, 'holds-02-waitlist.png', { fullPage: true });
    noErrors(page);
  });

  await step('when the place frees, the offer surfaces with its countdown and books', async () => {
    await api('POST', `/bookings/${ctx.xBooking.id}/cancel`, ctx.x.token, {});
    await go(page, '#/bookings', 'Bookings');
    await go(page, `#/book?declaration=${ctx.d2}`, 'Book a clearance slot');
    const offer = page.locator('.waitlist-offer');
    await expectText(offer, 'A place is offered to you');
    assert(/\d+:\d\d left/.test(await offer.locator('[role=timer]').textContent()), 'offer countdown shown');
    await shot(page, 'holds-03-offer.png', { fullPage: true });
    await offer.getByRole('button', { name: 'Book the offered place' }).click();
    await page.getByRole('button', { name: 'Book slot' }).click();
    await expectText(page.locator('.alert.success'), 'Slot booked');
    const entries = (await api('GET', '/waitlist', ctx.a.token)).items;
    assert(entries[0].status === 'fulfilled', `fulfilled: ${JSON.stringify(entries[0])}`);
    noErrors(page);
  });
} finally {
  await browser.close().catch(() => {});
}

finish();
