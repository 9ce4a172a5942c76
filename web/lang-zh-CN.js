// 控制台的中文消息（简体）。键与 lang-en.js 相同。
export default {
  'language.label': '语言',
};
