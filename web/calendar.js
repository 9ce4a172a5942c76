// Calendar feeds (company admins): create a feed token and see its address
// once, list the tokens, revoke one.

import * as api from './api.js';
import { h, replace, errorBox, pageTitle, busy, table, announce, dialog } from './ui.js';
import { t } from './i18n.js';
import { localParts } from './time.js';

function when(iso) {
  if (!iso) return '—';
  const p = localParts(iso);
  return `${p.date} ${p.time} UTC`;
}

export async function calendarPage(ctx) {
  const base = `/enterprises/${encodeURIComponent(ctx.me.enterprise_id)}/calendar-tokens`;
  const list = h('div', { class: 'token-list' });
  const shown = h('div', { class: 'token-created', 'aria-live': 'polite' });

  async function load() {
    try {
      const page = await api.get(base);
      replace(
        list,
        table({
          caption: t('calendar.list_caption'),
          columns: [t('calendar.col.label'), t('calendar.col.created'), t('calendar.col.state'), t('calendar.col.action')],
          empty: t('calendar.none'),
          rows: page.items.map((tok) => [
            tok.label,
            when(tok.created_at),
            tok.revoked_at ? t('calendar.revoked', { when: when(tok.revoked_at) }) : t('calendar.active'),
            tok.revoked_at
              ? '—'
              : h('button', { type: 'button', class: 'secondary small danger', onclick: (e) => revoke(e.currentTarget, tok) }, t('calendar.revoke')),
          ]),
        }),
      );
    } catch (err) {
      replace(list, errorBox(err, t('calendar.load_failed')));
    }
  }

  async function revoke(btn, tok) {
    const ok = await dialog({
      title: t('calendar.revoke_title', { label: tok.label }),
      body: t('calendar.revoke_body'),
      confirm: t('calendar.revoke'),
      cancel: t('calendar.keep'),
      danger: true,
    });
    if (!ok) return;
    try {
      await busy(btn, () => api.call('DELETE', `${base}/${encodeURIComponent(tok.id)}`));
      announce(t('calendar.revoked_note', { label: tok.label }));
      replace(shown);
      await load();
    } catch (err) {
      replace(shown, errorBox(err, t('calendar.revoke_failed')));
    }
  }

  const label = h('input', { name: 'label', maxlength: 100, required: true, value: t('calendar.default_label') });
  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const created = await busy(form.querySelector('button[type=submit]'), () => api.post(base, { label: label.value.trim() }));
          const url = `${location.origin}${created.feed_path}`;
          const input = h('input', { type: 'text', readonly: true, value: url, class: 'feed-url', 'aria-label': t('calendar.feed_url') });
          replace(
            shown,
            h('div', { class: 'alert success', role: 'status' },
              h('p', { class: 'alert-title' }, t('calendar.created_title')),
              h('p', {}, t('calendar.created_once')),
              input,
              h('button', { type: 'button', class: 'secondary small', onclick: () => { input.select(); navigator.clipboard?.writeText(url); announce(t('calendar.copied')); } }, t('calendar.copy')),
            ),
          );
          input.focus();
          input.select();
          await load();
        } catch (err) {
          replace(shown, errorBox(err, t('calendar.create_failed')));
        }
      },
    },
    h('label', { class: 'field-label' }, h('span', {}, t('calendar.label')), label),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('calendar.create'))),
  );
  await load();
  return h('div', {}, pageTitle(t('calendar.title')), h('p', { class: 'lead' }, t('calendar.lead')), form, shown, list);
}
