//! Declaration bodies as a client sends them: JSON bytes into
//! `DeclarationInput` / `DeclarationPatch`, then `validate`.
//!
//! Besides "no panic", a declaration that validates must be self-consistent
//! and its canonical form (what the API stores and shows) must validate again
//! to the same value.
#![no_main]

use clearway::domain::declaration_form::{validate, DeclarationInput, DeclarationPatch, ItemInput, ValidDeclaration};
use clearway::domain::goods::format_money;
use libfuzzer_sys::fuzz_target;

/// A valid declaration (the unit tests' Kashgar cotton) that patches are laid over.
fn base() -> DeclarationInput {
    let item = |hs: &str, desc: &str, qty: &str, net: &str, value: &str| ItemInput {
        hs_code: hs.into(),
        description: desc.into(),
        quantity: qty.into(),
        unit: "KGM".into(),
        net_mass_kg: net.into(),
        value: value.into(),
        origin_country: "UZ".into(),
    };
    DeclarationInput {
        kind: "import".into(),
        site_id: "0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f60".into(),
        transport_mode: "road".into(),
        consignor: "Tashkent Textile Export LLC".into(),
        consignee: "Kashgar Silk Road Trading Co., Ltd.".into(),
        origin_country: "UZ".into(),
        destination_country: "CN".into(),
        currency: "CNY".into(),
        incoterm: "DAP".into(),
        invoice_total: "125000.00".into(),
        gross_mass_kg: "20500.5".into(),
        items: vec![
            item("520512", "Single cotton yarn, uncombed", "20000", "20000.000", "120000.00"),
            item("5205220000", "Single cotton yarn, combed", "400", "400", "5000"),
        ],
    }
}

/// The declaration written back in its canonical text form.
fn canonical(v: &ValidDeclaration) -> DeclarationInput {
    DeclarationInput {
        kind: v.kind.as_str().into(),
        site_id: v.site_id.clone(),
        transport_mode: v.transport_mode.as_str().into(),
        consignor: v.consignor.clone(),
        consignee: v.consignee.clone(),
        origin_country: v.origin_country.clone(),
        destination_country: v.destination_country.clone(),
        currency: v.currency.code().into(),
        incoterm: v.incoterm.as_str().into(),
        invoice_total: format_money(v.invoice_total_minor, v.currency),
        gross_mass_kg: v.gross_mass_kg.to_string(),
        items: v
            .items
            .iter()
            .map(|it| ItemInput {
                hs_code: it.hs_code.as_str().into(),
                description: it.description.clone(),
                quantity: it.quantity.to_string(),
                unit: it.unit.clone(),
                net_mass_kg: it.net_mass_kg.to_string(),
                value: format_money(it.value_minor, v.currency),
                origin_country: it.origin_country.clone(),
            })
            .collect(),
    }
}

fn check(input: &DeclarationInput) {
    match validate(input) {
        Ok(v) => {
            assert!((1..=999).contains(&v.items.len()));
            for (i, it) in v.items.iter().enumerate() {
                assert_eq!(it.line_no as usize, i + 1);
                assert!(it.value_minor > 0);
            }
            let sum: i128 = v.items.iter().map(|it| i128::from(it.value_minor)).sum();
            assert_eq!(sum, i128::from(v.invoice_total_minor));
            let again = validate(&canonical(&v));
            assert_eq!(again.as_ref(), Ok(&v), "canonical form does not validate to the same declaration");
        }
        Err(errors) => assert!(!errors.is_empty(), "refused without a reason"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = serde_json::from_slice::<DeclarationInput>(data) {
        check(&input);
    }
    if let Ok(patch) = serde_json::from_slice::<DeclarationPatch>(data) {
        let _ = patch.is_empty();
        check(&patch.apply(base()));
    }
});
