// English messages of the console. Keys are grouped by page; every key here
// exists in lang-zh-CN.js and lang-ru.js too.
export default {
  'language.label': 'Language',
};
