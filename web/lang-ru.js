// Сообщения консоли на русском. Ключи те же, что в lang-en.js.
export default {
  'language.label': 'Язык',
};
