// A valid Unified Social Credit Code (GB 32100-2015) for test companies
// registered in China: 17 characters from a seed, then the check character.

const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** The check character of 17 USCC characters. */
export function usccCheck(first17) {
  let weight = 1;
  let sum = 0;
  for (const ch of first17) {
    sum += ALPHABET.indexOf(ch) * weight;
    weight = (weight * 3) % 31;
  }
  return ALPHABET[(31 - (sum % 31)) % 31];
}

/** `91650100` (a company registered in Urumqi/Xinjiang) + 9 digits of `seed` + the check character. */
export function uscc(seed) {
  const digits = String(seed).replace(/\D/g, '').padStart(9, '0').slice(-9);
  const first17 = `91650100${digits}`;
  return first17 + usccCheck(first17);
}
