//! Goods values as typed into a declaration: HS code, money, quantity, currency.
#![no_main]

use clearway::domain::goods::{format_money, parse_currency, parse_money, parse_quantity, HsCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };

    if let Ok(code) = HsCode::parse(s) {
        assert!((6..=10).contains(&code.as_str().len()));
        assert!((1..=97).contains(&code.chapter()) && code.chapter() != 77);
        assert_eq!(HsCode::parse(code.as_str()).as_ref(), Ok(&code));
    }

    // A currency from the input itself, and the money parser in the three
    // exponents ISO 4217 trading currencies have (JPY 0, CNY 2, KWD 3).
    let own = parse_currency(s).ok();
    let currencies = ["JPY", "CNY", "KWD"].iter().filter_map(|c| parse_currency(c).ok()).chain(own);
    for currency in currencies {
        for allow_zero in [false, true] {
            if let Ok(minor) = parse_money(s, currency, allow_zero) {
                assert!(minor >= 0 && (allow_zero || minor > 0));
                let text = format_money(minor, currency);
                assert_eq!(parse_money(&text, currency, allow_zero), Ok(minor), "{text} does not round-trip");
            }
        }
    }

    // The first byte picks the scale so that large and odd scales are tried too.
    let scales = [0, 3, u32::from(data.first().copied().unwrap_or(0))];
    for scale in scales {
        if let Ok(q) = parse_quantity(s, scale) {
            assert!(q.is_sign_positive() && !q.is_zero());
            assert_eq!(parse_quantity(&q.to_string(), scale), Ok(q));
        }
    }
});
