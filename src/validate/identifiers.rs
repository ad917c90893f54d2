//! Finds patient identifiers (NHS numbers, postcodes, emails, UK phone numbers, date-of-birth
//! keys) in record text. It only reports; it never changes text.
//!
//! A 10-digit SNOMED CT id can pass the NHS number check by chance (about 1 in 11 do); such a
//! code is reported too, and the author can write it with its term or split it. A false alarm
//! costs a minute; a published NHS number cannot be taken back.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    NhsNumber,
    Postcode,
    Email,
    PhoneNumber,
    DateOfBirth,
}

impl IdentifierKind {
    /// Rule code suffix.
    pub fn code(self) -> &'static str {
        match self {
            IdentifierKind::NhsNumber => "nhs-number",
            IdentifierKind::Postcode => "postcode",
            IdentifierKind::Email => "email",
            IdentifierKind::PhoneNumber => "phone-number",
            IdentifierKind::DateOfBirth => "date-of-birth",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            IdentifierKind::NhsNumber => "an NHS number",
            IdentifierKind::Postcode => "a full UK postcode",
            IdentifierKind::Email => "an email address",
            IdentifierKind::PhoneNumber => "a UK phone number",
            IdentifierKind::DateOfBirth => "a date-of-birth field",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: IdentifierKind,
    /// Byte offsets of the match within the text.
    pub start: usize,
    pub end: usize,
}

/// 10 digits, contiguous or 3-3-4 with single spaces or hyphens, not inside a longer number.
static NHS_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9.])([0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4})(?:$|[^0-9])").unwrap()
});

/// BS 7666 (DOMAIN.md), on upper-cased text, the space between outward and inward codes optional.
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^A-Z0-9])(GIR ?0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|[A-PR-UWYZ][0-9][A-HJKSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2})(?:$|[^A-Z0-9])",
    )
    .unwrap()
});

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap()
});

/// +44 or 0, then digits with optional single spaces, hyphens or a bracketed area code.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9A-Za-z+\-])((?:\+44[ -]?(?:\(0\)[ -]?)?|\(?0)[1-9][0-9]{1,4}\)?(?:[ -]?[0-9]{2,4}){1,3})(?:$|[^0-9\-])")
        .unwrap()
});

/// Whether 10 digits (spaces and hyphens ignored) pass the NHS number modulus 11 check.
pub fn is_valid_nhs_number(digits: &str) -> bool {
    let digits: Vec<u32> = digits
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .filter_map(|c| c.to_digit(10))
        .collect();
    if digits.len() != 10 || digits.iter().all(|d| *d == 0) {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == digits[9]
}

/// National digits of a phone number candidate (after +44 or the leading 0).
fn phone_digits(candidate: &str) -> usize {
    let digits: String = candidate.chars().filter(char::is_ascii_digit).collect();

    if candidate.trim_start().starts_with("+44") {
        let rest = digits.strip_prefix("44").unwrap_or(&digits);
        // "+44 (0)20 ..." carries a redundant 0.
        if candidate.contains("(0)") {
            rest.strip_prefix('0').unwrap_or(rest).len() + 1
        } else {
            rest.len() + 1
        }
    } else {
        digits.len()
    }
}

/// Every identifier in `text`, in order of position.
pub fn find_in_text(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let digit_count = text.bytes().filter(u8::is_ascii_digit).count();
    if text.contains('@') {
        for m in EMAIL.find_iter(text) {
            found.push(Found {
                kind: IdentifierKind::Email,
                start: m.start(),
                end: m.end(),
            });
        }
    }
    if digit_count >= 10 {
        for captures in NHS_NUMBER.captures_iter(text) {
            let m = captures.get(1).expect("group 1 always takes part");
            let separators: Vec<char> =
                m.as_str().chars().filter(|c| !c.is_ascii_digit()).collect();
            // Either no separators or the same one in both places (3-3-4).
            let consistent =
                separators.is_empty() || (separators.len() == 2 && separators[0] == separators[1]);
            if consistent && is_valid_nhs_number(m.as_str()) {
                found.push(Found {
                    kind: IdentifierKind::NhsNumber,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
    if digit_count >= 9 {
        for captures in PHONE.captures_iter(text) {
            let m = captures.get(1).expect("group 1 always takes part");
            let national = phone_digits(m.as_str());
            let overlaps = found.iter().any(|f| f.start < m.end() && m.start() < f.end);
            if (10..=11).contains(&national) && !overlaps {
                found.push(Found {
                    kind: IdentifierKind::PhoneNumber,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
    if digit_count >= 1 && text.bytes().any(|b| b.is_ascii_alphabetic()) {
        // Upper-casing ASCII keeps byte offsets; other characters are left as they are.
        let upper = text.to_ascii_uppercase();
        for captures in POSTCODE.captures_iter(&upper) {
            let m = captures.get(1).expect("group 1 always takes part");
            let overlaps = found.iter().any(|f| f.start < m.end() && m.start() < f.end);
            if !overlaps {
                found.push(Found {
                    kind: IdentifierKind::Postcode,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
    found.sort_by_key(|f| f.start);
    found
}

/// Whether a key, column name, field id or label is meant to hold a date of birth.
pub fn is_date_of_birth_key(key: &str) -> bool {
    let words: Vec<String> = key
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let joined = words.concat();
    words.iter().any(|w| w == "dob")
        || joined.contains("dateofbirth")
        || joined.contains("birthdate")
        || joined.contains("birthday")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<IdentifierKind> {
        find_in_text(text).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn finds_nhs_numbers_in_every_usual_form() {
        for text in [
            "943 476 5919",
            "9434765919",
            "943-476-5919",
            "nhs no: 654 100 3238.",
            "(401 023 2137)",
        ] {
            assert_eq!(kinds(text), vec![IdentifierKind::NhsNumber], "{text}");
        }
    }

    #[test]
    fn ignores_nhs_number_failing_modulus_11() {
        assert!(kinds("9434765918").is_empty());
        assert!(kinds("0000000000").is_empty());
        assert!(!is_valid_nhs_number("0000000000"));
        assert!(is_valid_nhs_number("943 476 5919"));
    }

    #[test]
    fn ignores_digits_inside_longer_numbers_and_codes() {
        for text in [
            "1066391000000105",
            "450476008",
            "E09000001",
            "2.1.0",
            "12345678901234",
            "3.9434765919",
        ] {
            assert!(kinds(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn finds_full_postcodes_and_ignores_districts() {
        for text in [
            "SW1A 1AA",
            "sw1a1aa",
            "EC1A 1BB",
            "GIR 0AA",
            "W1A 0AX",
            "M1 1AE",
            "B33 8TH",
            "CR2 6XH",
            "DN55 1PT",
            "lives at E1 6AN now",
        ] {
            assert_eq!(kinds(text), vec![IdentifierKind::Postcode], "{text}");
        }
        for text in ["SE1", "NW10", "the SE1 area", "E54000027", "ICB E54000031"] {
            assert!(kinds(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn finds_emails() {
        assert_eq!(
            kinds("write to jane.doe@example.org today"),
            vec![IdentifierKind::Email]
        );
    }

    #[test]
    fn finds_uk_phone_numbers() {
        for text in [
            "020 7946 0958",
            "07700 900123",
            "+44 20 7946 0958",
            "(020) 7946 0958",
            "0161 496 0000",
            "+44 (0)20 7946 0958",
            "call 02079460958",
        ] {
            assert_eq!(kinds(text), vec![IdentifierKind::PhoneNumber], "{text}");
        }
    }

    #[test]
    fn ignores_dates_counts_and_service_names_as_phone_numbers() {
        for text in [
            "2021-04-01",
            "2021-04",
            "115000",
            "NHS 111",
            "111",
            "2021-04,E09000001,all,115000,2950,3055",
            "version 2.4.0",
            "0,115,2950",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", find_in_text(text));
        }
    }

    #[test]
    fn recognises_date_of_birth_keys() {
        for key in [
            "date_of_birth",
            "dob",
            "DOB",
            "birth_date",
            "Date of birth",
            "birthdate",
            "patient-dob",
        ] {
            assert!(is_date_of_birth_key(key), "{key}");
        }
        for key in [
            "dobutamine",
            "date_of_death",
            "cpr_decision_date",
            "birthplace",
        ] {
            assert!(!is_date_of_birth_key(key), "{key}");
        }
    }

    #[test]
    fn never_panics_on_unusual_text() {
        for text in [
            "",
            "é",
            "日本 943 476 5919 ü",
            &"9".repeat(100_000),
            "@@@",
            "+44",
        ] {
            let _ = find_in_text(text);
        }
        assert_eq!(
            kinds("日本 943 476 5919 ü"),
            vec![IdentifierKind::NhsNumber]
        );
    }
}
