//! The truck of a visit: its plate and country, its driver and the
//! containers it carries, each checked and normalised so that the same
//! vehicle always reads the same (the one-active-booking rule and the gate
//! look-up by plate compare the stored forms).

use serde::{Deserialize, Serialize};

use crate::domain::fields::{FieldErrors, Invalid};
use crate::domain::identity::parse_country;

/// Fewest characters of a normalised plate.
pub const MIN_PLATE_CHARS: usize = 2;
/// Most characters of a normalised plate.
pub const MAX_PLATE_CHARS: usize = 15;
/// Longest driver name, in characters.
pub const MAX_DRIVER_NAME_CHARS: usize = 200;
/// Longest driver document number, in characters.
pub const MAX_DOCUMENT_NUMBER_CHARS: usize = 64;
/// Most containers one visit may carry.
pub const MAX_CONTAINERS: usize = 10;

/// A vehicle at the gate. As filed, `plate` may carry spaces, `-` and `·`
/// and any case; as answered it is normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Vehicle {
    /// Registration plate: letters of any script and digits, 2 to 15 of them.
    /// Stored and answered in upper case without spaces, `-` or `·`.
    #[schema(required = true, example = "01KZ123AB")]
    pub plate: String,
    /// Country of registration, ISO 3166-1 alpha-2.
    #[schema(required = true, example = "KZ")]
    pub country: String,
    /// Plate of the trailer, if any; the same rules as `plate`.
    #[schema(example = json!(null))]
    pub trailer_plate: Option<String>,
}

/// The driver who brings the vehicle to the gate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Driver {
    /// Full name, 1 to 200 characters.
    #[schema(required = true, example = "Nurlan Abenov")]
    pub name: String,
    /// Number of the passport or driving licence shown at the gate, 1 to 64 characters.
    #[schema(required = true, example = "N12345678")]
    pub document_number: String,
}

/// A visit's vehicle, driver and containers, every value checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitDetails {
    /// Plates normalised, country checked; `None` when none was given.
    pub vehicle: Option<Vehicle>,
    /// Name and document number trimmed; `None` when none was given.
    pub driver: Option<Driver>,
    /// ISO 6346 numbers in upper case, each once, in the order given.
    pub containers: Vec<String>,
}

/// Dashes and middle dots a plate may be written with, and are left out:
/// `-` and `·` and their common look-alikes (hyphens, en and em dashes,
/// the minus sign; bullet, hyphenation point, dot operators, katakana
/// middle dots).
const PLATE_SEPARATORS: [char; 14] = [
    '-', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2212}', '\u{00B7}', '\u{2022}', '\u{2027}',
    '\u{2219}', '\u{22C5}', '\u{30FB}', '\u{FF65}',
];

fn is_plate_separator(c: char) -> bool {
    c.is_whitespace() || PLATE_SEPARATORS.contains(&c)
}

/// Full-width ASCII forms (as East Asian input methods type them) as plain ASCII.
fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// What [`normalise_plate`] answers for a plate with no letter or digit at all.
pub const PLATE_REQUIRED: &str = "plate is required";

/// A plate in its stored form: upper case, without whitespace, dashes or
/// middle dots; 2 to 15 letters (of any script) and digits.
pub fn normalise_plate(raw: &str) -> Result<String, &'static str> {
    let mut plate = String::new();
    let mut count = 0usize;
    for c in raw.chars().map(fold_fullwidth).filter(|&c| !is_plate_separator(c)) {
        if !c.is_alphanumeric() {
            return Err("a plate may contain only letters and digits (spaces, - and · are left out)");
        }
        for upper in c.to_uppercase() {
            count += 1;
            if count > MAX_PLATE_CHARS {
                return Err("a plate has at most 15 letters and digits");
            }
            plate.push(upper);
        }
    }
    match count {
        0 => Err(PLATE_REQUIRED),
        n if n < MIN_PLATE_CHARS => Err("a plate has at least 2 letters and digits"),
        _ => Ok(plate),
    }
}

/// ISO 6346 character values: a character's value is its index here.
/// Letters start at A = 10 and skip the multiples of 11 (the `_`).
const ISO6346_VALUES: &[u8; 39] = b"0123456789A_BCDEFGHIJK_LMNOPQRSTU_VWXYZ";

/// The numeric value of an ISO 6346 character (a digit or a capital).
fn iso6346_value(c: char) -> Option<u32> {
    if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return None;
    }
    ISO6346_VALUES.iter().position(|&b| char::from(b) == c).and_then(|i| u32::try_from(i).ok())
}

/// The ISO 6346 check digit of the first 10 characters (owner code,
/// category, serial number), or `None` if one is not a capital or digit.
pub fn iso6346_check_digit(first10: &str) -> Option<u32> {
    let mut sum = 0u32;
    let mut weight = 1u32;
    let mut count = 0;
    for c in first10.chars() {
        if count == 10 {
            return None;
        }
        sum += iso6346_value(c)? * weight;
        weight *= 2;
        count += 1;
    }
    (count == 10).then_some(sum % 11 % 10)
}

/// Why a container number was refused: a field error's code and message.
fn container_error(raw: &str) -> Result<String, (&'static str, String)> {
    let number = raw.trim().to_uppercase();
    if number.is_empty() {
        return Err(("required", "the container number is empty".into()));
    }
    if number.contains(char::is_whitespace) {
        return Err(("format", "a container number is written without spaces, e.g. CSQU3054383".into()));
    }
    let chars: Vec<char> = number.chars().collect();
    if chars.len() != 11 {
        return Err((
            "format",
            format!("a container number has 11 characters (ISO 6346), e.g. CSQU3054383, not {}", chars.len()),
        ));
    }
    if !chars[..3].iter().all(char::is_ascii_uppercase) {
        return Err(("format", "a container number starts with a 3-letter owner code (A to Z)".into()));
    }
    if !matches!(chars[3], 'U' | 'J' | 'Z') {
        return Err((
            "format",
            format!("the 4th character of a container number is its category U, J or Z, not {}", chars[3]),
        ));
    }
    if !chars[4..10].iter().all(char::is_ascii_digit) {
        return Err(("format", "characters 5 to 10 of a container number are its 6-digit serial number".into()));
    }
    let Some(given) = chars[10].to_digit(10) else {
        return Err(("format", "the last character of a container number is its check digit (0 to 9)".into()));
    };
    let expected = iso6346_check_digit(&number[..10])
        .ok_or_else(|| ("format", "the container number is not ISO 6346".to_owned()))?;
    if given != expected {
        return Err(("check_digit", format!("the check digit should be {expected}, not {given}")));
    }
    Ok(number)
}

/// Checks an ISO 6346 container number (owner code, category `U`/`J`/`Z`,
/// serial number, check digit) and returns it in upper case; the error says
/// what is wrong, for a wrong check digit which one was expected.
pub fn check_container(raw: &str) -> Result<String, String> {
    container_error(raw).map_err(|(_, message)| message)
}

/// Checks what a company sent about a visit and returns it normalised, or
/// every broken rule at once, with paths such as `vehicle.plate` and
/// `containers[3]` (0-based, as the index in the submitted array).
pub fn parse_visit(
    vehicle: Option<Vehicle>,
    driver: Option<Driver>,
    containers: Option<Vec<String>>,
) -> Result<VisitDetails, Invalid> {
    let mut errs = FieldErrors::new();

    let vehicle = vehicle.and_then(|v| {
        let plate = plate_field(&mut errs, "vehicle.plate", &v.plate);
        let country = if v.country.trim().is_empty() {
            errs.add("vehicle.country", "required", "country is required");
            None
        } else {
            parse_country(&v.country.trim().to_uppercase()).map_err(|m| errs.add("vehicle.country", "country", m)).ok()
        };
        // A blank trailer plate (as a form sends an empty box) means none.
        let trailer_plate = match v.trailer_plate.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(raw) => plate_field(&mut errs, "vehicle.trailer_plate", raw).map(Some),
        };
        Some(Vehicle { plate: plate?, country: country?, trailer_plate: trailer_plate? })
    });

    let driver = driver.and_then(|d| {
        let name = text_field(&mut errs, "driver.name", "name", &d.name, MAX_DRIVER_NAME_CHARS);
        let document_number = text_field(
            &mut errs,
            "driver.document_number",
            "document_number",
            &d.document_number,
            MAX_DOCUMENT_NUMBER_CHARS,
        );
        Some(Driver { name: name?, document_number: document_number? })
    });

    let containers = containers.unwrap_or_default();
    // Each valid number with its index in `containers`, to name a repeat's first.
    let mut kept: Vec<(usize, String)> = Vec::with_capacity(containers.len().min(MAX_CONTAINERS));
    if containers.len() > MAX_CONTAINERS {
        errs.add(
            "containers",
            "count",
            format!("a visit carries at most {MAX_CONTAINERS} containers, not {}", containers.len()),
        );
    } else {
        for (i, raw) in containers.iter().enumerate() {
            match container_error(raw) {
                Err((code, message)) => errs.add(format!("containers[{i}]"), code, message),
                Ok(number) => match kept.iter().find(|(_, k)| *k == number) {
                    Some((first, _)) => errs.add(
                        format!("containers[{i}]"),
                        "duplicate",
                        format!("container {number} is already listed (containers[{first}])"),
                    ),
                    None => kept.push((i, number)),
                },
            }
        }
    }

    errs.into_result()?;
    Ok(VisitDetails { vehicle, driver, containers: kept.into_iter().map(|(_, number)| number).collect() })
}

fn plate_field(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<String> {
    normalise_plate(raw)
        .map_err(|m| {
            let code = if m == PLATE_REQUIRED { "required" } else { "plate" };
            errs.add(field, code, m)
        })
        .ok()
}

fn text_field(errs: &mut FieldErrors, field: &str, name: &str, raw: &str, max_chars: usize) -> Option<String> {
    let value = raw.trim();
    if value.is_empty() {
        errs.add(field, "required", format!("{name} is required"));
        return None;
    }
    if value.chars().count() > max_chars {
        errs.add(field, "length", format!("{name} must have 1 to {max_chars} characters"));
        return None;
    }
    Some(value.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn plates_of_any_script_are_normalised() {
        assert_eq!(normalise_plate("01 КZ 123 АВ").unwrap(), "01КZ123АВ");
        assert_eq!(normalise_plate("新A·12345").unwrap(), "新A12345");
        assert_eq!(normalise_plate(" b-123 xy ").unwrap(), "B123XY");
        assert_eq!(normalise_plate("м 123 ор\t77\n").unwrap(), "М123ОР77");
        assert_eq!(normalise_plate("ab\u{00A0}12\u{3000}cd").unwrap(), "AB12CD");
        // Full-width forms, as a Chinese input method types them, read as ASCII.
        assert_eq!(normalise_plate("京Ａ・１２３４５").unwrap(), "京A12345");
        assert_eq!(normalise_plate("WX–1234").unwrap(), "WX1234");
        assert_eq!(normalise_plate("12").unwrap(), "12");
        assert_eq!(normalise_plate("ABCDEFGHIJ12345").unwrap(), "ABCDEFGHIJ12345");
        // Upper case may lengthen a letter: ß is SS.
        assert_eq!(normalise_plate("straße 1").unwrap(), "STRASSE1");
    }

    #[test]
    fn plates_that_are_too_short_long_or_punctuated_are_refused() {
        assert_eq!(normalise_plate(""), Err(PLATE_REQUIRED));
        assert_eq!(normalise_plate(" - · "), Err(PLATE_REQUIRED));
        assert!(normalise_plate("A").unwrap_err().contains("at least 2"));
        assert!(normalise_plate("A-").unwrap_err().contains("at least 2"));
        assert!(normalise_plate("ABCDEFGHIJ123456").unwrap_err().contains("at most 15"));
        assert!(normalise_plate(&"A".repeat(100_000)).unwrap_err().contains("at most 15"));
        assert!(normalise_plate("ABCDEFGHIJ1234ß").unwrap_err().contains("at most 15"));
        for bad in ["AB.123", "AB/12", "AB_12", "AB'12", "<b>12", "AB12!", "AB\u{0301}12"] {
            assert!(normalise_plate(bad).unwrap_err().contains("only letters and digits"), "{bad} accepted");
        }
    }

    #[test]
    fn iso6346_letters_skip_multiples_of_eleven() {
        let values: Vec<u32> = ('A'..='Z').map(|c| iso6346_value(c).unwrap()).collect();
        assert_eq!(values[0], 10);
        assert_eq!(values[1], 12); // B
        assert_eq!(values[10], 21); // K
        assert_eq!(values[11], 23); // L
        assert_eq!(values[20], 32); // U
        assert_eq!(values[21], 34); // V
        assert_eq!(values[25], 38); // Z
        assert!(values.iter().all(|v| v % 11 != 0));
        assert_eq!(iso6346_value('a'), None);
        assert_eq!(iso6346_check_digit("CSQU305438"), Some(3));
        assert_eq!(iso6346_check_digit("CSQU3054383"), None);
        assert_eq!(iso6346_check_digit(&"Z".repeat(40)), None);
        assert_eq!(iso6346_check_digit("CSQU30543"), None);
        assert_eq!(iso6346_value('_'), None);
    }

    #[test]
    fn valid_containers_are_upper_cased() {
        assert_eq!(check_container("CSQU3054383").unwrap(), "CSQU3054383");
        assert_eq!(check_container("  csqu3054383\n").unwrap(), "CSQU3054383");
        assert_eq!(check_container("MSKU9070323").unwrap(), "MSKU9070323");
        // Categories J and Z; a remainder of 10 gives check digit 0.
        assert_eq!(iso6346_check_digit("ABCJ123456"), Some(3));
        assert_eq!(check_container("ABCJ1234563").unwrap(), "ABCJ1234563");
        assert_eq!(check_container("abcz1234564").unwrap(), "ABCZ1234564");
        assert_eq!(iso6346_check_digit("MSCU663987"), Some(0));
        assert_eq!(check_container("MSCU6639871").unwrap_err(), "the check digit should be 0, not 1");
    }

    #[test]
    fn a_wrong_check_digit_names_the_expected_one() {
        // The SPEC's example MSCU1234565 does not pass: its check digit is 6.
        assert_eq!(check_container("MSCU1234565").unwrap_err(), "the check digit should be 6, not 5");
        assert_eq!(check_container("MSCU1234566").unwrap(), "MSCU1234566");
        assert_eq!(check_container("CSQU3054385").unwrap_err(), "the check digit should be 3, not 5");
    }

    #[test]
    fn malformed_containers_say_what_is_wrong() {
        let err = |raw: &str| check_container(raw).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("CSQU 305438 3").contains("without spaces"));
        assert!(err("CSQU305438").contains("11 characters"));
        assert!(err("CSQU30543833").contains("11 characters"));
        assert!(err("CSQX3054383").contains("category U, J or Z, not X"));
        assert!(err("C5QU3054383").contains("owner code"));
        assert!(err("CSQU30A4383").contains("serial number"));
        assert!(err("CSQU305438X").contains("check digit"));
        assert!(err("ÇSQU3054383").contains("owner code"));
        assert!(err("ＣSQU3054383").contains("owner code"));
    }

    fn kz_truck() -> Vehicle {
        Vehicle { plate: "01 kz 123 ab".into(), country: " kz ".into(), trailer_plate: Some("01-kz-456".into()) }
    }

    fn driver() -> Driver {
        Driver { name: "  Nurlan Abenov ".into(), document_number: " N12345678 ".into() }
    }

    fn fields(e: Invalid) -> Vec<(String, String)> {
        e.0.into_iter().map(|f| (f.field, f.code)).collect()
    }

    #[test]
    fn a_visit_is_normalised() {
        let visit =
            parse_visit(Some(kz_truck()), Some(driver()), Some(vec!["csqu3054383".into(), " MSKU9070323 ".into()]))
                .unwrap();
        assert_eq!(
            visit,
            VisitDetails {
                vehicle: Some(Vehicle {
                    plate: "01KZ123AB".into(),
                    country: "KZ".into(),
                    trailer_plate: Some("01KZ456".into()),
                }),
                driver: Some(Driver { name: "Nurlan Abenov".into(), document_number: "N12345678".into() }),
                containers: vec!["CSQU3054383".into(), "MSKU9070323".into()],
            }
        );
    }

    #[test]
    fn nothing_given_is_an_empty_visit() {
        assert_eq!(
            parse_visit(None, None, None).unwrap(),
            VisitDetails { vehicle: None, driver: None, containers: vec![] }
        );
        assert_eq!(parse_visit(None, None, Some(vec![])).unwrap().containers, Vec::<String>::new());
        let no_trailer = Vehicle { trailer_plate: Some("  ".into()), ..kz_truck() };
        assert_eq!(parse_visit(Some(no_trailer), None, None).unwrap().vehicle.unwrap().trailer_plate, None);
    }

    #[test]
    fn every_broken_field_is_reported() {
        let vehicle = Vehicle { plate: "A".into(), country: "XX".into(), trailer_plate: Some("T/1".into()) };
        let driver = Driver { name: " ".into(), document_number: "9".repeat(65) };
        let containers =
            vec!["CSQU3054383".into(), "MSCU1234565".into(), "CSQX3054383".into(), "csqu3054383".into(), "".into()];
        let e = parse_visit(Some(vehicle), Some(driver), Some(containers)).unwrap_err();
        let expected = [
            ("vehicle.plate", "plate"),
            ("vehicle.country", "country"),
            ("vehicle.trailer_plate", "plate"),
            ("driver.name", "required"),
            ("driver.document_number", "length"),
            ("containers[1]", "check_digit"),
            ("containers[2]", "format"),
            ("containers[3]", "duplicate"),
            ("containers[4]", "required"),
        ];
        assert_eq!(fields(e.clone()), expected.map(|(f, c)| (f.to_owned(), c.to_owned())));
        let messages: Vec<String> = e.0.into_iter().map(|f| f.message).collect();
        assert_eq!(messages[5], "the check digit should be 6, not 5");
        assert_eq!(messages[7], "container CSQU3054383 is already listed (containers[0])");
    }

    #[test]
    fn missing_and_oversized_fields_are_reported() {
        let e = parse_visit(Some(Vehicle::default()), Some(Driver::default()), None).unwrap_err();
        let expected = [
            ("vehicle.plate", "required"),
            ("vehicle.country", "required"),
            ("driver.name", "required"),
            ("driver.document_number", "required"),
        ];
        assert_eq!(fields(e), expected.map(|(f, c)| (f.to_owned(), c.to_owned())));

        let long_name = Driver { name: "Я".repeat(201), ..driver() };
        let e = parse_visit(None, Some(long_name), None).unwrap_err();
        assert_eq!(fields(e), [("driver.name".to_owned(), "length".to_owned())]);
        let name_200 = Driver { name: "Я".repeat(200), document_number: "Ж".repeat(64) };
        assert!(parse_visit(None, Some(name_200), None).is_ok());

        let eleven = vec!["CSQU3054383".to_owned(); 11];
        let e = parse_visit(None, None, Some(eleven)).unwrap_err();
        assert_eq!(fields(e), [("containers".to_owned(), "count".to_owned())]);
    }

    #[test]
    fn a_repeat_names_where_the_number_was_first_given() {
        let containers = vec!["nonsense".into(), "CSQU3054383".into(), "csqu3054383".into()];
        let e = parse_visit(None, None, Some(containers)).unwrap_err();
        assert_eq!(e.0[1].field, "containers[2]");
        assert_eq!(e.0[1].message, "container CSQU3054383 is already listed (containers[1])");
    }

    #[test]
    fn lower_case_countries_are_accepted() {
        let v = Vehicle { plate: "AB12".into(), country: "cn".into(), trailer_plate: None };
        assert_eq!(parse_visit(Some(v), None, None).unwrap().vehicle.unwrap().country, "CN");
        let v = Vehicle { plate: "AB12".into(), country: "CHN".into(), trailer_plate: None };
        assert_eq!(
            fields(parse_visit(Some(v), None, None).unwrap_err()),
            [("vehicle.country".into(), "country".into())]
        );
    }

    #[test]
    fn the_wire_shapes_refuse_unknown_fields() {
        let v: Vehicle = serde_json::from_str(r#"{"plate": "AB12", "country": "KZ"}"#).unwrap();
        assert_eq!(v.trailer_plate, None);
        assert!(serde_json::from_str::<Vehicle>(r#"{"plate": "AB12", "country": "KZ", "colour": "red"}"#).is_err());
        assert!(serde_json::from_str::<Driver>(r#"{"name": "A", "document_number": "1", "age": 3}"#).is_err());
        let answer = serde_json::to_value(Vehicle { plate: "AB12".into(), country: "KZ".into(), trailer_plate: None });
        assert_eq!(answer.unwrap(), serde_json::json!({"plate": "AB12", "country": "KZ", "trailer_plate": null}));
    }
}
