//! Enterprise registration codes: China's Unified Social Credit Code
//! (GB 32100-2015) with its check character, or an EORI-shaped code.

/// The 31 characters of a USCC; a character's value is its index here.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Why a registration code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not 18 characters from the USCC alphabet.
    UsccShape,
    /// Shape right, check character wrong.
    UsccCheckCharacter,
    /// Not `[A-Z]{2}[!-~]{1,15}`.
    EoriShape,
}

impl CodeError {
    pub fn code(self) -> &'static str {
        match self {
            CodeError::UsccShape | CodeError::EoriShape => "format",
            CodeError::UsccCheckCharacter => "check_character",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            CodeError::UsccShape => "a Chinese registration code is an 18-character Unified Social Credit Code (digits and capitals except I, O, S, V, Z)",
            CodeError::UsccCheckCharacter => "the Unified Social Credit Code's check character (18th) does not match GB 32100-2015",
            CodeError::EoriShape => "registration code must be EORI-shaped: two capital letters then 1 to 15 printable characters",
        }
    }
}

/// The check character of the first 17 characters, or `None` if any
/// character is outside the alphabet.
pub fn uscc_check_character(first17: &str) -> Option<char> {
    let mut weight: u32 = 1;
    let mut sum: u32 = 0;
    for b in first17.bytes() {
        let value = USCC_ALPHABET.iter().position(|&c| c == b)? as u32;
        sum += value * weight;
        weight = (weight * 3) % 31;
    }
    Some(USCC_ALPHABET[((31 - sum % 31) % 31) as usize] as char)
}

/// Validates a Unified Social Credit Code.
pub fn parse_uscc(code: &str) -> Result<(), CodeError> {
    if code.len() != 18 || !code.bytes().all(|b| USCC_ALPHABET.contains(&b)) {
        return Err(CodeError::UsccShape);
    }
    let expected = uscc_check_character(&code[..17]).ok_or(CodeError::UsccShape)?;
    if code.as_bytes()[17] as char != expected {
        return Err(CodeError::UsccCheckCharacter);
    }
    Ok(())
}

/// Validates a registration code for an enterprise of `country` (already a
/// valid ISO code): USCC for CN, EORI-shaped otherwise (whose prefix is
/// the issuing state, not necessarily the enterprise's country).
pub fn parse_registration_code(country: &str, code: &str) -> Result<String, CodeError> {
    let code = code.trim();
    if country == "CN" {
        parse_uscc(code)?;
        return Ok(code.to_owned());
    }
    let bytes = code.as_bytes();
    let shaped = (3..=17).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..].iter().all(|b| (b'!'..=b'~').contains(b));
    if !shaped {
        return Err(CodeError::EoriShape);
    }
    Ok(code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_worked_example_is_valid() {
        assert_eq!(parse_uscc("91350100M000100Y43"), Ok(()));
        assert_eq!(uscc_check_character("91350100M000100Y4"), Some('3'));
    }

    #[test]
    fn wrong_check_character_is_refused() {
        assert_eq!(parse_uscc("91350100M000100Y44"), Err(CodeError::UsccCheckCharacter));
    }

    #[test]
    fn letters_outside_the_alphabet_are_refused() {
        // I, O, S, V, Z are not in the alphabet.
        assert_eq!(parse_uscc("91350100I000100Y43"), Err(CodeError::UsccShape));
        assert_eq!(parse_uscc("91350100M000100Y4"), Err(CodeError::UsccShape));
        assert_eq!(parse_uscc("91350100m000100Y43"), Err(CodeError::UsccShape));
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        // A single 1 in position i contributes 3^(i-1) mod 31.
        let mut code = *b"00000000000000000";
        code[4] = b'1';
        let s = std::str::from_utf8(&code).unwrap_or_default();
        // weight of position 5 is 3^4 mod 31 = 81 mod 31 = 19; check = (31-19) = 12 -> 'C'
        assert_eq!(uscc_check_character(s), Some('C'));
    }

    #[test]
    fn eori_shaped_codes() {
        assert!(parse_registration_code("DE", "DE123456789012345").is_ok());
        // A non-EU trader's EORI is issued by an EU state: the prefix may differ.
        assert!(parse_registration_code("KZ", "DE12345").is_ok());
        assert_eq!(parse_registration_code("DE", "DE"), Err(CodeError::EoriShape));
        assert_eq!(parse_registration_code("DE", "DE1234567890123456"), Err(CodeError::EoriShape));
        assert_eq!(parse_registration_code("DE", "DE 123"), Err(CodeError::EoriShape));
        assert_eq!(parse_registration_code("CN", "DE123"), Err(CodeError::UsccShape));
    }
}
