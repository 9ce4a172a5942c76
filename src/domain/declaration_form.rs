//! What a company files in a declaration and how it is validated: every
//! field's rule, with the JSON path of each field that breaks one.

use std::str::FromStr;

use iso_currency::Currency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::declaration::DeclarationKind;
use crate::domain::fields::{FieldError, FieldErrors};
use crate::domain::goods::{
    format_money, minor_units, parse_currency, parse_money_detailed, parse_quantity_detailed, parse_unscaled, HsCode,
    Incoterm, NumberError, TransportMode, MAX_MONEY_DIGITS, MAX_QUANTITY_INTEGER_DIGITS,
};
use crate::domain::identity::parse_country;

/// Most item lines one declaration may carry.
pub const MAX_ITEMS: usize = 999;
/// Longest consignor or consignee name, in characters.
pub const MAX_PARTY_CHARS: usize = 300;
/// Longest item description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest unit of measure, in characters.
pub const MAX_UNIT_CHARS: usize = 10;
/// Decimals allowed in quantities and masses (grams for kg).
pub const QUANTITY_SCALE: u32 = 3;

/// Declares the header of a declaration (every field a company files but
/// the items) once, and from that one list its three wire shapes:
/// `DeclarationInput` (filed whole), `DeclarationPatch` (each field optional)
/// and `DeclarationHeader` (as answered). Every field is text when filed, so
/// that `validate` can report each broken one at once; `: Type` names the
/// type an answer's field is documented as, where it is not plain text.
macro_rules! declaration_header {
    ($( $(#[$doc:meta])* $field:ident $(: $answer:ty)? ),* $(,)?) => {
        /// A declaration as a company files it: every field is required, and a
        /// body that breaks several rules is answered with one error for each.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct DeclarationInput {
            $(
                $(#[$doc])*
                #[schema(required = true)]
                pub $field: String,
            )*
            /// Item lines, in order.
            #[schema(required = true)]
            pub items: Vec<ItemInput>,
        }

        /// A partial update: present fields replace the stored ones, `items` replaces the whole list.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct DeclarationPatch {
            $(
                $(#[$doc])*
                pub $field: Option<String>,
            )*
            /// Replaces every item line when present.
            pub items: Option<Vec<ItemInput>>,
        }

        /// What a company filed, as answered: the declaration's goods data.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
        pub struct DeclarationHeader {
            $(
                $(#[$doc])*
                $( #[schema(value_type = $answer)] )?
                pub $field: String,
            )*
        }

        impl DeclarationPatch {
            /// The stored input with this patch laid over it; the result still needs `validate`.
            pub fn apply(self, base: DeclarationInput) -> DeclarationInput {
                DeclarationInput {
                    $( $field: self.$field.unwrap_or(base.$field), )*
                    items: self.items.unwrap_or(base.items),
                }
            }
        }

        impl DeclarationInput {
            /// The header and the item lines, apart.
            pub fn into_parts(self) -> (DeclarationHeader, Vec<ItemInput>) {
                (DeclarationHeader { $( $field: self.$field, )* }, self.items)
            }
        }
    };
}

declaration_header! {
    /// `import`, `export` or `transit`.
    kind: DeclarationKind,
    /// Id of the clearance site the goods are declared at, one that serves `transport_mode`.
    site_id,
    /// `road`, `rail` or `air`.
    transport_mode: TransportMode,
    /// Name of the sender.
    consignor,
    /// Name of the receiver.
    consignee,
    /// ISO 3166-1 alpha-2.
    origin_country,
    /// ISO 3166-1 alpha-2.
    destination_country,
    /// ISO 4217 alphabetic code.
    #[schema(example = "USD")]
    currency,
    /// Incoterms 2020 code.
    #[schema(example = "FCA")]
    incoterm,
    /// Decimal string in `currency`; the items' values sum to it.
    #[schema(example = "1250.00")]
    invoice_total,
    /// Decimal string, kilograms; at least the items' total net mass.
    #[schema(example = "260.000")]
    gross_mass_kg,
}

/// One item line of a declaration, as a company files it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ItemInput {
    /// 6 to 10 digit HS code.
    #[schema(required = true, example = "8471300000")]
    pub hs_code: String,
    /// Commercial description of the goods.
    #[schema(required = true)]
    pub description: String,
    /// Decimal string.
    #[schema(required = true, example = "120")]
    pub quantity: String,
    /// Unit of the quantity, e.g. `KGM` or `PCE`.
    #[schema(required = true, example = "PCE")]
    pub unit: String,
    /// Decimal string, kilograms.
    #[schema(required = true, example = "240.500")]
    pub net_mass_kg: String,
    /// Decimal string in the declaration's currency.
    #[schema(required = true, example = "1250.00")]
    pub value: String,
    /// ISO 3166-1 alpha-2.
    #[schema(required = true)]
    pub origin_country: String,
}

impl DeclarationPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == DeclarationPatch::default()
    }
}

/// A declaration whose every field passed its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDeclaration {
    /// Direction of the goods.
    pub kind: DeclarationKind,
    /// Clearance site id, trimmed.
    pub site_id: String,
    /// Mode the goods arrive by.
    pub transport_mode: TransportMode,
    /// Sender, trimmed.
    pub consignor: String,
    /// Receiver, trimmed.
    pub consignee: String,
    /// ISO 3166-1 alpha-2.
    pub origin_country: String,
    /// ISO 3166-1 alpha-2.
    pub destination_country: String,
    /// Invoice currency.
    pub currency: Currency,
    /// Delivery terms.
    pub incoterm: Incoterm,
    /// Invoice total in minor units of `currency`.
    pub invoice_total_minor: i64,
    /// Gross mass, kilograms, normalised.
    pub gross_mass_kg: Decimal,
    /// Item lines, numbered from 1.
    pub items: Vec<ValidItem>,
}

/// An item line whose every field passed its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidItem {
    /// 1-based position in the declaration.
    pub line_no: i32,
    /// Commodity code.
    pub hs_code: HsCode,
    /// Description, trimmed.
    pub description: String,
    /// Quantity, normalised.
    pub quantity: Decimal,
    /// Unit of the quantity.
    pub unit: String,
    /// Net mass, kilograms, normalised.
    pub net_mass_kg: Decimal,
    /// Value in minor units of the declaration's currency.
    pub value_minor: i64,
    /// ISO 3166-1 alpha-2.
    pub origin_country: String,
}

/// Checks a whole declaration and reports every broken rule, with JSON paths such as
/// `items[2].hs_code` (0-based, as the index in the submitted array).
pub fn validate(input: &DeclarationInput) -> Result<ValidDeclaration, Vec<FieldError>> {
    let mut errs = FieldErrors::new();

    let kind = enum_field::<DeclarationKind>(&mut errs, "kind", &input.kind);
    let site_id = required_field(&mut errs, "site_id", &input.site_id);
    let transport_mode = enum_field::<TransportMode>(&mut errs, "transport_mode", &input.transport_mode);
    let consignor = text_field(&mut errs, "consignor", &input.consignor, MAX_PARTY_CHARS);
    let consignee = text_field(&mut errs, "consignee", &input.consignee, MAX_PARTY_CHARS);
    let origin_country = country_field(&mut errs, "origin_country", &input.origin_country);
    let destination_country = country_field(&mut errs, "destination_country", &input.destination_country);
    let currency = currency_field(&mut errs, "currency", &input.currency);
    let incoterm = enum_field::<Incoterm>(&mut errs, "incoterm", &input.incoterm);
    let invoice_total = money_field(&mut errs, "invoice_total", &input.invoice_total, currency);
    let gross_mass_kg = quantity_field(&mut errs, "gross_mass_kg", &input.gross_mass_kg);

    let count = input.items.len();
    let items: Option<Vec<ValidItem>> = if count == 0 || count > MAX_ITEMS {
        errs.add("items", "count", format!("a declaration needs 1 to {MAX_ITEMS} items, not {count}"));
        None
    } else {
        let checked: Vec<Option<ValidItem>> =
            input.items.iter().enumerate().map(|(i, item)| validate_item(&mut errs, i, item, currency)).collect();
        checked.into_iter().collect()
    };

    if let (Some(items), Some(total), Some(currency)) = (&items, invoice_total, currency) {
        let sum: i128 = items.iter().map(|it| i128::from(it.value_minor)).sum();
        if sum != i128::from(total) {
            errs.add(
                "invoice_total",
                "sum_mismatch",
                format!(
                    "the items' values sum to {} {code} but invoice_total is {} {code}",
                    format_sum(sum, currency),
                    format_money(total, currency),
                    code = currency.code(),
                ),
            );
        }
    }

    if let (Some(items), Some(gross)) = (&items, gross_mass_kg) {
        let net = items.iter().try_fold(Decimal::ZERO, |acc, it| acc.checked_add(it.net_mass_kg));
        match net {
            Some(net) if net <= gross => {}
            Some(net) => errs.add(
                "gross_mass_kg",
                "mass",
                format!("the items' net mass totals {net} kg, more than gross_mass_kg {gross} kg"),
            ),
            None => errs.add("gross_mass_kg", "mass", "the items' net mass total is too large"),
        }
    }

    if !errs.is_empty() {
        return Err(errs.0);
    }
    // Every `None` above comes with an error, so here each is `Some`.
    let valid = || {
        Some(ValidDeclaration {
            kind: kind?,
            site_id: site_id?,
            transport_mode: transport_mode?,
            consignor: consignor?,
            consignee: consignee?,
            origin_country: origin_country?,
            destination_country: destination_country?,
            currency: currency?,
            incoterm: incoterm?,
            invoice_total_minor: invoice_total?,
            gross_mass_kg: gross_mass_kg?,
            items: items?,
        })
    };
    // Only a safety net: see above.
    valid().ok_or_else(|| vec![FieldError::new("", "invalid", "the declaration is invalid")])
}

/// Checks one item line; errors go to `errs` under `items[index]`.
fn validate_item(
    errs: &mut FieldErrors,
    index: usize,
    item: &ItemInput,
    currency: Option<Currency>,
) -> Option<ValidItem> {
    let path = |name: &str| format!("items[{index}].{name}");
    let hs_code = match item.hs_code.trim() {
        "" => {
            errs.add(path("hs_code"), "required", "hs_code is required");
            None
        }
        _ => HsCode::parse(&item.hs_code).map_err(|m| errs.add(path("hs_code"), "hs_code", m)).ok(),
    };
    let description = text_field(errs, &path("description"), &item.description, MAX_DESCRIPTION_CHARS);
    let quantity = quantity_field(errs, &path("quantity"), &item.quantity);
    let unit = unit_field(errs, &path("unit"), &item.unit);
    let net_mass_kg = quantity_field(errs, &path("net_mass_kg"), &item.net_mass_kg);
    let value_minor = money_field(errs, &path("value"), &item.value, currency);
    let origin_country = country_field(errs, &path("origin_country"), &item.origin_country);
    // At most MAX_ITEMS lines reach here, so the line number always fits.
    let line_no = i32::try_from(index + 1).ok()?;
    Some(ValidItem {
        line_no,
        hs_code: hs_code?,
        description: description?,
        quantity: quantity?,
        unit: unit?,
        net_mass_kg: net_mass_kg?,
        value_minor: value_minor?,
        origin_country: origin_country?,
    })
}

/// The last segment of a path, for messages that read "hs_code is required".
fn field_name(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

fn required_field(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<String> {
    let value = raw.trim();
    if value.is_empty() {
        errs.add(field, "required", format!("{} is required", field_name(field)));
        return None;
    }
    Some(value.to_owned())
}

fn enum_field<T: FromStr<Err = String>>(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<T> {
    if raw.trim().is_empty() {
        errs.add(field, "required", format!("{} is required", field_name(field)));
        return None;
    }
    // Exact match only: the wire forms are fixed and case matters.
    raw.parse::<T>().map_err(|m| errs.add(field, "enum", format!("{}: {m}", field_name(field)))).ok()
}

fn text_field(errs: &mut FieldErrors, field: &str, raw: &str, max_chars: usize) -> Option<String> {
    let value = required_field(errs, field, raw)?;
    if value.chars().count() > max_chars {
        errs.add(field, "length", format!("{} must have 1 to {max_chars} characters", field_name(field)));
        return None;
    }
    Some(value)
}

fn unit_field(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<String> {
    if raw.is_empty() {
        errs.add(field, "required", "unit is required");
        return None;
    }
    if raw.chars().count() > MAX_UNIT_CHARS {
        errs.add(field, "length", format!("unit must have 1 to {MAX_UNIT_CHARS} characters"));
        return None;
    }
    if !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errs.add(field, "format", "unit must contain only letters A-Z, a-z and digits, e.g. KGM or PCE");
        return None;
    }
    Some(raw.to_owned())
}

fn country_field(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<String> {
    if raw.trim().is_empty() {
        errs.add(field, "required", format!("{} is required", field_name(field)));
        return None;
    }
    parse_country(raw).map_err(|m| errs.add(field, "country", m)).ok()
}

fn currency_field(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<Currency> {
    if raw.trim().is_empty() {
        errs.add(field, "required", "currency is required");
        return None;
    }
    parse_currency(raw).map_err(|m| errs.add(field, "currency", m)).ok()
}

/// A message naming the field; `scale` is the allowed number of decimals and, for money,
/// the currency code that imposes it.
fn number_message(field: &str, e: NumberError, scale: Option<(u32, Option<&str>)>) -> String {
    let name = field_name(field);
    match (e, scale) {
        (NumberError::Scale, Some((0, Some(code)))) => format!("{name} may not have decimals in {code}"),
        (NumberError::Scale, Some((n, Some(code)))) => format!("{name} may have at most {n} decimal places in {code}"),
        (NumberError::Scale, Some((n, None))) => format!("{name} may have at most {n} decimal places"),
        (NumberError::TooLarge, Some((_, None))) => {
            format!("{name} may have at most {MAX_QUANTITY_INTEGER_DIGITS} integer digits")
        }
        (NumberError::TooLarge, _) => format!("{name} may have at most {MAX_MONEY_DIGITS} significant digits"),
        _ => format!("{name} {}", e.message()),
    }
}

/// A money amount in the declaration's currency; with no valid currency only the
/// syntax can be checked, and no amount is returned.
fn money_field(errs: &mut FieldErrors, field: &str, raw: &str, currency: Option<Currency>) -> Option<i64> {
    let Some(currency) = currency else {
        if let Err(e) = parse_unscaled(raw, false) {
            errs.add(field, e.code(), number_message(field, e, None));
        }
        return None;
    };
    parse_money_detailed(raw, currency, false)
        .map_err(|e| {
            errs.add(field, e.code(), number_message(field, e, Some((minor_units(currency), Some(currency.code())))))
        })
        .ok()
}

fn quantity_field(errs: &mut FieldErrors, field: &str, raw: &str) -> Option<Decimal> {
    parse_quantity_detailed(raw, QUANTITY_SCALE)
        .map_err(|e| errs.add(field, e.code(), number_message(field, e, Some((QUANTITY_SCALE, None)))))
        .ok()
}

/// Formats a sum that may exceed `i64` (999 lines of up to 18 digits each).
fn format_sum(sum: i128, currency: Currency) -> String {
    match i64::try_from(sum) {
        Ok(minor) => format_money(minor, currency),
        Err(_) => Decimal::try_from_i128_with_scale(sum, minor_units(currency))
            .map(|d| d.to_string())
            .unwrap_or_else(|_| sum.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    /// Cotton yarn from Uzbekistan into Kashgar, two lines that add up.
    fn kashgar_cotton() -> DeclarationInput {
        DeclarationInput {
            kind: "import".into(),
            site_id: "0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f60".into(),
            transport_mode: "road".into(),
            consignor: "Tashkent Textile Export LLC".into(),
            consignee: "  Kashgar Silk Road Trading Co., Ltd. ".into(),
            origin_country: "UZ".into(),
            destination_country: "CN".into(),
            currency: "CNY".into(),
            incoterm: "DAP".into(),
            invoice_total: "125000.00".into(),
            gross_mass_kg: "20500.5".into(),
            items: vec![
                ItemInput {
                    hs_code: "520512".into(),
                    description: "Single cotton yarn, uncombed, 80% cotton, 714-232 dtex".into(),
                    quantity: "20000".into(),
                    unit: "KGM".into(),
                    net_mass_kg: "20000.000".into(),
                    value: "120000.00".into(),
                    origin_country: "UZ".into(),
                },
                ItemInput {
                    hs_code: "5205220000".into(),
                    description: "Single cotton yarn, combed".into(),
                    quantity: "400".into(),
                    unit: "KGM".into(),
                    net_mass_kg: "400".into(),
                    value: "5000".into(),
                    origin_country: "UZ".into(),
                },
            ],
        }
    }

    fn errors_after(change: impl FnOnce(&mut DeclarationInput)) -> Vec<(String, String)> {
        let mut input = kashgar_cotton();
        change(&mut input);
        match validate(&input) {
            Ok(_) => vec![],
            Err(errs) => errs.into_iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    fn one(field: &str, code: &str) -> Vec<(String, String)> {
        vec![(field.to_owned(), code.to_owned())]
    }

    #[test]
    fn a_complete_declaration_is_valid() {
        let v = validate(&kashgar_cotton()).unwrap();
        assert_eq!(v.kind, DeclarationKind::Import);
        assert_eq!(v.transport_mode, TransportMode::Road);
        assert_eq!(v.consignee, "Kashgar Silk Road Trading Co., Ltd.");
        assert_eq!(v.origin_country, "UZ");
        assert_eq!(v.destination_country, "CN");
        assert_eq!(v.currency, Currency::CNY);
        assert_eq!(v.incoterm, Incoterm::Dap);
        assert_eq!(v.invoice_total_minor, 12_500_000);
        assert_eq!(v.gross_mass_kg.to_string(), "20500.5");
        assert_eq!(v.items.len(), 2);
        assert_eq!(v.items[0].line_no, 1);
        assert_eq!(v.items[1].line_no, 2);
        assert_eq!(v.items[0].hs_code.as_str(), "520512");
        assert_eq!(v.items[0].net_mass_kg.to_string(), "20000");
        assert_eq!(v.items[0].value_minor, 12_000_000);
        assert_eq!(v.items[1].value_minor, 500_000);
        assert_eq!(v.items[1].unit, "KGM");
    }

    #[test]
    fn kind_transport_and_incoterm_come_from_their_lists() {
        assert_eq!(errors_after(|d| d.kind = "Import".into()), one("kind", "enum"));
        assert_eq!(errors_after(|d| d.kind = "".into()), one("kind", "required"));
        assert_eq!(errors_after(|d| d.transport_mode = "sea".into()), one("transport_mode", "enum"));
        assert_eq!(errors_after(|d| d.incoterm = "DAT".into()), one("incoterm", "enum"));
        assert_eq!(errors_after(|d| d.incoterm = "fob".into()), one("incoterm", "enum"));
        // Sea-only terms are used on land routes in practice; customs records them as given.
        assert_eq!(errors_after(|d| d.incoterm = "FOB".into()), vec![]);
    }

    #[test]
    fn site_id_is_required() {
        assert_eq!(errors_after(|d| d.site_id = " ".into()), one("site_id", "required"));
    }

    #[test]
    fn parties_have_1_to_300_characters() {
        assert_eq!(errors_after(|d| d.consignor = "   ".into()), one("consignor", "required"));
        assert_eq!(errors_after(|d| d.consignee = "x".repeat(301)), one("consignee", "length"));
        assert_eq!(errors_after(|d| d.consignee = "喀".repeat(300)), vec![]);
        assert_eq!(errors_after(|d| d.consignor = format!(" {} ", "a".repeat(300))), vec![]);
    }

    #[test]
    fn countries_are_iso_3166() {
        assert_eq!(errors_after(|d| d.origin_country = "UZB".into()), one("origin_country", "country"));
        assert_eq!(errors_after(|d| d.destination_country = "cn".into()), one("destination_country", "country"));
        assert_eq!(errors_after(|d| d.destination_country = "".into()), one("destination_country", "required"));
        assert_eq!(
            errors_after(|d| d.items[1].origin_country = "XX".into()),
            one("items[1].origin_country", "country")
        );
    }

    #[test]
    fn currency_is_iso_4217() {
        // An unknown currency hides the scale of amounts, so only it is reported.
        assert_eq!(errors_after(|d| d.currency = "RMB".into()), one("currency", "currency"));
        assert_eq!(errors_after(|d| d.currency = "cny".into()), one("currency", "currency"));
        assert_eq!(errors_after(|d| d.currency = "XAU".into()), one("currency", "currency"));
        assert_eq!(errors_after(|d| d.currency = "".into()), one("currency", "required"));
        let errs = errors_after(|d| {
            d.currency = "RMB".into();
            d.invoice_total = "1e5".into();
        });
        assert_eq!(errs, vec![("currency".into(), "currency".into()), ("invoice_total".into(), "decimal".into())]);
    }

    #[test]
    fn invoice_total_is_positive_money_in_the_currency() {
        assert_eq!(errors_after(|d| d.invoice_total = "0.00".into()), one("invoice_total", "positive"));
        assert_eq!(errors_after(|d| d.invoice_total = "-125000.00".into()), one("invoice_total", "positive"));
        assert_eq!(errors_after(|d| d.invoice_total = "125000.001".into()), one("invoice_total", "scale"));
        assert_eq!(errors_after(|d| d.invoice_total = "1.25e5".into()), one("invoice_total", "decimal"));
        assert_eq!(errors_after(|d| d.invoice_total = "".into()), one("invoice_total", "required"));
        assert_eq!(errors_after(|d| d.invoice_total = "9".repeat(30)), one("invoice_total", "decimal"));
    }

    #[test]
    fn amounts_follow_the_currency_minor_units() {
        let errs = errors_after(|d| d.currency = "JPY".into());
        assert_eq!(errs, vec![("invoice_total".into(), "scale".into()), ("items[0].value".into(), "scale".into())]);
        let errs = errors_after(|d| {
            d.currency = "JPY".into();
            d.invoice_total = "125000".into();
            d.items[0].value = "120000.50".into();
        });
        assert_eq!(errs, one("items[0].value", "scale"));
        let mut input = kashgar_cotton();
        input.currency = "JPY".into();
        input.invoice_total = "125000".into();
        input.items[0].value = "120000".into();
        assert_eq!(validate(&input).unwrap().invoice_total_minor, 125_000);
        input.items[1].value = "5000.5".into();
        let errs = validate(&input).unwrap_err();
        assert_eq!(errs[0].message, "value may not have decimals in JPY");
        let mut input = kashgar_cotton();
        input.invoice_total = "1.001".into();
        input.gross_mass_kg = "1.0001".into();
        let messages: Vec<String> = validate(&input).unwrap_err().into_iter().map(|e| e.message).collect();
        assert_eq!(
            messages,
            [
                "invoice_total may have at most 2 decimal places in CNY",
                "gross_mass_kg may have at most 3 decimal places"
            ]
        );
    }

    #[test]
    fn gross_mass_is_positive_with_grams_at_most() {
        assert_eq!(errors_after(|d| d.gross_mass_kg = "0".into()), one("gross_mass_kg", "positive"));
        assert_eq!(errors_after(|d| d.gross_mass_kg = "20500.5001".into()), one("gross_mass_kg", "scale"));
        assert_eq!(errors_after(|d| d.gross_mass_kg = "20 500".into()), one("gross_mass_kg", "decimal"));
    }

    #[test]
    fn items_number_1_to_999() {
        assert_eq!(errors_after(|d| d.items.clear()), one("items", "count"));
        let errs = errors_after(|d| {
            let line = d.items[1].clone();
            d.items = vec![line; 1000];
            d.invoice_total = "5000000.00".into();
            d.gross_mass_kg = "400000".into();
        });
        assert_eq!(errs, one("items", "count"));
        let mut input = kashgar_cotton();
        input.items = vec![input.items[1].clone(); 999];
        input.invoice_total = "4995000.00".into();
        input.gross_mass_kg = "399600".into();
        let v = validate(&input).unwrap();
        assert_eq!(v.items.last().unwrap().line_no, 999);
    }

    #[test]
    fn item_hs_code_and_description() {
        assert_eq!(errors_after(|d| d.items[1].hs_code = "7700000".into()), one("items[1].hs_code", "hs_code"));
        assert_eq!(errors_after(|d| d.items[0].hs_code = "5205.12".into()), one("items[0].hs_code", "hs_code"));
        assert_eq!(errors_after(|d| d.items[0].hs_code = "".into()), one("items[0].hs_code", "required"));
        assert_eq!(errors_after(|d| d.items[0].description = " ".into()), one("items[0].description", "required"));
        assert_eq!(errors_after(|d| d.items[0].description = "y".repeat(501)), one("items[0].description", "length"));
        assert_eq!(errors_after(|d| d.items[0].description = "y".repeat(500)), vec![]);
    }

    #[test]
    fn item_quantity_and_unit() {
        assert_eq!(errors_after(|d| d.items[0].quantity = "0".into()), one("items[0].quantity", "positive"));
        assert_eq!(errors_after(|d| d.items[0].quantity = "1.0005".into()), one("items[0].quantity", "scale"));
        assert_eq!(errors_after(|d| d.items[0].quantity = "many".into()), one("items[0].quantity", "decimal"));
        assert_eq!(errors_after(|d| d.items[0].unit = "".into()), one("items[0].unit", "required"));
        assert_eq!(errors_after(|d| d.items[0].unit = "KILOGRAMMES".into()), one("items[0].unit", "length"));
        assert_eq!(errors_after(|d| d.items[0].unit = "kg/m".into()), one("items[0].unit", "format"));
        assert_eq!(errors_after(|d| d.items[0].unit = "pce10".into()), vec![]);
    }

    #[test]
    fn item_net_mass_and_value() {
        assert_eq!(errors_after(|d| d.items[1].net_mass_kg = "-400".into()), one("items[1].net_mass_kg", "positive"));
        assert_eq!(errors_after(|d| d.items[1].net_mass_kg = "0.0001".into()), one("items[1].net_mass_kg", "scale"));
        // An item value that does not parse suppresses the sum check.
        assert_eq!(errors_after(|d| d.items[1].value = "0".into()), one("items[1].value", "positive"));
        assert_eq!(errors_after(|d| d.items[1].value = "5000.001".into()), one("items[1].value", "scale"));
        assert_eq!(errors_after(|d| d.items[1].value = "5,000".into()), one("items[1].value", "decimal"));
    }

    #[test]
    fn item_values_must_sum_to_the_invoice_total() {
        let mut input = kashgar_cotton();
        input.items[1].value = "5000.01".into();
        let errs = validate(&input).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!((errs[0].field.as_str(), errs[0].code.as_str()), ("invoice_total", "sum_mismatch"));
        assert!(errs[0].message.contains("125000.01"), "{}", errs[0].message);
        assert!(errs[0].message.contains("125000.00"), "{}", errs[0].message);
    }

    #[test]
    fn net_mass_may_not_exceed_gross_mass() {
        assert_eq!(errors_after(|d| d.gross_mass_kg = "20399.999".into()), one("gross_mass_kg", "mass"));
        assert_eq!(errors_after(|d| d.gross_mass_kg = "20400".into()), vec![]);
        let mut input = kashgar_cotton();
        input.gross_mass_kg = "100".into();
        let errs = validate(&input).unwrap_err();
        assert_eq!(errs[0].message, "the items' net mass totals 20400 kg, more than gross_mass_kg 100 kg");
    }

    #[test]
    fn every_error_is_collected() {
        let errs = errors_after(|d| {
            d.kind = "transfer".into();
            d.consignor = "".into();
            d.currency = "EURO".into();
            d.items[0].hs_code = "990000".into();
            d.items[0].unit = "".into();
            d.items[1].quantity = "0".into();
            d.items[1].origin_country = "Uzbekistan".into();
        });
        let expected: Vec<(String, String)> = [
            ("kind", "enum"),
            ("consignor", "required"),
            ("currency", "currency"),
            ("items[0].hs_code", "hs_code"),
            ("items[0].unit", "required"),
            ("items[1].quantity", "positive"),
            ("items[1].origin_country", "country"),
        ]
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect();
        assert_eq!(errs, expected);
    }

    #[test]
    fn wire_input_takes_strings_only_and_defaults_missing_fields() {
        let json = serde_json::json!({"kind": "import", "invoice_total": 1250.0, "items": []});
        assert!(serde_json::from_value::<DeclarationInput>(json).is_err());
        let input: DeclarationInput = serde_json::from_value(serde_json::json!({"kind": "import"})).unwrap();
        let errs = validate(&input).unwrap_err();
        assert!(errs.iter().any(|e| e.field == "currency" && e.code == "required"));
        assert!(errs.iter().any(|e| e.field == "items" && e.code == "count"));
        assert!(!errs.iter().any(|e| e.field == "kind"));
    }

    #[test]
    fn patch_overlays_present_fields_and_replaces_items() {
        let patch: DeclarationPatch = serde_json::from_value(serde_json::json!({
            "consignor": "Samarkand Cotton JSC",
            "invoice_total": "5000.00",
            "gross_mass_kg": null,
            "items": [{"hs_code": "520522", "description": "Combed yarn", "quantity": "400", "unit": "KGM",
                       "net_mass_kg": "400", "value": "5000.00", "origin_country": "UZ"}]
        }))
        .unwrap();
        assert!(!patch.is_empty());
        let merged = patch.apply(kashgar_cotton());
        assert_eq!(merged.consignor, "Samarkand Cotton JSC");
        assert_eq!(merged.gross_mass_kg, "20500.5");
        assert_eq!(merged.kind, "import");
        assert_eq!(merged.items.len(), 1);
        assert_eq!(merged.items[0].hs_code, "520522");
        assert!(validate(&merged).is_ok());

        let empty: DeclarationPatch = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.apply(kashgar_cotton()), kashgar_cotton());
    }
}
