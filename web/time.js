// Times are shown in the clearance site's own zone (its official one, e.g.
// Beijing time), always with the offset and the zone's name, never in the
// browser's zone; a site's display zones are shown beside it
// ("10:00 Beijing · 08:00 Urumqi"). Day and month names come from Intl in
// the console's language; zone names from the catalogs.

import { t, language } from './i18n.js';

function dayFormat(options) {
  return new Intl.DateTimeFormat(language() === 'en' ? 'en-GB' : language(), { timeZone: 'UTC', ...options });
}

/** A zone's name in the console's language: `北京`, `Урумчи`, else the city of its IANA name. */
export function zoneName(timezone) {
  if (!timezone) return 'UTC';
  const key = `zone.${timezone}`;
  const text = t(key);
  return text === key ? timezone.split('/').pop().replace(/_/g, ' ') : text;
}

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

/** `UTC+08:00 Beijing` (the zone's name in the console's language). */
export function zoneLabel(offset, timezone) {
  return timezone ? `${offsetLabel(offset)} ${zoneName(timezone)}` : offsetLabel(offset);
}

function dateOf(ymd) {
  const [y, m, d] = (ymd || '').split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** A day in the console's language; '—' for a missing or unreadable date (Intl throws on those). */
function formatDay(options, ymd) {
  const d = dateOf(ymd);
  return Number.isNaN(d.getTime()) ? '—' : dayFormat(options).format(d);
}

/** `Tue 1 Dec` (`12月1日周二`, `вт, 1 дек.`). */
export function shortDay(ymd) {
  return formatDay({ weekday: 'short', day: 'numeric', month: 'short' }, ymd);
}

/** `Tuesday 1 December 2026` in the console's language. */
export function longDay(ymd) {
  return formatDay({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }, ymd);
}

/** `1 Dec 2026` in the console's language. */
export function mediumDay(ymd) {
  return formatDay({ day: 'numeric', month: 'short', year: 'numeric' }, ymd);
}

/** `YYYY-MM-DD` n days after `ymd`. */
export function addDays(ymd, n) {
  const d = dateOf(ymd);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** A slot's local span: `Tue 1 Dec 2026, 10:00–11:00 UTC+08:00 Beijing · 08:00 Urumqi`. */
export function slotSpan(slot) {
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  return `${dayWithWeekday(a.date)}, ${a.time}–${b.time} ${zoneLabel(a.offset, slot.timezone)}${alsoIn(slot)}`;
}

/** `Tue, 1 Dec 2026` in the console's language. */
export function dayWithWeekday(ymd) {
  return formatDay({ weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }, ymd);
}

/**
 * A slot's or booking's start in its display zones (`display_times` of the
 * answer): ` · 08:00 Urumqi · 08:00 Almaty`, or '' when it has none.
 */
export function alsoIn(item) {
  const shown = (item && item.display_times) || [];
  return shown.map((d) => ` · ${localParts(d.starts_at_local).time} ${zoneName(d.timezone)}`).join('');
}

/** A start in its official zone and its display zones: `10:00 Beijing · 08:00 Urumqi`. */
export function startsIn(item, timezone) {
  return `${localParts(item.starts_at_local).time} ${zoneName(timezone || item.timezone)}${alsoIn(item)}`;
}

/** Same, for screen readers: full day name, words instead of a dash. */
export function slotSpanLong(slot) {
  const a = localParts(slot.starts_at_local);
  const b = localParts(slot.ends_at_local);
  return t('time.span_long', { day: longDay(a.date), from: a.time, to: b.time, zone: zoneLabel(a.offset, slot.timezone) }) + alsoIn(slot);
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

/** A UTC instant's date and time in a zone: `{date: 'YYYY-MM-DD', time: 'HH:MM'}`. */
export function timeParts(isoUtc, timezone) {
  const p = partsInZone(new Date(isoUtc), timezone || 'UTC');
  return { date: p.date, time: p.time };
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
  const zone = !timezone || timezone === 'UTC' ? 'UTC' : zoneLabel(p.offset, timezone);
  return `${mediumDay(p.date)} ${p.time} ${zone}`;
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
  if (a.date === b.date && a.offset === b.offset) return `${mediumDay(a.date)} ${a.time}–${b.time} ${zone}`;
  return `${inZone(fromUtc, tz)} – ${inZone(toUtc, tz)}`;
}
