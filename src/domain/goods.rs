//! Value types of goods data: HS codes, currencies, money, quantities,
//! Incoterms and transport modes.
//!
//! Amounts arrive as decimal strings and are parsed with `rust_decimal`,
//! never through floats, so that what the trader typed is what is stored.

use std::fmt;

use iso_currency::Currency;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::text_enum::text_enum;

/// A Harmonized System commodity code: 6 to 10 digits, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct HsCode(String);

impl HsCode {
    /// Parses a code as typed; surrounding whitespace is forgiven, inner separators are not.
    pub fn parse(raw: &str) -> Result<HsCode, &'static str> {
        let code = raw.trim();
        if code.is_empty() {
            return Err("HS code is required");
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err("HS code must contain digits only, without dots or spaces");
        }
        if !(6..=10).contains(&code.len()) {
            return Err("HS code must have 6 to 10 digits");
        }
        let chapter = chapter_of(code);
        // Chapter 77 is reserved for future use; 98 and 99 are national chapters, not HS.
        if !(1..=97).contains(&chapter) || chapter == 77 {
            return Err("HS chapter (first two digits) must be 01 to 97 and not 77");
        }
        Ok(HsCode(code.to_owned()))
    }

    /// The digits as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits, consuming the code.
    pub fn into_inner(self) -> String {
        self.0
    }

    /// The HS chapter, 1 to 97.
    pub fn chapter(&self) -> u8 {
        chapter_of(&self.0)
    }
}

impl fmt::Display for HsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Chapter of a string already known to start with two ASCII digits.
fn chapter_of(code: &str) -> u8 {
    let b = code.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(t), Some(u)) => (t - b'0') * 10 + (u - b'0'),
        _ => 0,
    }
}

/// Parses an ISO 4217 alphabetic code that goods can be invoiced in.
pub fn parse_currency(raw: &str) -> Result<Currency, &'static str> {
    if raw.len() != 3 || !raw.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("currency must be an ISO 4217 code of three capital letters, e.g. CNY");
    }
    let currency = Currency::from_code(raw).ok_or("currency is not an ISO 4217 code")?;
    // Metals, SDRs and test codes have no minor unit; fund codes are accounting units; superseded
    // codes are no longer legal tender. None of them can price goods on an invoice.
    if currency.exponent().is_none() || currency.is_fund() {
        return Err("currency is not a trading currency");
    }
    if currency.is_superseded().is_some() {
        return Err("currency has been withdrawn and replaced by another");
    }
    Ok(currency)
}

/// Number of decimal places of the currency (0 for the codes `parse_currency` refuses).
pub fn minor_units(c: Currency) -> u32 {
    c.exponent().map(u32::from).unwrap_or(0)
}

/// Largest number of minor-unit digits a money amount may have.
pub const MAX_MONEY_DIGITS: u32 = 18;
/// Largest number of integer digits a quantity or mass may have.
pub const MAX_QUANTITY_INTEGER_DIGITS: usize = 12;

/// Why a decimal string was refused; `code()` is the stable field-error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Empty input.
    Missing,
    /// Not of the form `123` or `123.45`.
    Malformed,
    /// More decimal places than allowed.
    Scale,
    /// A minus sign.
    Negative,
    /// Zero where only a positive value makes sense.
    Zero,
    /// Too many digits to be a plausible amount.
    TooLarge,
}

impl NumberError {
    /// The field-error code validation reports.
    pub fn code(self) -> &'static str {
        match self {
            NumberError::Missing => "required",
            NumberError::Malformed | NumberError::TooLarge => "decimal",
            NumberError::Scale => "scale",
            NumberError::Negative | NumberError::Zero => "positive",
        }
    }

    /// A sentence for people.
    pub fn message(self) -> &'static str {
        match self {
            NumberError::Missing => "a value is required",
            NumberError::Malformed => {
                "must be a decimal string such as \"1250.00\" (digits, optional point and decimals)"
            }
            NumberError::Scale => "has too many decimal places",
            NumberError::Negative => "must not be negative",
            NumberError::Zero => "must be greater than zero",
            NumberError::TooLarge => "has too many digits",
        }
    }
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for NumberError {}

/// A decimal string split into its parts, leading zeros of the integer part removed.
struct DecimalText<'a> {
    negative: bool,
    int_digits: &'a str,
    frac_digits: &'a str,
}

impl DecimalText<'_> {
    fn is_zero(&self) -> bool {
        self.int_digits.bytes().chain(self.frac_digits.bytes()).all(|b| b == b'0')
    }
    /// The text rebuilt without leading zeros, which `Decimal` would otherwise count against its precision.
    fn canonical(&self) -> String {
        let int = if self.int_digits.is_empty() { "0" } else { self.int_digits };
        if self.frac_digits.is_empty() {
            int.to_owned()
        } else {
            format!("{int}.{}", self.frac_digits)
        }
    }
}

/// Checks the shape `-?[0-9]+(\.[0-9]+)?` strictly: no spaces, `+`, exponents or separators.
fn split_decimal(raw: &str) -> Result<DecimalText<'_>, NumberError> {
    if raw.is_empty() {
        return Err(NumberError::Missing);
    }
    let (negative, body) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(NumberError::Malformed);
    }
    Ok(DecimalText { negative, int_digits: int.trim_start_matches('0'), frac_digits: frac.unwrap_or("") })
}

/// Parses a non-negative decimal string with at most `max_scale` decimals and
/// `max_int_digits` integer digits; the sign and zero checks come before the size checks
/// so the most useful reason is reported.
fn parse_decimal(raw: &str, max_scale: u32, max_int_digits: usize, allow_zero: bool) -> Result<Decimal, NumberError> {
    let text = split_decimal(raw)?;
    if text.negative {
        return Err(NumberError::Negative);
    }
    if text.is_zero() && !allow_zero {
        return Err(NumberError::Zero);
    }
    if text.frac_digits.len() > max_scale as usize {
        return Err(NumberError::Scale);
    }
    if text.int_digits.len() > max_int_digits {
        return Err(NumberError::TooLarge);
    }
    Decimal::from_str_exact(&text.canonical()).map_err(|_| NumberError::TooLarge)
}

/// Like `parse_money`, with a reason that maps to a field-error code.
pub fn parse_money_detailed(raw: &str, currency: Currency, allow_zero: bool) -> Result<i64, NumberError> {
    let units = minor_units(currency);
    let mut amount = parse_decimal(raw, units, MAX_MONEY_DIGITS as usize, allow_zero)?;
    // Exact: the scale is at most `units`, so rescaling only appends zeros.
    amount.rescale(units);
    let minor = amount.mantissa();
    if minor >= 10_i128.pow(MAX_MONEY_DIGITS) {
        return Err(NumberError::TooLarge);
    }
    i64::try_from(minor).map_err(|_| NumberError::TooLarge)
}

/// Parses a money string ("1250.50") into minor units of `currency` (125050 for EUR).
pub fn parse_money(raw: &str, currency: Currency, allow_zero: bool) -> Result<i64, &'static str> {
    parse_money_detailed(raw, currency, allow_zero).map_err(|e| match e {
        NumberError::Missing => "amount is required",
        NumberError::Malformed => "amount must be a decimal string such as \"1250.00\"",
        NumberError::Scale => "amount has more decimal places than the currency allows",
        NumberError::Negative => "amount must not be negative",
        NumberError::Zero => "amount must be greater than zero",
        NumberError::TooLarge => "amount has more than 18 significant digits",
    })
}

/// The canonical string of an amount in minor units, with exactly the currency's decimals.
pub fn format_money(minor: i64, currency: Currency) -> String {
    match Decimal::try_new(minor, minor_units(currency)) {
        Ok(d) => d.to_string(),
        // Unreachable: ISO 4217 exponents are at most 4, far below Decimal's limit of 28.
        Err(_) => minor.to_string(),
    }
}

/// Like `parse_quantity`, with a reason that maps to a field-error code.
pub fn parse_quantity_detailed(raw: &str, max_scale: u32) -> Result<Decimal, NumberError> {
    parse_decimal(raw, max_scale, MAX_QUANTITY_INTEGER_DIGITS, false).map(|d| d.normalize())
}

/// Parses a positive quantity or mass with at most `max_scale` decimals and 12 integer digits.
pub fn parse_quantity(raw: &str, max_scale: u32) -> Result<Decimal, &'static str> {
    parse_quantity_detailed(raw, max_scale).map_err(|e| match e {
        NumberError::Missing => "quantity is required",
        NumberError::Malformed => "quantity must be a decimal string such as \"12.5\"",
        NumberError::Scale => "quantity has too many decimal places",
        NumberError::Negative | NumberError::Zero => "quantity must be greater than zero",
        NumberError::TooLarge => "quantity has more than 12 integer digits",
    })
}

/// Any decimal string that is not negative, however many decimals; used to report syntax
/// errors on money when the currency itself is invalid and its scale is unknown.
pub(crate) fn parse_unscaled(raw: &str, allow_zero: bool) -> Result<Decimal, NumberError> {
    parse_decimal(raw, 28, MAX_MONEY_DIGITS as usize, allow_zero)
}

text_enum!(
    /// Incoterms 2020 delivery terms.
    Incoterm {
        Exw => "EXW",
        Fca => "FCA",
        Cpt => "CPT",
        Cip => "CIP",
        Dap => "DAP",
        Dpu => "DPU",
        Ddp => "DDP",
        Fas => "FAS",
        Fob => "FOB",
        Cfr => "CFR",
        Cif => "CIF",
    }
);

impl Incoterm {
    /// Terms defined only for sea and inland waterway transport.
    pub fn sea_only(self) -> bool {
        matches!(self, Incoterm::Fas | Incoterm::Fob | Incoterm::Cfr | Incoterm::Cif)
    }
}

text_enum!(
    /// How goods reach a clearance site.
    TransportMode {
        Road => "road",
        Rail => "rail",
        Air => "air",
    }
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn hs_codes_accept_6_to_10_digits() {
        assert_eq!(HsCode::parse("520512").unwrap().as_str(), "520512");
        assert_eq!(HsCode::parse(" 5205120000 ").unwrap().as_str(), "5205120000");
        assert_eq!(HsCode::parse("5205121").unwrap().as_str(), "5205121");
        assert!(HsCode::parse("52051").is_err());
        assert!(HsCode::parse("52051200001").is_err());
        assert!(HsCode::parse("").is_err());
        assert!(HsCode::parse("   ").is_err());
    }

    #[test]
    fn hs_codes_refuse_separators_and_non_digits() {
        for bad in ["5205.12", "5205 12", "52051a", "５２０５１２", "-520512", "+520512"] {
            assert!(HsCode::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn hs_chapters_are_01_to_97_except_77() {
        assert!(HsCode::parse("000000").is_err());
        assert!(HsCode::parse("770000").is_err());
        assert!(HsCode::parse("980000").is_err());
        assert!(HsCode::parse("990000").is_err());
        assert_eq!(HsCode::parse("970110").unwrap().chapter(), 97);
        assert_eq!(HsCode::parse("010121").unwrap().chapter(), 1);
        assert_eq!(HsCode::parse("760110").unwrap().chapter(), 76);
        assert_eq!(HsCode::parse("780110").unwrap().chapter(), 78);
    }

    #[test]
    fn currencies_are_iso_4217_trading_codes() {
        assert_eq!(parse_currency("CNY"), Ok(Currency::CNY));
        assert_eq!(parse_currency("EUR"), Ok(Currency::EUR));
        assert_eq!(parse_currency("JPY"), Ok(Currency::JPY));
        for bad in ["cny", "Cny", "CN", "CNYY", "", " CNY", "ABC", "XAU", "XDR", "XXX", "HRK", "USN"] {
            assert!(parse_currency(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_currency("XAU"), Err("currency is not a trading currency"));
    }

    #[test]
    fn minor_units_follow_the_exponent() {
        assert_eq!(minor_units(Currency::EUR), 2);
        assert_eq!(minor_units(Currency::JPY), 0);
        assert_eq!(minor_units(Currency::KWD), 3);
        assert_eq!(minor_units(Currency::XAU), 0);
    }

    #[test]
    fn money_parses_into_minor_units() {
        assert_eq!(parse_money("1250.5", Currency::EUR, false), Ok(125050));
        assert_eq!(parse_money("1250.00", Currency::EUR, false), Ok(125000));
        assert_eq!(parse_money("1250", Currency::EUR, false), Ok(125000));
        assert_eq!(parse_money("0.01", Currency::EUR, false), Ok(1));
        assert_eq!(parse_money("007.10", Currency::CNY, false), Ok(710));
        assert_eq!(parse_money("1250", Currency::JPY, false), Ok(1250));
        assert_eq!(parse_money("1.234", Currency::KWD, false), Ok(1234));
    }

    #[test]
    fn money_refuses_too_many_decimals() {
        assert_eq!(parse_money_detailed("1250.001", Currency::EUR, false), Err(NumberError::Scale));
        assert_eq!(parse_money_detailed("1250.500", Currency::EUR, false), Err(NumberError::Scale));
        assert_eq!(parse_money_detailed("1250.5", Currency::JPY, false), Err(NumberError::Scale));
        assert_eq!(parse_money_detailed("1250.0", Currency::JPY, false), Err(NumberError::Scale));
        assert!(parse_money("1250.001", Currency::EUR, false).is_err());
    }

    #[test]
    fn money_zero_only_when_allowed() {
        assert_eq!(parse_money_detailed("0.00", Currency::EUR, false), Err(NumberError::Zero));
        assert_eq!(parse_money_detailed("0", Currency::EUR, false), Err(NumberError::Zero));
        assert_eq!(parse_money("0.00", Currency::EUR, true), Ok(0));
        assert_eq!(parse_money_detailed("-0.00", Currency::EUR, true), Err(NumberError::Negative));
        assert_eq!(parse_money_detailed("-5", Currency::EUR, false), Err(NumberError::Negative));
    }

    #[test]
    fn money_refuses_other_notations() {
        for bad in
            ["1e3", "1E3", " 5", "5 ", "+5", ".5", "5.", "1,250.00", "1_250", "", "-", "--5", "1.2.3", "NaN", "0x10"]
        {
            assert!(parse_money(bad, Currency::EUR, false).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_money_detailed("1e3", Currency::EUR, false), Err(NumberError::Malformed));
        assert_eq!(parse_money_detailed("", Currency::EUR, false), Err(NumberError::Missing));
    }

    #[test]
    fn money_refuses_huge_amounts() {
        // 18 minor-unit digits is the limit.
        assert_eq!(parse_money("9999999999999999.99", Currency::EUR, false), Ok(999_999_999_999_999_999));
        assert_eq!(parse_money("999999999999999999", Currency::JPY, false), Ok(999_999_999_999_999_999));
        assert_eq!(parse_money_detailed("10000000000000000.00", Currency::EUR, false), Err(NumberError::TooLarge));
        assert_eq!(parse_money_detailed("1000000000000000000", Currency::JPY, false), Err(NumberError::TooLarge));
        assert_eq!(parse_money_detailed("9223372036854775808", Currency::JPY, false), Err(NumberError::TooLarge));
        let huge = "9".repeat(60);
        assert_eq!(parse_money_detailed(&huge, Currency::EUR, false), Err(NumberError::TooLarge));
        let zeros = format!("{}1.00", "0".repeat(60));
        assert_eq!(parse_money(&zeros, Currency::EUR, false), Ok(100));
    }

    #[test]
    fn money_formats_with_the_currency_decimals() {
        assert_eq!(format_money(125050, Currency::EUR), "1250.50");
        assert_eq!(format_money(125000, Currency::EUR), "1250.00");
        assert_eq!(format_money(5, Currency::EUR), "0.05");
        assert_eq!(format_money(0, Currency::EUR), "0.00");
        assert_eq!(format_money(-5, Currency::EUR), "-0.05");
        assert_eq!(format_money(1250, Currency::JPY), "1250");
        assert_eq!(format_money(1234, Currency::KWD), "1.234");
        assert_eq!(format_money(i64::MAX, Currency::EUR), "92233720368547758.07");
        for s in ["1250.50", "0.01", "999.99"] {
            assert_eq!(format_money(parse_money(s, Currency::EUR, false).unwrap(), Currency::EUR), s);
        }
    }

    #[test]
    fn quantities_are_positive_and_normalised() {
        assert_eq!(parse_quantity("12.500", 3), Ok(dec("12.5")));
        assert_eq!(parse_quantity("12.500", 3).unwrap().to_string(), "12.5");
        assert_eq!(parse_quantity("100", 3).unwrap().to_string(), "100");
        assert_eq!(parse_quantity("0.001", 3), Ok(dec("0.001")));
        assert_eq!(parse_quantity("999999999999.999", 3), Ok(dec("999999999999.999")));
        assert_eq!(parse_quantity_detailed("0.0001", 3), Err(NumberError::Scale));
        assert_eq!(parse_quantity_detailed("1.5", 0), Err(NumberError::Scale));
        assert_eq!(parse_quantity_detailed("0", 3), Err(NumberError::Zero));
        assert_eq!(parse_quantity_detailed("0.000", 3), Err(NumberError::Zero));
        assert_eq!(parse_quantity_detailed("-1", 3), Err(NumberError::Negative));
        assert_eq!(parse_quantity_detailed("1000000000000", 3), Err(NumberError::TooLarge));
        assert_eq!(parse_quantity_detailed("1e3", 3), Err(NumberError::Malformed));
        assert_eq!(parse_quantity_detailed(" 5", 3), Err(NumberError::Malformed));
        assert!(parse_quantity("abc", 3).is_err());
    }

    #[test]
    fn number_error_codes_are_stable() {
        assert_eq!(NumberError::Missing.code(), "required");
        assert_eq!(NumberError::Malformed.code(), "decimal");
        assert_eq!(NumberError::TooLarge.code(), "decimal");
        assert_eq!(NumberError::Scale.code(), "scale");
        assert_eq!(NumberError::Negative.code(), "positive");
        assert_eq!(NumberError::Zero.code(), "positive");
    }

    #[test]
    fn incoterms_round_trip_and_know_sea_terms() {
        assert_eq!(Incoterm::ALL.len(), 11);
        for t in Incoterm::ALL {
            assert_eq!(t.as_str().parse::<Incoterm>(), Ok(*t));
        }
        let sea: Vec<&str> = Incoterm::ALL.iter().filter(|t| t.sea_only()).map(|t| t.as_str()).collect();
        assert_eq!(sea, ["FAS", "FOB", "CFR", "CIF"]);
        assert!("fob".parse::<Incoterm>().is_err());
        assert!("DAT".parse::<Incoterm>().is_err());
        assert_eq!(serde_json::to_string(&Incoterm::Dap).unwrap(), "\"DAP\"");
    }

    #[test]
    fn transport_modes_round_trip() {
        for m in TransportMode::ALL {
            assert_eq!(m.as_str().parse::<TransportMode>(), Ok(*m));
        }
        assert!("sea".parse::<TransportMode>().is_err());
        assert!("Road".parse::<TransportMode>().is_err());
        assert_eq!(serde_json::from_str::<TransportMode>("\"rail\"").unwrap(), TransportMode::Rail);
    }
}
