import { t } from './i18n.js';

// Small DOM helpers. Text always goes in as text nodes (never parsed as HTML), so
// nothing the API returns can become markup.

/**
 * h('button', {class: 'primary', onclick: fn}, 'Save') → <button>.
 * Attributes: `class`, `for`, `on<event>` handlers, booleans (true → present,
 * false/null → absent), `dataset` object; children: nodes, strings, arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let uid = 0;
/** A unique id for label/field/message wiring. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Speaks a message through the polite live region (#live, for assistive
 * technology) and shows it as a toast (aria-hidden: said once). The toast
 * never covers what a page marks `data-toast-avoid` (the heat map's cells):
 * it takes the first viewport corner clear of those, else the page's own
 * in-flow place for it (`data-toast-host`, which keeps its room so nothing
 * moves), and moves again when the page scrolls or resizes.
 */
export function announce(message, kind = 'info') {
  const region = document.getElementById('live');
  if (!region) return;
  region.replaceChildren(h('p', {}, message));
  const toast = toastBox();
  toast.replaceChildren(h('p', { class: `toast ${kind}` }, message));
  placeToast();
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => {
    region.replaceChildren();
    toast.replaceChildren();
    toast.hidden = true;
  }, 8000);
}

function toastBox() {
  let box = document.getElementById('toast');
  if (!box) {
    box = h('div', { id: 'toast', class: 'toast-box', 'aria-hidden': 'true', hidden: true });
    document.body.append(box);
    let queued = false;
    const again = () => {
      if (queued || box.hidden) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        placeToast();
      });
    };
    window.addEventListener('scroll', again, { passive: true });
    window.addEventListener('resize', again);
    // A page's host goes with the page: back to a corner (the next page re-places it once drawn).
    window.addEventListener('hashchange', () => {
      if (box.parentElement !== document.body) document.body.append(box);
      again();
    });
  }
  return box;
}

const CORNERS = ['bottom-right', 'bottom-left', 'top-left', 'top-right'];

function overlaps(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** Puts the toast where it covers nothing marked `data-toast-avoid`. */
export function placeToast() {
  const box = document.getElementById('toast');
  if (!box || !box.firstChild) return;
  box.hidden = false;
  const avoid = [...document.querySelectorAll('[data-toast-avoid]')]
    .map((el) => el.getBoundingClientRect())
    .filter((r) => r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight);
  if (box.parentElement !== document.body) document.body.append(box);
  box.classList.remove('inline');
  for (const corner of CORNERS) {
    box.dataset.corner = corner;
    const r = box.getBoundingClientRect();
    if (!avoid.some((a) => overlaps(a, r))) return;
  }
  const host = document.querySelector('[data-toast-host]');
  delete box.dataset.corner;
  if (host) {
    box.classList.add('inline');
    host.append(box);
  } else {
    box.dataset.corner = CORNERS[0];
  }
}

/** A role's name in the console's language (`company_admin` → `Company administrator`). */
export function roleName(role) {
  const key = `role.${role}`;
  const text = t(key);
  return text === key ? role : text;
}

/** A status in the console's language (the API's word when the catalog has none). */
export function statusLabel(status) {
  const key = `status.${status}`;
  const text = t(key);
  return text === key ? status : text;
}

/** A status as a badge: text first, colour only as a second cue. */
export function badge(status) {
  return h('span', { class: `badge badge-${status}` }, statusLabel(status));
}

export function laneBadge(lane) {
  if (!lane) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `badge lane-${lane}` }, t(`lane.${lane}`));
}

/** An error box (role=alert) for an ApiError or any Error. */
export function errorBox(err, heading = t('ui.failed')) {
  const list = (err.fieldErrors || []).map((e) => h('li', {}, `${e.field}: ${e.message}`));
  const text = describe(err);
  // A detail that only repeats the heading is not said twice.
  const same = text.toLowerCase().replace(/\s*\(http \d+\)$/, '').replace(/[.\s]+$/, '') === heading.toLowerCase().replace(/[.\s]+$/, '');
  return h(
    'div',
    { class: 'alert error', role: 'alert' },
    h('p', { class: 'alert-title' }, heading),
    same ? null : h('p', {}, text),
    list.length ? h('ul', {}, list) : null,
  );
}

/** One sentence for an error, with the HTTP status when there is one. */
export function describe(err) {
  if (!err) return '';
  if (err.status) {
    const p = err.problem || {};
    const text = p.detail || p.title || err.message;
    return `${text} (HTTP ${err.status})`;
  }
  return err.message || String(err);
}

/** A page heading that receives focus after navigation. */
export function pageTitle(text, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', id: 'page-title' }, text), ...extra);
}

/**
 * A labelled form control with slots for a hint, a client-side message and
 * a server message, side by side with the field.
 */
export function field({ label, name, type = 'text', value = '', hint, required, options, attrs = {}, control }) {
  const id = nextId(name.replace(/[^a-z0-9]/gi, '-'));
  const hintId = hint ? `${id}-hint` : null;
  const clientId = `${id}-client`;
  const serverId = `${id}-server`;
  const describedBy = [hintId, clientId, serverId].filter(Boolean).join(' ');
  let input = control;
  if (!input && options) {
    input = h(
      'select',
      { id, name, required, 'aria-describedby': describedBy, ...attrs },
      options.map((o) => h('option', { value: o.value, selected: String(o.value) === String(value) }, o.label)),
    );
  } else if (!input && type === 'textarea') {
    input = h('textarea', { id, name, required, 'aria-describedby': describedBy, ...attrs });
    input.value = value ?? '';
  } else if (!input) {
    input = h('input', { id, name, type, required, 'aria-describedby': describedBy, ...attrs });
    input.value = value ?? '';
  } else {
    input.id = id;
    input.setAttribute('aria-describedby', describedBy);
  }
  input.dataset.field = name;
  const wrap = h(
    'div',
    { class: 'field', dataset: { for: name } },
    h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h(
      'div',
      { class: 'messages' },
      h('p', { class: 'msg client', id: clientId, dataset: { kind: 'client' } }),
      h('p', { class: 'msg server', id: serverId, dataset: { kind: 'server' } }),
    ),
  );
  return wrap;
}

/** Shows (or clears) a field's client-side or server message. */
export function setMessage(fieldWrap, kind, text) {
  const p = fieldWrap.querySelector(`.msg.${kind}`);
  if (!p) return;
  p.replaceChildren();
  if (text) {
    p.append(h('span', { class: 'msg-source' }, kind === 'client' ? t('ui.check') : t('ui.server')), ' ', text);
  }
  const input = fieldWrap.querySelector('input, select, textarea');
  const invalid = fieldWrap.querySelector('.msg.client')?.textContent || fieldWrap.querySelector('.msg.server')?.textContent;
  if (input) input.setAttribute('aria-invalid', invalid ? 'true' : 'false');
  fieldWrap.classList.toggle('invalid', Boolean(invalid));
}

/**
 * Live client-side checking of one field: shown when the user leaves it,
 * updated while they type once shown. Leaving it for a button skips the
 * check (the button's own action checks everything), so that the layout
 * does not move under the pointer between mousedown and click.
 */
export function liveCheck(wrap, check, onInput) {
  const input = wrap.querySelector('input, select, textarea');
  input.addEventListener('blur', (e) => {
    if (e.relatedTarget && e.relatedTarget.closest('button, [role=button]')) return;
    setMessage(wrap, 'client', check(input.value));
  });
  input.addEventListener('input', () => {
    if (wrap.querySelector('.msg.client').textContent) setMessage(wrap, 'client', check(input.value));
    if (onInput) onInput();
  });
}

/** A modal dialog; resolves with the value of the button that closed it. */
export function dialog({ title, body, confirm = t('ui.confirm'), cancel = t('ui.cancel'), danger = false }) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const form = h('form', { method: 'dialog' });
    const dlg = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      form,
    );
    form.append(
      h('div', { class: 'dialog-body' }, body),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', value: 'cancel', class: 'secondary' }, cancel),
        h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, confirm),
      ),
    );
    dlg.addEventListener('close', () => {
      const result = dlg.returnValue === 'ok' ? new FormData(form) : null;
      dlg.remove();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Runs an action from a button: disables it meanwhile, reports the outcome. */
export async function busy(button, fn) {
  const old = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = old;
    button.removeAttribute('aria-busy');
  }
}

/** A table with a caption and column headers; rows are arrays of cells. */
export function table({ caption, columns, rows, empty = t('ui.empty'), className = '' }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' },
    h(
      'table',
      { class: `data ${className}` },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            r.attrs || {},
            (r.cells || r).map((c, i) => (i === 0 && r.header !== false ? h('th', { scope: 'row' }, c) : h('td', {}, c))),
          ),
        ),
      ),
    ),
  );
}

/** A loading placeholder announced to assistive technology. */
export function loading(text = t('ui.loading')) {
  return h('p', { class: 'loading', role: 'status' }, text);
}

/** The slug of a problem's `type` (`…/problems/<slug>`), or '' for an error that is not a problem. */
export function problemSlug(err) {
  const type = (err && err.problem && err.problem.type) || '';
  return type.split('/').pop();
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** What an inline SVG from the server may contain: shapes, no script, no style, no links. */
const SVG_TAGS = new Set(['svg', 'g', 'path', 'rect', 'polygon', 'polyline', 'circle', 'line']);
const SVG_ATTRS = new Set([
  'viewBox', 'width', 'height', 'x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'rx', 'ry', 'd', 'points',
  'fill', 'fill-rule', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-linecap', 'stroke-linejoin',
  'shape-rendering', 'transform', 'preserveAspectRatio', 'version',
]);

/**
 * An SVG document (text) as an element to put in the page, rebuilt from an
 * allow-list of shapes and attributes: nothing executable, no inline style
 * (the CSP refuses it), no external reference. `label` names the image.
 */
export function inlineSvg(text, label) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.localName !== 'svg' || doc.querySelector('parsererror')) {
    throw new Error(t('ui.image_unreadable'));
  }
  const copy = (node) => {
    if (!SVG_TAGS.has(node.localName)) return null;
    const el = document.createElementNS(SVG_NS, node.localName);
    for (const a of node.attributes) {
      if (SVG_ATTRS.has(a.name) && !/url\(|script:/i.test(a.value)) el.setAttribute(a.name, a.value);
    }
    for (const child of node.children) {
      const c = copy(child);
      if (c) el.append(c);
    }
    return el;
  };
  const svg = copy(root);
  if (!svg.hasAttribute('viewBox') && svg.hasAttribute('width') && svg.hasAttribute('height')) {
    svg.setAttribute('viewBox', `0 0 ${parseFloat(svg.getAttribute('width'))} ${parseFloat(svg.getAttribute('height'))}`);
  }
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('focusable', 'false');
  return svg;
}
