// Times are shown in the clearance site's own zone, always with the offset
// and the zone's name, never in the browser's zone.

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/** Date, time and offset of an RFC 3339 local time such as `2026-12-01T08:00:00+06:00`. */
export function localParts(iso) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(iso || '');
  if (!m) return { date: '', time: '', offset: '' };
  return { date: m[1], time: m[2], offset: m[3] === 'Z' ? '+00:00' : m[3] };
}

/** `UTC+06:00`. */
export function offsetLabel(offset) {
  return `UTC${offset || '+00:00'}`;
}

/** `UTC+06:00 Asia/Urumqi`. */
export function zoneLabel(offset, timezone) {
  return timezone ? `${offsetLabel(offset)} ${timezone}` : offsetLabel(offset);
}

function dateOf(ymd) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** `Tue 1 Dec`. */
export function shortDay(ymd) {
  const d = dateOf(ymd);
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** `Tuesday 1 December 2026`. */
export function longDay(ymd) {
  const d = dateOf(ymd);
  return `${WEEKDAYS_LONG[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS_LONG[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** `YYYY-MM-DD` n days after `ymd`. */
export function addDays(ymd, n) {
  const d = dateOf(ymd);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** A slot's local span: `Tue 1 Dec 2026, 08:00–09:00 UTC+06:00 Asia/Urumqi`. */
export function slotSpan(slot) {
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  const year = a.date.slice(0, 4);
  return `${shortDay(a.date)} ${year}, ${a.time}–${b.time} ${zoneLabel(a.offset, slot.timezone)}`;
}

/** Same, for screen readers: full day name, `to` instead of a dash. */
export function slotSpanLong(slot) {
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  return `${longDay(a.date)}, ${a.time} to ${b.time}, ${zoneLabel(a.offset, slot.timezone)}`;
}

function partsInZone(date, timezone) {
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  });
  const out = {};
  for (const p of fmt.formatToParts(date)) out[p.type] = p.value;
  const off = (out.timeZoneName || 'GMT').replace('GMT', '') || '+00:00';
  return { date: `${out.year}-${out.month}-${out.day}`, time: `${out.hour}:${out.minute}`, offset: off };
}

/** Today's date in a zone, `YYYY-MM-DD`. */
export function todayIn(timezone, now = new Date()) {
  return partsInZone(now, timezone).date;
}

/** The zone's offset on a local date (taken at noon), `+06:00`. */
export function offsetOn(timezone, ymd) {
  const noon = new Date(`${ymd}T12:00:00Z`);
  return partsInZone(noon, timezone).offset;
}

/** Local midnight of a date in a zone as RFC 3339, for `from`/`to` queries. */
export function midnight(timezone, ymd) {
  return `${ymd}T00:00:00${offsetOn(timezone, ymd)}`;
}

/** A UTC instant shown in a site's zone: `1 Dec 2026 08:00 UTC+06:00 Asia/Urumqi`. */
export function inZone(isoUtc, timezone) {
  if (!isoUtc) return '—';
  const p = partsInZone(new Date(isoUtc), timezone || 'UTC');
  const d = dateOf(p.date);
  const zone = !timezone || timezone === 'UTC' ? 'UTC' : zoneLabel(p.offset, timezone);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p.time} ${zone}`;
}

/** The current offset of a zone right now. */
export function currentOffset(timezone) {
  return partsInZone(new Date(), timezone).offset;
}

/** Two UTC instants in a site's zone: `1 Dec 2026 07:30–09:30 UTC+06:00 Asia/Urumqi` (both dates when they differ). */
export function spanInZone(fromUtc, toUtc, timezone) {
  if (!fromUtc || !toUtc) return '—';
  const tz = timezone || 'UTC';
  const a = partsInZone(new Date(fromUtc), tz);
  const b = partsInZone(new Date(toUtc), tz);
  const zone = tz === 'UTC' ? 'UTC' : zoneLabel(a.offset, tz);
  const day = (p) => {
    const d = dateOf(p.date);
    return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  };
  if (a.date === b.date && a.offset === b.offset) return `${day(a)} ${a.time}–${b.time} ${zone}`;
  return `${inZone(fromUtc, tz)} – ${inZone(toUtc, tz)}`;
}
