// Languages of the console: Chinese (zh-CN), English and Russian. Every
// visible string comes from a catalog (`lang-<code>.js`, one per language,
// the same keys in each); `t(key, vars)` looks it up in the chosen language,
// then in English, so a key missing from one catalog shows English rather
// than nothing (a test checks that no key is missing anywhere).

import en from './lang-en.js';
import zh from './lang-zh-CN.js';
import ru from './lang-ru.js';

export const LANGUAGES = [
  { code: 'zh-CN', name: '中文' },
  { code: 'en', name: 'English' },
  { code: 'ru', name: 'Русский' },
];

const CATALOGS = { 'zh-CN': zh, en, ru };
const STORAGE_KEY = 'clearway.language';

/** The best of our languages for a list of BCP 47 tags, English otherwise. */
export function negotiate(tags) {
  for (const tag of tags || []) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('ru')) return 'ru';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

function stored(userId) {
  try {
    return localStorage.getItem(userId ? `${STORAGE_KEY}.${userId}` : STORAGE_KEY);
  } catch {
    return null;
  }
}

let current = CATALOGS[stored()] ? stored() : negotiate(globalThis.navigator ? navigator.languages : []);

/** The language in use (`zh-CN`, `en` or `ru`). */
export function language() {
  return current;
}

/**
 * Switches language and remembers it (for this user when `userId` is given,
 * and as the default of this browser). Returns the language set.
 */
export function setLanguage(code, userId) {
  if (!CATALOGS[code]) return current;
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
    if (userId) localStorage.setItem(`${STORAGE_KEY}.${userId}`, code);
  } catch {
    // Private browsing: the choice lasts for this page only.
  }
  if (globalThis.document) document.documentElement.lang = code;
  return current;
}

/** After sign-in: the language this user chose before, if any. */
export function restoreFor(userId) {
  const code = stored(userId);
  if (code && CATALOGS[code]) setLanguage(code, userId);
  return current;
}

/** The message `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = CATALOGS[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
}

/** A number in the language's format (`1,234.5`, `1 234,5`). */
export function formatNumber(n, options) {
  return new Intl.NumberFormat(current, options).format(n);
}

/** Every catalog, for tests. */
export const catalogs = CATALOGS;
