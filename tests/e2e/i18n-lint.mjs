// Checks of the console's message catalogs and sources, without a browser
// (run by i18n.e2e.mjs, and alone: `node tests/e2e/i18n-lint.mjs`):
//  - every key of any catalog is in all three (web/lang-en.js, lang-zh-CN.js,
//    lang-ru.js) with a non-empty value and the same {placeholders};
//  - every t('key') the sources call exists in the catalogs;
//  - no visible string is hard-coded: a string literal that reads as words
//    (a capitalised word, or words with a space) anywhere but in t('…'),
//    an import, a comment or a CSS/DOM selector is reported with its line.
//    A line that must keep a literal (a brand, a standard's code) says so
//    with `// i18n-ok`.

import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '../../web');

export async function catalogs() {
  const load = async (f) => (await import(join(WEB, f))).default;
  return { en: await load('lang-en.js'), 'zh-CN': await load('lang-zh-CN.js'), ru: await load('lang-ru.js') };
}

const placeholders = (v) => [...String(v).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');

/** Problems of the catalogs, as sentences (empty: none). */
export async function catalogProblems() {
  const cats = await catalogs();
  const out = [];
  const all = new Set(Object.values(cats).flatMap((c) => Object.keys(c)));
  for (const key of all) {
    for (const [lang, c] of Object.entries(cats)) {
      if (!(key in c)) out.push(`${key}: missing in ${lang}`);
      else if (typeof c[key] !== 'string' || !c[key].trim()) out.push(`${key}: empty in ${lang}`);
    }
    const sets = Object.entries(cats).filter(([, c]) => key in c).map(([l, c]) => `${l}={${placeholders(c[key])}}`);
    if (new Set(sets.map((s) => s.split('=')[1])).size > 1) out.push(`${key}: placeholders differ: ${sets.join(' ')}`);
  }
  // Chinese and Russian are translations, not English copies (short codes aside).
  for (const key of all) {
    const en = cats.en[key];
    for (const lang of ['zh-CN', 'ru']) {
      const v = cats[lang][key];
      if (v && en && v === en && /[a-z]{3,} [a-z]{3,}/i.test(en)) out.push(`${key}: ${lang} is the English text`);
    }
  }
  // Every key used exists.
  for (const file of sources()) {
    const text = readFileSync(join(WEB, file), 'utf8');
    for (const m of text.matchAll(/\bt\('([^']+)'/g)) {
      if (!(m[1] in cats.en)) out.push(`${file}: t('${m[1]}') is in no catalog`);
    }
  }
  return out;
}

export function sources() {
  return readdirSync(WEB).filter((f) => f.endsWith('.js') && !f.startsWith('lang-'));
}

const WORDS = /[A-Z][a-z]+|[A-Za-z]{2,}\s+[A-Za-z]{2,}/;

/** Hard-coded visible strings of one source file: `file:line: 'literal'`. */
export function hardCoded(file) {
  const out = [];
  const lines = readFileSync(join(WEB, file), 'utf8').split('\n');
  let inBlockComment = false;
  lines.forEach((raw, i) => {
    let line = raw;
    if (inBlockComment) {
      const end = line.indexOf('*/');
      if (end < 0) return;
      line = line.slice(end + 2);
      inBlockComment = false;
    }
    const trimmed = line.trim();
    if (trimmed.startsWith('//') || trimmed.startsWith('*') || trimmed.startsWith('import ')) return;
    if (trimmed.startsWith('/*')) {
      if (!trimmed.includes('*/')) inBlockComment = true;
      return;
    }
    if (raw.includes('i18n-ok')) return;
    // Drop calls whose string arguments are keys or selectors, and trailing comments.
    const code = line
      .replace(/\/\/ .*$/, '')
      .replace(/\bt\(\s*(['`])[^'`]*\1/g, 't(KEY')
      .replace(/\b(querySelector|querySelectorAll|closest|getElementById|matches|getAttribute|setAttribute|removeAttribute|startsWith|endsWith|split|includes|createElement|addEventListener|getItem|setItem|has|get|post|patch|put|del|all|call|Error)\(\s*(['`])[^'`]*\2/g, '$1(SEL')
      .replace(/\b(class|type|name|autocomplete|role|id|for|method|value|rel|href|src|inputmode|pattern|lang|scope|kind|mode|accept|dataset|d)\s*:\s*(['`])[^'`]*\2/g, '$1: ATTR');
    for (const m of code.matchAll(/'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g)) {
      const text = (m[1] ?? m[2] ?? '').replace(/\$\{[^}]*\}/g, ' ');
      if (!WORDS.test(text)) continue;
      if (/^[a-z0-9_.:/#?=&%-]+$/i.test(text.trim()) && !/\s/.test(text.trim()) && !/^[A-Z][a-z]+$/.test(text.trim())) continue;
      if (/^(\/|#|\.\/|https?:)/.test(text.trim())) continue;
      if (/^[a-z-]+\s*[:=(\[]/.test(text.trim())) continue; // CSS, selectors
      out.push(`${file}:${i + 1}: ${m[0]}`);
    }
  });
  return out;
}

if (process.argv[1] && process.argv[1].endsWith('i18n-lint.mjs')) {
  const problems = await catalogProblems();
  for (const p of problems) console.log(`catalog: ${p}`);
  let total = 0;
  for (const f of sources()) {
    const found = hardCoded(f);
    total += found.length;
    for (const x of found) console.log(x);
    console.error(`${f}: ${found.length} hard-coded`);
  }
  process.exit(problems.length || total ? 1 : 0);
}
