//! Finds patient identifiers (NHS numbers, postcodes, emails, UK phone numbers, dates of birth
//! in free text, date-of-birth keys) in record text. It only reports; it never changes text.
//!
//! A 10-digit SNOMED CT id can pass the NHS number check by chance (about 1 in 11 do); such a
//! code is reported too, and the author can write it with its term or split it. A false alarm
//! costs a minute; a published NHS number cannot be taken back.
//!
//! Text pasted from letters, PDFs and spreadsheets hides identifiers from plain patterns:
//! full-width digits, no-break and thin spaces, zero-width characters, en-dashes, dots and
//! slashes between digit groups. So before looking, a line is normalised (NFKC, invisible and
//! format characters removed, other decimal digits read as ASCII) and separator runs between
//! digits are read as one space. Positions are always reported in the ORIGINAL text, through
//! an offset map kept by each step.
//!
//! It must not: alter the text it is given; report a review date, a SNOMED CT code, a version,
//! a count, a month, an ONS area code, a date range or a decimal as an identifier; or slow down
//! the common line (ASCII digits and commas, ~15,000 metrics lines per check), which takes a
//! path with no normalisation, no copy of the line and no allocation the module did not make
//! before.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

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
    /// Byte offsets of the match within the text as given (not as normalised). For a date of
    /// birth in free text, the date itself.
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

/// Separators inside a written date: ASCII ones and the dashes NFKC leaves alone.
const DATE_SEPARATOR: &str = r"[/.\-\x{2010}-\x{2015}\x{2212}]";

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// A written date: dd/mm/yyyy (also with - . and 2-digit years), yyyy-mm-dd, 1 Feb 1940,
/// February 1, 1940. Day and month ranges are checked in code (`plausible_date`).
fn date_pattern() -> String {
    let s = DATE_SEPARATOR;
    format!(
        r"(?P<date>[0-9]{{4}}{s}[0-9]{{1,2}}{s}[0-9]{{1,2}}|[0-9]{{1,2}} ?{s} ?[0-9]{{1,2}} ?{s} ?(?:[0-9]{{4}}|[0-9]{{2}})|[0-9]{{1,2}}(?:st|nd|rd|th)? ?(?:of )?{MONTH}\.?,? ?(?:[0-9]{{4}}|[0-9]{{2}})|{MONTH}\.? [0-9]{{1,2}}(?:st|nd|rd|th)?,? (?:[0-9]{{4}}|[0-9]{{2}}))(?:$|[^0-9])"
    )
}

/// "DOB", "D.O.B.", "date of birth", "birth date", "born", as whole words.
const BIRTH_KEY: &str = r"\b(?:d ?\.? ?o ?\.? ?b\b\.?|date\s+of\s+birth|birth ?date|born|birthday)";

/// Key, then at most three short words ("born in London on"), then a date.
static DOB_AFTER_KEY: LazyLock<Regex> = LazyLock::new(|| {
    let gap = r"[\s:;=,()\[\]\-\x{2010}-\x{2015}]";
    Regex::new(&format!(
        r"(?i){BIRTH_KEY}{gap}*(?:[a-z]{{1,12}}{gap}+){{0,3}}{}",
        date_pattern()
    ))
    .unwrap()
});

/// A date, then the key with only punctuation between: "01/02/1940 (DOB)".
static DOB_BEFORE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = date_pattern();
    // The date's trailing boundary is part of the gap here.
    let pattern = pattern.trim_end_matches("(?:$|[^0-9])");
    Regex::new(&format!(
        r"(?i)(?:^|[^0-9]){pattern}[\s:;,()\[\]\-]*{BIRTH_KEY}"
    ))
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

/// Text derived from a source text, with the source byte range each of its bytes came from.
/// Borrowed means identical to the source (no map needed, nothing allocated).
struct Derived<'a> {
    text: Cow<'a, str>,
    /// For each byte of an owned `text`: the byte range in the source it stands for.
    source: Vec<(usize, usize)>,
}

impl<'a> Derived<'a> {
    fn same(text: &'a str) -> Self {
        Derived {
            text: Cow::Borrowed(text),
            source: Vec::new(),
        }
    }

    fn is_same(&self) -> bool {
        matches!(self.text, Cow::Borrowed(_))
    }

    /// The source range of `start..end` (end > start) of this text.
    fn to_source(&self, start: usize, end: usize) -> (usize, usize) {
        if self.is_same() {
            (start, end)
        } else {
            (self.source[start].0, self.source[end - 1].1)
        }
    }

    fn push(&mut self, c: char, from: (usize, usize)) {
        if let Cow::Owned(text) = &mut self.text {
            text.push(c);
            self.source.extend(std::iter::repeat_n(from, c.len_utf8()));
        }
    }

    fn owned(capacity: usize) -> Self {
        Derived {
            text: Cow::Owned(String::with_capacity(capacity)),
            source: Vec::with_capacity(capacity),
        }
    }
}

/// Characters that render as nothing: category Cf (zero-width space and joiners, word joiner,
/// soft hyphen, BOM, bidi controls, ...) and the few invisible ones outside it (combining
/// grapheme joiner, variation selectors, Hangul fillers, Mongolian selectors). They can sit
/// between any two digits without a reader seeing them.
fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    ) || get_general_category(c) == GeneralCategory::Format
}

/// A decimal digit of another script (Arabic-Indic, Devanagari, ...) as its ASCII digit. NFKC
/// already folds full-width and mathematical digits; these it leaves. Unicode encodes every
/// decimal digit in runs 0-9 in order, so the value is the distance from the run's start.
fn other_script_digit(c: char) -> Option<char> {
    if c.is_ascii() || get_general_category(c) != GeneralCategory::DecimalNumber {
        return None;
    }
    let code = c as u32;
    let mut start = code;
    // Adjacent runs exist (each still starting at 0), so mod 10 below; 60 bounds the walk.
    while code - start < 60
        && start > 0
        && char::from_u32(start - 1)
            .is_some_and(|p| get_general_category(p) == GeneralCategory::DecimalNumber)
    {
        start -= 1;
    }
    char::from_digit((code - start) % 10, 10)
}

/// NFKC, invisible characters removed, other scripts' digits as ASCII. Text that needs none
/// of it is returned as it is, without allocating. (`find_in_text` calls this only for text
/// with non-ASCII characters: ASCII text never needs it.)
///
/// Normalised one segment at a time (a starter and the combining marks after it), so that
/// each output byte knows the original characters it came from. That differs from NFKC of
/// the whole only where two starters compose (Hangul jamo, a few Indic vowel signs), which no
/// identifier pattern involves.
fn normalise(text: &str) -> Derived<'_> {
    let needs_work = is_nfkc_quick(text.chars()) != IsNormalized::Yes
        || text
            .chars()
            .any(|c| is_invisible(c) || other_script_digit(c).is_some());
    if !needs_work {
        return Derived::same(text);
    }
    let mut out = Derived::owned(text.len());
    let mut segment_start = 0;
    let flush = |out: &mut Derived<'_>, start: usize, end: usize| {
        if start == end {
            return;
        }
        let from = (start, end);
        let visible = text[start..end].chars().filter(|c| !is_invisible(*c));
        for c in visible.nfkc() {
            if is_invisible(c) {
                continue;
            }
            out.push(other_script_digit(c).unwrap_or(c), from);
        }
    };
    for (index, c) in text.char_indices() {
        if index > segment_start && canonical_combining_class(c) == 0 {
            flush(&mut out, segment_start, index);
            segment_start = index;
        }
    }
    flush(&mut out, segment_start, text.len());
    out
}

/// Whether `c` may stand between two digit groups of one number: spaces of every width,
/// hyphens, dashes and minus, dots, slashes. (NFKC has already turned no-break, thin and
/// full-width spaces into ' ', full-width '.', '/' and '-' into ASCII.)
fn is_separator(c: char) -> bool {
    const OTHERS: &[char] = &[
        '-', '.', '/', '\u{2212}', '\u{00B7}', '\u{2027}', '\u{2219}', '\u{22C5}', '\u{2044}',
        '\u{2215}',
    ];
    c.is_whitespace() || ('\u{2010}'..='\u{2015}').contains(&c) || OTHERS.contains(&c)
}

/// What to do with a separator run between digits (or a digit and a bracket).
#[derive(PartialEq)]
enum Joint {
    /// A single space or hyphen: the form the patterns already read.
    Keep,
    /// A decimal point: one '.' with no other joint beyond the digit groups on either side
    /// ("3.14", "12.5, 13.25"; not "1.2.0" or "943.476-5919").
    Decimal,
    /// Anything else: read as one space.
    Collapse,
}

fn joint(text: &str, start: usize, end: usize) -> Joint {
    let bytes = text.as_bytes();
    match &text[start..end] {
        " " | "-" => Joint::Keep,
        "." => {
            let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
            if !(start > 0 && digit(start - 1) && digit(end)) {
                return Joint::Collapse;
            }
            // Another joint beyond the digit group on the left, or beyond the one on the
            // right, makes this dot a separator (1.2.0, 943.476.5919, 943.476-5919); alone
            // it is a decimal point (12.5, 3.9434765919).
            let mut left = start;
            while left > 0 && digit(left - 1) {
                left -= 1;
            }
            let mut right = end;
            while digit(right) {
                right += 1;
            }
            if joined_before(text, left) || joined_after(text, right) {
                Joint::Collapse
            } else {
                Joint::Decimal
            }
        }
        _ => Joint::Collapse,
    }
}

/// Whether a separator run ends at `index` with a digit before it.
fn joined_before(text: &str, index: usize) -> bool {
    let mut chars = text[..index].chars().rev().peekable();
    let mut run = 0;
    while chars.peek().is_some_and(|c| is_separator(*c)) {
        chars.next();
        run += 1;
    }
    run > 0 && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// Whether a separator run starts at `index` with a digit after it.
fn joined_after(text: &str, index: usize) -> bool {
    let mut chars = text[index..].chars().peekable();
    let mut run = 0;
    while chars.peek().is_some_and(|c| is_separator(*c)) {
        chars.next();
        run += 1;
    }
    run > 0 && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// Calls `each(start, end)` for every separator run that lies between a digit or ')' and a
/// digit or '('.
fn for_each_joint(text: &str, mut each: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    // Byte tests first: most digits are followed by no separator at all.
    let may_start_run = |b: u8| matches!(b, 0x09..=0x0D | b' ' | b'-' | b'.' | b'/') || b >= 0x80;
    let mut index = 1;
    while index < bytes.len() {
        let previous = bytes[index - 1];
        if !(may_start_run(bytes[index]) && (previous.is_ascii_digit() || previous == b')')) {
            index += 1;
            continue;
        }
        let start = index;
        let mut end = start;
        for c in text[start..].chars() {
            if !is_separator(c) {
                break;
            }
            end += c.len_utf8();
        }
        if end > start
            && bytes
                .get(end)
                .is_some_and(|b| b.is_ascii_digit() || *b == b'(')
        {
            each(start, end);
        }
        index = end.max(start + 1);
    }
}

/// The text with each separator run between digit groups read as one space (decimal points
/// and single spaces or hyphens kept). Returned as it is when nothing needs collapsing, which
/// is every line of the metrics files.
fn collapse_separators(text: &str) -> Derived<'_> {
    let mut needed = false;
    for_each_joint(text, |start, end| {
        needed = needed || joint(text, start, end) == Joint::Collapse;
    });
    if !needed {
        return Derived::same(text);
    }
    let mut runs = Vec::new();
    for_each_joint(text, |start, end| {
        if joint(text, start, end) == Joint::Collapse {
            runs.push((start, end));
        }
    });
    let mut out = Derived::owned(text.len());
    let mut runs = runs.into_iter().peekable();
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if let Some(&(start, end)) = runs.peek()
            && start == index
        {
            out.push(' ', (start, end));
            runs.next();
            while chars.peek().is_some_and(|(i, _)| *i < end) {
                chars.next();
            }
            continue;
        }
        out.push(c, (index, index + c.len_utf8()));
    }
    out
}

/// The text as a reader sees it (normalised) and as the digit patterns read it (separator
/// runs collapsed), with the way back to the original.
struct Views<'a> {
    normal: &'a Derived<'a>,
    collapsed: Derived<'a>,
}

impl Views<'_> {
    /// Original range of `start..end` of the normalised text.
    fn original_of_normal(&self, start: usize, end: usize) -> (usize, usize) {
        self.normal.to_source(start, end)
    }

    /// Original range of `start..end` of the collapsed text.
    fn original_of_collapsed(&self, start: usize, end: usize) -> (usize, usize) {
        let (start, end) = self.collapsed.to_source(start, end);
        self.original_of_normal(start, end)
    }

    /// Whether byte `index` of the collapsed text is a space that stands for a separator run
    /// (rather than a space that was there).
    fn is_collapsed_space(&self, index: usize) -> bool {
        if self.collapsed.is_same() {
            return false;
        }
        let (start, end) = self.collapsed.source[index];
        self.collapsed.text.as_bytes()[index] == b' ' && &self.normal.text[start..end] != " "
    }

    /// Whether a match at `start..end` of the collapsed text continues, through a collapsed
    /// separator, into more digits: then it is part of a longer number, not a number.
    fn inside_longer_number(&self, start: usize, end: usize) -> bool {
        let bytes = self.collapsed.text.as_bytes();
        let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
        (start >= 2 && self.is_collapsed_space(start - 1) && digit(start - 2))
            || (end + 1 < bytes.len() && self.is_collapsed_space(end) && digit(end + 1))
    }

    /// The separator between two digit groups of the collapsed text, as written (normalised).
    fn joint_text(&self, index: usize) -> &str {
        if self.collapsed.is_same() {
            &self.normal.text[index..index + 1]
        } else {
            let (start, end) = self.collapsed.source[index];
            &self.normal.text[start..end]
        }
    }
}

fn overlaps(found: &[Found], start: usize, end: usize) -> bool {
    found.iter().any(|f| f.start < end && start < f.end)
}

/// Where digit groups are joined: what `find_in_text` needs beyond what the patterns see.
#[derive(Debug, Default, PartialEq)]
struct Joints {
    /// A separator run between a digit or ')' and a digit or '(' that is not a single ' ' or
    /// '-': `collapse_separators` must look closely (it may still be a decimal point).
    odd: bool,
    /// Digit, single ' ' or '-', digit: how many, and where the last one's separator is.
    count: usize,
    last: usize,
}

impl Joints {
    fn see(&mut self, text: &str, start: usize, end: usize) {
        let bytes = text.as_bytes();
        let plain = end == start + 1 && matches!(bytes[start], b' ' | b'-');
        if !plain {
            self.odd = true;
        } else if bytes[start - 1].is_ascii_digit() && bytes[end].is_ascii_digit() {
            self.count += 1;
            self.last = start;
        }
    }
}

/// The number of ASCII digits in `text`, and its joints when there are at least 9 digits
/// (fewer can hold no NHS or phone number): word at a time for ASCII text (every metrics
/// line), else through `for_each_joint`.
fn digits_and_joints(text: &str, ascii: bool) -> (usize, Joints) {
    if ascii {
        let (digits, joints) = scan_ascii(text);
        (
            digits,
            if digits >= 9 {
                joints
            } else {
                Joints::default()
            },
        )
    } else {
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        let joints = if digits >= 9 {
            joints_scalar(text)
        } else {
            Joints::default()
        };
        (digits, joints)
    }
}

/// The reference: every joint `for_each_joint` reports.
fn joints_scalar(text: &str) -> Joints {
    let mut joints = Joints::default();
    for_each_joint(text, |start, end| joints.see(text, start, end));
    joints
}

/// The digit count and `joints_scalar` for ASCII text. This runs on every line of every
/// record file, most of them metrics lines where one byte in sixty is a separator; a byte
/// loop (or classifying every byte word-at-a-time) cost more than the whole budget for this
/// module's new checks. So digits and separators are found eight bytes at a time (each
/// byte's answer in its top bit, SWAR), and only the few separators found are looked at one
/// by one. Counting digits here too pays for most of it: the old count was a pass of its own.
fn scan_ascii(text: &str) -> (usize, Joints) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW: u64 = !HIGH;
    // Top bit set in each byte equal to `c`. Exact: no carries cross bytes.
    let eq = |x: u64, c: u8| {
        let y = x ^ (ONES * u64::from(c));
        !(((y & LOW) + LOW) | y | LOW)
    };
    // Top bit set in each byte >= `c`, for bytes below 0x80 (so no carries) and c <= 0x80.
    let at_least = |x: u64, c: u8| (x + ONES * u64::from(0x80 - c)) & HIGH;
    // The ASCII separators of `is_separator`: '\t'..='\r', ' ', '-', '.', '/'.
    let separators = |x: u64| {
        (at_least(x, 0x09) & !at_least(x, 0x0E))
            | eq(x, b' ')
            | (at_least(x, b'-') & !at_least(x, b'/' + 1))
    };
    let is_separator = |b: u8| matches!(b, 0x09..=0x0D | b' ' | b'-' | b'.' | b'/');
    let bytes = text.as_bytes();
    let mut joints = Joints::default();
    let mut look = |position: usize| {
        // Only a run's first byte, after a digit or ')'.
        if position == 0 || is_separator(bytes[position - 1]) {
            return;
        }
        if !(bytes[position - 1].is_ascii_digit() || bytes[position - 1] == b')') {
            return;
        }
        let mut end = position;
        while end < bytes.len() && is_separator(bytes[end]) {
            end += 1;
        }
        if end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'(') {
            joints.see(text, position, end);
        }
    };
    let chunks = bytes.chunks_exact(8);
    let remainder = chunks.remainder();
    let mut offset = 0;
    let mut digits = 0;
    // Digits and ')' of the previous word, for the byte before each word's first.
    let mut last_digitish = 0u64;
    for chunk in chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
        digits += digit.count_ones() as usize;
        let digitish = digit | eq(x, b')');
        // Only separators right after a digit or ')' can start a joint; in prose, where
        // every other byte is a space, that leaves few to look at.
        let mut found = separators(x) & ((digitish << 8) | (last_digitish >> 56));
        while found != 0 {
            look(offset + found.trailing_zeros() as usize / 8);
            found &= found - 1;
        }
        last_digitish = digitish;
        offset += 8;
    }
    for (index, &byte) in remainder.iter().enumerate() {
        digits += usize::from(byte.is_ascii_digit());
        if is_separator(byte) {
            look(offset + index);
        }
    }
    (digits, joints)
}

/// Runs of 2 to 4 groups of 2+ digits, 10 digits in all, joined by single ' ' or '-' (the
/// candidates `check_grouped_nhs_number` looks at). Rare, so this allocates only when one is
/// seen; a line with one joint (every metrics line: its month) is settled around that joint.
fn ten_digit_runs(text: &str, joints: &Joints) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut runs = Vec::new();
    if joints.count == 0 {
        return runs;
    }
    if joints.count == 1 {
        let joint = joints.last;
        let mut start = joint;
        while start > 0 && digit(start - 1) {
            start -= 1;
        }
        let mut end = joint + 1;
        while digit(end) {
            end += 1;
        }
        let (left, right) = (joint - start, end - joint - 1);
        if left + right == 10 && left >= 2 && right >= 2 {
            runs.push((start, end));
        }
        return runs;
    }
    let (mut run_start, mut run_digits, mut groups, mut short) = (0, 0, 0, false);
    let mut run_end = 0;
    let mut index = 0;
    loop {
        while index < bytes.len() && !digit(index) {
            index += 1;
        }
        if index >= bytes.len() {
            break;
        }
        let start = index;
        while digit(index) {
            index += 1;
        }
        let length = index - start;
        let continues =
            run_digits > 0 && start == run_end + 1 && matches!(bytes[run_end], b' ' | b'-');
        if !continues {
            if run_digits == 10 && (2..=4).contains(&groups) && !short {
                runs.push((run_start, run_end));
            }
            (run_start, run_digits, groups, short) = (start, 0, 0, false);
        }
        run_digits += length;
        groups += 1;
        short |= length < 2;
        run_end = index;
    }
    if run_digits == 10 && (2..=4).contains(&groups) && !short {
        runs.push((run_start, run_end));
    }
    runs
}

/// Every identifier in `text`, in order of position.
pub fn find_in_text(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    // One ASCII test for both steps: the common line is ASCII and needs neither copy.
    let ascii = text.is_ascii();
    let normal = if ascii {
        Derived::same(text)
    } else {
        normalise(text)
    };
    let n: &str = &normal.text;
    let (digit_count, joints) = digits_and_joints(n, ascii || n.is_ascii());
    let has_at = n.contains('@');
    if digit_count == 0 && !has_at {
        return found;
    }
    let views = Views {
        normal: &normal,
        collapsed: if joints.odd {
            collapse_separators(n)
        } else {
            Derived::same(n)
        },
    };
    if has_at {
        for m in EMAIL.find_iter(n) {
            let (start, end) = views.original_of_normal(m.start(), m.end());
            found.push(Found {
                kind: IdentifierKind::Email,
                start,
                end,
            });
        }
    }
    if digit_count >= 10 {
        find_nhs_numbers(&views, &mut found);
        // The runs of the collapsed text: from the joints already found, unless collapsing
        // changed the text.
        let runs = if views.collapsed.is_same() {
            ten_digit_runs(n, &joints)
        } else {
            let collapsed: &str = &views.collapsed.text;
            ten_digit_runs(collapsed, &joints_scalar(collapsed))
        };
        for (start, end) in runs {
            check_grouped_nhs_number(&views, start, end, &mut found);
        }
    }
    if digit_count >= 9 {
        find_phone_numbers(&views, &mut found);
    }
    if digit_count >= 1 && n.bytes().any(|b| b.is_ascii_alphabetic()) {
        // Upper-casing ASCII keeps byte offsets; other characters are left as they are.
        let upper = n.to_ascii_uppercase();
        for captures in POSTCODE.captures_iter(&upper) {
            let m = captures.get(1).expect("group 1 always takes part");
            let (start, end) = views.original_of_normal(m.start(), m.end());
            if !overlaps(&found, start, end) {
                found.push(Found {
                    kind: IdentifierKind::Postcode,
                    start,
                    end,
                });
            }
        }
        if digit_count >= 4 && may_hold_birth_key(&upper) {
            find_dates_of_birth(&views, &mut found);
        }
    }
    found.sort_by_key(|f| f.start);
    found
}

fn find_nhs_numbers(views: &Views<'_>, found: &mut Vec<Found>) {
    let n: &str = &views.normal.text;
    let c: &str = &views.collapsed.text;
    // The patterns on the normalised text as before, and on the collapsed text (where a
    // collapsed separator must not join the match to more digits).
    let texts: &[&str] = if views.collapsed.is_same() {
        &[n]
    } else {
        &[n, c]
    };
    for (pass, text) in texts.iter().enumerate() {
        for captures in NHS_NUMBER.captures_iter(text) {
            let m = captures.get(1).expect("group 1 always takes part");
            if pass == 1 && views.inside_longer_number(m.start(), m.end()) {
                continue;
            }
            let separators: Vec<char> =
                m.as_str().chars().filter(|c| !c.is_ascii_digit()).collect();
            // Either no separators or the same one in both places (3-3-4).
            let consistent =
                separators.is_empty() || (separators.len() == 2 && separators[0] == separators[1]);
            if !(consistent && is_valid_nhs_number(m.as_str())) {
                continue;
            }
            let (start, end) = if pass == 0 {
                views.original_of_normal(m.start(), m.end())
            } else {
                views.original_of_collapsed(m.start(), m.end())
            };
            if !overlaps(found, start, end) {
                found.push(Found {
                    kind: IdentifierKind::NhsNumber,
                    start,
                    end,
                });
            }
        }
    }
}

/// A run `start..end` of the collapsed text that `ten_digit_runs` found: 10 digits in 2 to 4 groups of
/// at least 2 digits, joined by single spaces or hyphens there (so by any separators in the
/// original): 943 4765 919, 94 3476 5919, 943-476 5919. The whole run of joined digits must
/// be those 10, so a date range, a list of counts or a longer number never yields one. Also
/// skipped: a run that holds a date ("01/02/2024 10:30" is 10 digits), one beside a decimal
/// point, and one with a decimal-looking dot unless laid out 3-3-4.
fn check_grouped_nhs_number(views: &Views<'_>, start: usize, end: usize, found: &mut Vec<Found>) {
    let text: &str = &views.collapsed.text;
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let groups: Vec<(usize, usize)> = text[start..end]
        .split([' ', '-'])
        .scan(start, |at, group| {
            let range = (*at, *at + group.len());
            *at += group.len() + 1;
            Some(range)
        })
        .collect();
    let after_decimal = start >= 2 && bytes[start - 1] == b'.' && digit(start - 2);
    let before_decimal = bytes.get(end) == Some(&b'.') && digit(end + 1);
    if after_decimal
        || before_decimal
        || holds_date(views, &groups)
        || (has_lone_dot(views, &groups) && !is_3_3_4(&groups))
    {
        return;
    }
    if is_valid_nhs_number(&text[start..end]) {
        let (start, end) = views.original_of_collapsed(start, end);
        if !overlaps(found, start, end) {
            found.push(Found {
                kind: IdentifierKind::NhsNumber,
                start,
                end,
            });
        }
    }
}

/// Whether a joint of the run was a lone '.', as in decimals ("123.45 678.90").
fn has_lone_dot(views: &Views<'_>, groups: &[(usize, usize)]) -> bool {
    groups[..groups.len() - 1]
        .iter()
        .any(|g| views.joint_text(g.1) == ".")
}

/// The standard NHS number layout; the only one accepted when a dot could be a decimal point.
fn is_3_3_4(groups: &[(usize, usize)]) -> bool {
    groups.len() == 3
        && groups[0].1 - groups[0].0 == 3
        && groups[1].1 - groups[1].0 == 3
        && groups[2].1 - groups[2].0 == 4
}

/// Whether three consecutive groups form a date: d/m/y or y-m-d with the same date separator
/// twice and a plausible day and month.
fn holds_date(views: &Views<'_>, groups: &[(usize, usize)]) -> bool {
    let text: &str = &views.collapsed.text;
    let value = |g: (usize, usize)| text[g.0..g.1].parse::<u32>().unwrap_or(0);
    let len = |g: (usize, usize)| g.1 - g.0;
    let date_joint = |after: (usize, usize)| {
        let joint = views.joint_text(after.1).trim();
        let mut chars = joint.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => matches!(c, '/' | '.' | '-' | '\u{2010}'..='\u{2015}' | '\u{2212}'),
            _ => false,
        }
    };
    groups.windows(3).any(|w| {
        let (a, b, c) = (w[0], w[1], w[2]);
        if !(date_joint(a)
            && date_joint(b)
            && views.joint_text(a.1).trim() == views.joint_text(b.1).trim())
        {
            return false;
        }
        let day_month = |d: u32, m: u32| (1..=31).contains(&d) && (1..=12).contains(&m);
        let dmy = len(a) <= 2
            && len(b) <= 2
            && matches!(len(c), 2 | 4)
            && (day_month(value(a), value(b)) || day_month(value(b), value(a)));
        let ymd = len(a) == 4 && len(b) <= 2 && len(c) <= 2 && day_month(value(c), value(b));
        dmy || ymd
    })
}

fn find_phone_numbers(views: &Views<'_>, found: &mut Vec<Found>) {
    let n: &str = &views.normal.text;
    let c: &str = &views.collapsed.text;
    let texts: &[&str] = if views.collapsed.is_same() {
        &[n]
    } else {
        &[n, c]
    };
    for (pass, text) in texts.iter().enumerate() {
        for captures in PHONE.captures_iter(text) {
            let m = captures.get(1).expect("group 1 always takes part");
            let national = phone_digits(m.as_str());
            if !(10..=11).contains(&national) {
                continue;
            }
            if pass == 1 && views.inside_longer_number(m.start(), m.end()) {
                continue;
            }
            let (start, end) = if pass == 0 {
                views.original_of_normal(m.start(), m.end())
            } else {
                views.original_of_collapsed(m.start(), m.end())
            };
            if !overlaps(found, start, end) {
                found.push(Found {
                    kind: IdentifierKind::PhoneNumber,
                    start,
                    end,
                });
            }
        }
    }
}

/// Whether the upper-cased text has something like a birth key, before the date-of-birth
/// patterns (which cost as much as all the others) are run. Every key has a 'B', found by
/// memchr: metrics lines have none, and prose has few. Looser than `BIRTH_KEY`, never tighter.
fn may_hold_birth_key(upper: &str) -> bool {
    upper.match_indices('B').any(|(index, _)| {
        let after = &upper[index..];
        if after.starts_with("BIRTH") || after.starts_with("BORN") {
            return true;
        }
        // D.O.B, D O B, DOB: an O and then a D before, with dots and spaces between.
        let before = upper[..index].trim_end_matches([' ', '.']);
        before
            .strip_suffix('O')
            .is_some_and(|b| b.trim_end_matches([' ', '.']).ends_with('D'))
    })
}

/// A date next to a birth key, in the normalised text (date separators are read there as
/// written: collapsing them would hide the date's shape).
fn find_dates_of_birth(views: &Views<'_>, found: &mut Vec<Found>) {
    let n: &str = &views.normal.text;
    for pattern in [&*DOB_AFTER_KEY, &*DOB_BEFORE_KEY] {
        for captures in pattern.captures_iter(n) {
            let m = captures.name("date").expect("the date always takes part");
            if !plausible_date(m.as_str()) {
                continue;
            }
            let (start, end) = views.original_of_normal(m.start(), m.end());
            if !overlaps(found, start, end) {
                found.push(Found {
                    kind: IdentifierKind::DateOfBirth,
                    start,
                    end,
                });
            }
        }
    }
}

/// Day 1-31 and month 1-12 (either order, for US dates) in a numeric date; any date written
/// with a month name.
fn plausible_date(date: &str) -> bool {
    let mut numbers = date
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| (s.len(), s.parse::<u32>().unwrap_or(0)));
    let (Some(a), Some(b), Some(c)) = (numbers.next(), numbers.next(), numbers.next()) else {
        return true;
    };
    let day_month = |d: u32, m: u32| (1..=31).contains(&d) && (1..=12).contains(&m);
    if a.0 == 4 {
        day_month(c.1, b.1)
    } else {
        day_month(a.1, b.1) || day_month(b.1, a.1)
    }
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

    use IdentifierKind::{DateOfBirth, Email, NhsNumber, PhoneNumber, Postcode};

    /// Found, with what the reported span must cover in the ORIGINAL text. 943 476 5919 and
    /// 654 100 3238 pass the modulus 11 check.
    const CAUGHT: &[(&str, IdentifierKind, &str)] = &[
        // NHS numbers behind separators, invisible characters and other digits.
        ("943.476.5919", NhsNumber, "943.476.5919"),
        ("nhs no: 654.100.3238.", NhsNumber, "654.100.3238"),
        (
            "943\u{200B}476\u{200B}5919",
            NhsNumber,
            "943\u{200B}476\u{200B}5919",
        ),
        (
            "no. 943\u{200B} 476 \u{200C}5919 seen",
            NhsNumber,
            "943\u{200B} 476 \u{200C}5919",
        ),
        (
            "943\u{200D}476\u{2060}5919",
            NhsNumber,
            "943\u{200D}476\u{2060}5919",
        ),
        (
            "943\u{00AD}476\u{00AD}5919",
            NhsNumber,
            "943\u{00AD}476\u{00AD}5919",
        ),
        ("943\u{FEFF}4765919", NhsNumber, "943\u{FEFF}4765919"),
        ("\u{202A}943 476 5919\u{202C}", NhsNumber, "943 476 5919"),
        (
            "943\u{2066}476\u{2069}5919\u{200E}",
            NhsNumber,
            "943\u{2066}476\u{2069}5919",
        ),
        (
            "\u{FF19}\u{FF14}\u{FF13}\u{FF14}\u{FF17}\u{FF16}\u{FF15}\u{FF19}\u{FF11}\u{FF19}",
            NhsNumber,
            "９４３４７６５９１９",
        ),
        (
            "NHS ９４３ ４７６ ５９１９.",
            NhsNumber,
            "９４３ ４７６ ５９１９",
        ),
        (
            "943\u{00A0}476\u{00A0}5919",
            NhsNumber,
            "943\u{00A0}476\u{00A0}5919",
        ),
        (
            "943\u{202F}476\u{2009}5919",
            NhsNumber,
            "943\u{202F}476\u{2009}5919",
        ),
        ("943\u{2013}476\u{2013}5919", NhsNumber, "943–476–5919"),
        ("943\u{2014}476\u{2212}5919", NhsNumber, "943—476−5919"),
        (
            "943\u{2011}476\u{2010}5919",
            NhsNumber,
            "943\u{2011}476\u{2010}5919",
        ),
        ("943/476/5919", NhsNumber, "943/476/5919"),
        ("943 / 476 / 5919", NhsNumber, "943 / 476 / 5919"),
        ("943 - 476 - 5919", NhsNumber, "943 - 476 - 5919"),
        ("943  476  5919", NhsNumber, "943  476  5919"),
        ("943.476-5919", NhsNumber, "943.476-5919"),
        ("943 476-5919", NhsNumber, "943 476-5919"),
        ("943.476 5919", NhsNumber, "943.476 5919"),
        ("9434 765 919", NhsNumber, "9434 765 919"),
        ("94 3476 5919", NhsNumber, "94 3476 5919"),
        ("94347 65919", NhsNumber, "94347 65919"),
        (
            "９４３.476\u{200B}/ 5919",
            NhsNumber,
            "９４３.476\u{200B}/ 5919",
        ),
        ("é ٩٤٣ ٤٧٦ ٥٩١٩", NhsNumber, "٩٤٣ ٤٧٦ ٥٩١٩"),
        // Phone numbers, the same tricks.
        ("020.7946.0958", PhoneNumber, "020.7946.0958"),
        (
            "020\u{200B}7946\u{200B}0958",
            PhoneNumber,
            "020\u{200B}7946\u{200B}0958",
        ),
        (
            "tel ０２０ ７９４６ ０９５８",
            PhoneNumber,
            "０２０ ７９４６ ０９５８",
        ),
        (
            "020\u{00A0}7946\u{00A0}0958",
            PhoneNumber,
            "020\u{00A0}7946\u{00A0}0958",
        ),
        ("020\u{2013}7946\u{2013}0958", PhoneNumber, "020–7946–0958"),
        ("020/7946/0958", PhoneNumber, "020/7946/0958"),
        ("020.7946-0958", PhoneNumber, "020.7946-0958"),
        (
            "0161 \u{2013} 496 \u{2013} 0000",
            PhoneNumber,
            "0161 – 496 – 0000",
        ),
        ("07700\u{2009}900123", PhoneNumber, "07700\u{2009}900123"),
        (
            "+44\u{00A0}20\u{00A0}7946\u{00A0}0958",
            PhoneNumber,
            "+44\u{00A0}20\u{00A0}7946\u{00A0}0958",
        ),
        (
            "＋４４ ２０ ７９４６ ０９５８",
            PhoneNumber,
            "＋４４ ２０ ７９４６ ０９５８",
        ),
        (
            "(020)\u{2013}7946\u{2013}0958",
            PhoneNumber,
            "(020)–7946–0958",
        ),
        (
            "call 020 7946\u{200B}0958 today",
            PhoneNumber,
            "020 7946\u{200B}0958",
        ),
        // Postcodes and emails.
        ("ＳＷ１Ａ １ＡＡ", Postcode, "ＳＷ１Ａ １ＡＡ"),
        (
            "lives at SW1A\u{200B} 1AA now",
            Postcode,
            "SW1A\u{200B} 1AA",
        ),
        ("SW1A\u{00A0}1AA", Postcode, "SW1A\u{00A0}1AA"),
        ("s\u{200B}w1a 1aa", Postcode, "s\u{200B}w1a 1aa"),
        ("E1\u{2060} 6AN", Postcode, "E1\u{2060} 6AN"),
        (
            "write to jane.doe\u{200B}@example.org",
            Email,
            "jane.doe\u{200B}@example.org",
        ),
        (
            "jane\u{200D}.doe@exa\u{200B}mple.org",
            Email,
            "jane\u{200D}.doe@exa\u{200B}mple.org",
        ),
        ("jane.doe＠example.org", Email, "jane.doe＠example.org"),
        // Dates of birth in free text: the date is reported.
        ("DOB 01/02/1940", DateOfBirth, "01/02/1940"),
        ("dob: 01/02/1940", DateOfBirth, "01/02/1940"),
        ("D.O.B.: 1 Feb 1940", DateOfBirth, "1 Feb 1940"),
        ("D.O.B 01-02-1940", DateOfBirth, "01-02-1940"),
        ("date of birth 1940-02-01", DateOfBirth, "1940-02-01"),
        (
            "Date of Birth: 1st February 1940",
            DateOfBirth,
            "1st February 1940",
        ),
        ("birth date 1/2/1940", DateOfBirth, "1/2/1940"),
        ("born 01.02.40", DateOfBirth, "01.02.40"),
        (
            "Born in London on 1 February 1940.",
            DateOfBirth,
            "1 February 1940",
        ),
        ("born February 1, 1940", DateOfBirth, "February 1, 1940"),
        ("01/02/1940 (DOB)", DateOfBirth, "01/02/1940"),
        (
            "DOB\u{FF1A}\u{FF10}\u{FF11}/\u{FF10}\u{FF12}/\u{FF11}\u{FF19}\u{FF14}\u{FF10}",
            DateOfBirth,
            "０１/０２/１９４０",
        ),
        ("DOB 01\u{2013}02\u{2013}1940", DateOfBirth, "01–02–1940"),
        ("d.o.b 12/25/1940", DateOfBirth, "12/25/1940"),
    ];

    /// Must stay clean: what records really hold.
    const CLEAN: &[&str] = &[
        "review date 01/02/2024",
        "Review date: 1 Feb 2024",
        "date of death 01/02/2024",
        "next review 01/02/2024 10:30",
        "review 2024-02-01 09:15",
        "450476008",
        "1108131000000107",
        "763264000",
        "SNOMED CT 450476008 | Resuscitation status |",
        "codes 716186003 304251008 735324008",
        "1.2.0",
        "version: \"1.0.3\"",
        "v2.10.1 and 3.4.5.6",
        "1,234,567",
        "330000",
        "330 000",
        "population 1,234,567 (2021)",
        "2021-04",
        "2021-04-01",
        "E09000001",
        "E09000001 E09000002",
        "01/04/2021 - 31/03/2022",
        "2021-04-01 to 2022-03-31",
        "01.04.2021\u{2013}31.03.2022",
        "2016-2022",
        "2021/22",
        "Q1 2023/24",
        "1/020/7946/0958/2",
        "99.020.7946.0958",
        "4402079460958123",
        "3.9434765919",
        "943476.5919",
        "0.83 0.91 1.203",
        "rate 12.5 per 1,000",
        "12.34 56.78 90.12",
        "costs 123.45 678.90",
        "1234.56 7890",
        "10 20 30 40 50",
        "0000000000",
        "000 000 0000",
        "0000\u{00A0}000\u{00A0}000",
        "2023-03,E09000001,all,1250,40,30,45,20,15,80,35,25,1150,950",
        "2022-07,E12000007,children-and-young-people,3925,60,85,95,65,65,210,15,10,3460,3320",
        "born in 1940",
        "newborn checks due 01/02/2024",
        "dobutamine 01/02/2024",
        "ＮＨＳ １１１",
        "\u{200B}\u{200B}",
        "SE1\u{200B}",
        "v1.2.3-rc.4",
        "09:00-17:00",
        "Section 4.2.1.3 paragraph 5",
        "sort code 20-00-00",
        "ISBN 978-0-306-40615-7",
        "\u{00A3}1,234.56",
        "2019/20 to 2022/23",
        "100-200 300-400",
        "1 000 000 000 plans",
    ];

    #[test]
    fn catches_identifiers_behind_unicode_and_separator_tricks() {
        for (text, kind, covers) in CAUGHT {
            let found = find_in_text(text);
            assert_eq!(
                found.iter().map(|f| f.kind).collect::<Vec<_>>(),
                vec![*kind],
                "{text:?}: {found:?}"
            );
            let f = &found[0];
            assert!(
                text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
                "{text:?}: {f:?} is not on character boundaries"
            );
            assert_eq!(&text[f.start..f.end], *covers, "{text:?}: {f:?}");
        }
    }

    #[test]
    fn stays_clean_on_dates_codes_versions_counts_and_ranges() {
        for text in CLEAN {
            assert!(kinds(text).is_empty(), "{text:?}: {:?}", find_in_text(text));
        }
    }

    #[test]
    fn positions_are_in_the_original_text_after_wide_characters() {
        let text = "患者 ＮＨＳ：\u{200B}９４３ ４７６ ５９１９, tel ０２０–７９４６–０９５８, DOB ０１/０２/１９４０";
        let found = find_in_text(text);
        let spans: Vec<(IdentifierKind, &str)> = found
            .iter()
            .map(|f| (f.kind, &text[f.start..f.end]))
            .collect();
        assert_eq!(
            spans,
            vec![
                (NhsNumber, "９４３ ４７６ ５９１９"),
                (PhoneNumber, "０２０–７９４６–０９５８"),
                (DateOfBirth, "０１/０２/１９４０"),
            ]
        );
        // The column scan.rs derives (characters before the match, plus one).
        assert_eq!(text[..found[0].start].chars().count() + 1, 9);
    }

    #[test]
    fn ascii_lines_without_tricks_are_not_copied() {
        // The fast path: nothing to normalise or collapse, so both views borrow the line.
        let line = "2023-03,E09000001,all,1250,40,30,45,20,15,80,35,25,1150,950";
        let normal = normalise(line);
        assert!(normal.is_same());
        assert!(collapse_separators(&normal.text).is_same());
        assert!(normalise("é 日本").is_same());
        assert!(!normalise("a\u{200B}b").is_same());
        assert!(!collapse_separators("943.476.5919").is_same());
        assert!(collapse_separators("12.5, 13.25").is_same());
    }

    #[test]
    fn reports_what_the_projects_check_tests_expect() {
        // tests/check.rs in careplans: the same kinds at the same columns.
        let column = |text: &str, f: &Found| text[..f.start].chars().count() + 1;
        let text = "description: Example 943 476 5919. The general";
        let found = find_in_text(text);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].kind, column(text, &found[0])), (NhsNumber, 22));
        let text = "# contact jane.doe@example.org, 020 7946 0958, E1 6AN";
        let found: Vec<_> = find_in_text(text)
            .iter()
            .map(|f| (f.kind, column(text, f)))
            .collect();
        assert_eq!(found, vec![(Email, 11), (PhoneNumber, 33), (Postcode, 48)]);
        let text = "2021-02,E09000002,all,9434765919,40,30,45,20,15,80,35,25,1150,950";
        let found = find_in_text(text);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].kind, column(text, &found[0])), (NhsNumber, 23));
    }

    #[test]
    fn two_numbers_with_a_separator_between_are_both_found() {
        let text = "Tel: 020 7946 0958 / 0161 496 0000";
        let found = find_in_text(text);
        let spans: Vec<_> = found
            .iter()
            .map(|f| (f.kind, &text[f.start..f.end]))
            .collect();
        assert_eq!(
            spans,
            vec![
                (PhoneNumber, "020 7946 0958"),
                (PhoneNumber, "0161 496 0000")
            ]
        );
        let text = "NHS 943 476 5919 / 654 100 3238";
        assert_eq!(kinds(text), vec![NhsNumber, NhsNumber]);
    }

    #[test]
    fn separators_are_read_only_between_digits() {
        // A dash or dot next to a letter is not a joint; text stays as it is.
        assert!(kinds("ref-943476591 9").is_empty());
        assert!(kinds("a.b/c - d").is_empty());
        // An NHS number written beside a date is still found; the date is not part of it.
        assert_eq!(kinds("seen 01/02/2024: 943 476 5919"), vec![NhsNumber]);
    }

    #[test]
    fn never_panics_on_unusual_unicode() {
        for text in [
            "\u{0301}\u{0301}943",
            "e\u{0301}\u{200B}\u{0301} 943\u{0301} 476 5919",
            "\u{FDFA}\u{FB01}\u{2474}\u{00BD}",
            "\u{10FFFF}\u{E0001}\u{E007F}",
            &"\u{200B}9".repeat(10_000),
            &"９ ".repeat(10_000),
            &"1.".repeat(10_000),
            "\u{1D7D7}\u{1D7DC}\u{1D7E3} DOB",
            "+\u{FF14}\u{FF14}",
            "born \u{0660}\u{0661}/\u{0660}\u{0662}/\u{0661}\u{0669}\u{0664}\u{0660}",
        ] {
            for f in find_in_text(text) {
                assert!(f.start < f.end && f.end <= text.len());
                assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            }
        }
        // Arabic-Indic digits in a date of birth.
        assert_eq!(
            kinds("born \u{0660}\u{0661}/\u{0660}\u{0662}/\u{0661}\u{0669}\u{0664}\u{0660}"),
            vec![DateOfBirth]
        );
    }

    #[test]
    fn the_word_at_a_time_joints_agree_with_the_scalar_ones() {
        // Fixed-seed xorshift over the bytes that matter, so every neighbour combination
        // (and every position against the 8-byte words) comes up.
        let alphabet = b"0123456789 -./@)(,\taxE\r\x0b";
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect();
            let digits = text.bytes().filter(u8::is_ascii_digit).count();
            assert_eq!(
                scan_ascii(&text),
                (digits, joints_scalar(&text)),
                "{text:?}"
            );
        }
        let line = "2023-03,E09000001,all,1250,40,30,45,20,15,80,35,25,1150,950";
        let joints = Joints {
            odd: false,
            count: 1,
            last: 4,
        };
        assert_eq!(digits_and_joints(line, true), (41, joints));
    }
}
