//! A fast, conservative reader of a few top-level members of a JSON object.
//!
//! [`KeyHint::parse`](crate::token::KeyHint) runs on every `get_key` call,
//! where building a `serde_json` map of the claims would cost more than the
//! key lookup itself, only to read `iss`. This scanner reads the same
//! documents without building anything, but it is deliberately incomplete:
//! it answers
//! only for documents it can judge with certainty to be ones that
//! [`json::parse_object`](crate::json::parse_object) accepts, and returns
//! `None` for everything else, which the caller then hands to the full
//! parser for the verdict and the error message. A wrong `None` costs time;
//! a wrong `Some` would be a parser differential, so every rule below errs
//! towards `None`.
//!
//! `None` is returned for:
//! - anything that is not valid UTF-8, or not one JSON object followed by
//!   nothing but whitespace;
//! - any syntax error, control character inside a string, or invalid escape;
//! - member names that contain an escape (duplicates are compared as raw
//!   bytes, which is exact only without escapes) or are longer than 65,535
//!   bytes;
//! - `\u` escapes of surrogates (serde_json judges pairs and lone halves);
//! - numbers with a fraction, an exponent or more than 18 digits (plain
//!   integers of up to 18 digits are always finite, so their range needs no
//!   judging);
//! - nesting deeper than [`MAX_DEPTH`] and more than [`MAX_OPEN_NAMES`]
//!   member names held open at once;
//! - a duplicate member name at any depth.

use std::borrow::Cow;

/// Deepest nesting the scanner follows, well inside `serde_json`'s limit of
/// 128 so that its own refusal never has to be predicted.
const MAX_DEPTH: usize = 32;

/// Most member names held for the duplicate check across the objects open
/// at one time. Beyond it the linear search would grow quadratic, so the
/// document goes to the full parser, which switches to a hash set.
const MAX_OPEN_NAMES: usize = 48;

/// A top-level member's value, as far as a key hint needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Member<'a> {
    /// A string, unescaped; borrowed from the input when it has no escape.
    String(Cow<'a, str>),
    /// The literal `true`.
    True,
    /// Any other value: a number, `false`, `null`, an array or an object.
    Other,
}

/// Reads the top-level members named in `names` from `bytes`, a JSON object.
///
/// Returns `None` when the scanner cannot be sure that the full parser
/// accepts the document (see the module docs); otherwise one slot per
/// name, `None` for a member that is absent.
pub(crate) fn object_members<'a, const N: usize>(
    bytes: &'a [u8],
    names: [&str; N],
) -> Option<[Option<Member<'a>>; N]> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut found = [const { None }; N];
    let mut open = OpenContainers::default();

    // One loop over the document, with the open containers on an explicit
    // stack: no recursion, and every value seen in the one place that
    // reports the top-level ones.
    let mut pos = skip_whitespace(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    open.push(true)?;
    pos += 1;
    let mut expect = Expect::FirstName;
    // The name of the member whose value comes next.
    let mut name: &[u8] = &[];
    loop {
        pos = skip_whitespace(bytes, pos);
        let byte = *bytes.get(pos)?;
        match expect {
            Expect::FirstName | Expect::Name => {
                if byte == b'}' && expect == Expect::FirstName {
                    pos += 1;
                    open.pop();
                    expect = Expect::Separator;
                } else {
                    if byte != b'"' {
                        return None;
                    }
                    let (start, end, escaped) = string_body(bytes, pos + 1)?;
                    // Without escapes a name's bytes are its decoded value,
                    // which makes the duplicate check a byte comparison.
                    if escaped {
                        return None;
                    }
                    name = &bytes[start..end];
                    open.add_name(bytes, start, end)?;
                    pos = skip_whitespace(bytes, end + 1);
                    if bytes.get(pos) != Some(&b':') {
                        return None;
                    }
                    pos += 1;
                    expect = Expect::Value;
                }
            }
            Expect::FirstElement | Expect::Value => {
                if byte == b']' && expect == Expect::FirstElement {
                    pos += 1;
                    open.pop();
                    expect = Expect::Separator;
                    continue;
                }
                let value = match byte {
                    b'"' => {
                        let (start, end, escaped) = string_body(bytes, pos + 1)?;
                        pos = end + 1;
                        Scanned::String {
                            start,
                            end,
                            escaped,
                        }
                    }
                    b'{' => {
                        pos += 1;
                        expect = Expect::FirstName;
                        Scanned::Other
                    }
                    b'[' => {
                        pos += 1;
                        expect = Expect::FirstElement;
                        Scanned::Other
                    }
                    b't' => {
                        pos = literal(bytes, pos, b"true")?;
                        Scanned::True
                    }
                    b'f' => {
                        pos = literal(bytes, pos, b"false")?;
                        Scanned::Other
                    }
                    b'n' => {
                        pos = literal(bytes, pos, b"null")?;
                        Scanned::Other
                    }
                    b'-' | b'0'..=b'9' => {
                        pos = integer(bytes, pos)?;
                        Scanned::Other
                    }
                    _ => return None,
                };
                // A member of the top-level object: report it if wanted.
                if open.depth == 1 && open.in_object() {
                    for (slot, wanted) in found.iter_mut().zip(names) {
                        if same_name(wanted.as_bytes(), name) {
                            *slot = Some(value.member(text));
                        }
                    }
                }
                match byte {
                    b'{' => open.push(true)?,
                    b'[' => open.push(false)?,
                    _ => expect = Expect::Separator,
                }
            }
            Expect::Separator => {
                pos += 1;
                match (byte, open.in_object()) {
                    (b',', true) => expect = Expect::Name,
                    (b',', false) => expect = Expect::Value,
                    (b'}', true) | (b']', false) => open.pop(),
                    _ => return None,
                }
            }
        }
        if open.depth == 0 {
            break;
        }
    }
    (skip_whitespace(bytes, pos) == bytes.len()).then_some(found)
}

/// What the scanner reads next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A member name or the `}` of an empty object.
    FirstName,
    /// A member name after a `,`.
    Name,
    /// A value or the `]` of an empty array.
    FirstElement,
    /// A member's or an element's value.
    Value,
    /// A `,` or the end of the innermost container.
    Separator,
}

/// The containers open at one point of a document, innermost last, and
/// the member names of the open objects, for the duplicate check.
struct OpenContainers {
    depth: usize,
    /// Bit `d` is set when the container at depth `d + 1` is an object.
    objects: u64,
    /// Where each open object's names begin in `names`.
    names_from: [u8; MAX_DEPTH],
    /// Each name as its [`name_key`] and its start in the document: names
    /// with different keys differ, so only equal keys are compared byte by
    /// byte.
    names: [(u32, u32); MAX_OPEN_NAMES],
    name_count: usize,
}

impl Default for OpenContainers {
    fn default() -> Self {
        OpenContainers {
            depth: 0,
            objects: 0,
            names_from: [0; MAX_DEPTH],
            names: [(0, 0); MAX_OPEN_NAMES],
            name_count: 0,
        }
    }
}

impl OpenContainers {
    fn push(&mut self, object: bool) -> Option<()> {
        if self.depth == MAX_DEPTH {
            return None;
        }
        self.names_from[self.depth] = self.name_count as u8;
        self.objects = self.objects & !(1 << self.depth) | u64::from(object) << self.depth;
        self.depth += 1;
        Some(())
    }

    fn pop(&mut self) {
        self.depth -= 1;
        self.name_count = usize::from(self.names_from[self.depth]);
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && self.objects & (1 << (self.depth - 1)) != 0
    }

    /// Records the name `bytes[start..end]` in the innermost object;
    /// `None` if that object has it already or too many names are open.
    #[inline(always)]
    fn add_name(&mut self, bytes: &[u8], start: usize, end: usize) -> Option<()> {
        let name = &bytes[start..end];
        let key = name_key(name)?;
        let from = usize::from(self.names_from[self.depth - 1]);
        for &(other_key, other_start) in &self.names[from..self.name_count] {
            let other_start = other_start as usize;
            if other_key == key && bytes[other_start..other_start + name.len()] == *name {
                return None;
            }
        }
        *self.names.get_mut(self.name_count)? = (key, u32::try_from(start).ok()?);
        self.name_count += 1;
        Some(())
    }
}

/// A value as the scanner saw it, before any decoding.
#[derive(Clone, Copy)]
enum Scanned {
    /// A string whose contents are `text[start..end]`.
    String {
        start: usize,
        end: usize,
        escaped: bool,
    },
    True,
    Other,
}

impl Scanned {
    /// The value as a [`Member`], decoding a string's escapes; only the
    /// members asked for are decoded.
    #[inline(always)]
    fn member(self, text: &str) -> Member<'_> {
        match self {
            Scanned::String {
                start,
                end,
                escaped: false,
            } => Member::String(Cow::Borrowed(&text[start..end])),
            Scanned::String { start, end, .. } => {
                Member::String(Cow::Owned(unescape(&text[start..end])))
            }
            Scanned::True => Member::True,
            Scanned::Other => Member::Other,
        }
    }
}

#[inline(always)]
fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// The position after `word` at `pos`.
fn literal(bytes: &[u8], pos: usize, word: &[u8]) -> Option<usize> {
    bytes[pos..].starts_with(word).then_some(pos + word.len())
}

/// The position after `-?(0|[1-9][0-9]*)` of at most 18 digits at `pos`.
/// Whatever follows is the caller's to judge, so `1.5` or `1e3` ends in a
/// `None` there; the check here only keeps `1.5` from reading as `1`.
#[inline(always)]
fn integer(bytes: &[u8], mut pos: usize) -> Option<usize> {
    if bytes[pos] == b'-' {
        pos += 1;
    }
    let start = pos;
    while let Some(b'0'..=b'9') = bytes.get(pos) {
        pos += 1;
    }
    let well_formed = match &bytes[start..pos] {
        [] => false,
        [b'0', _, ..] => false,
        digits => digits.len() <= 18,
    };
    let fraction_or_exponent = matches!(bytes.get(pos), Some(b'.' | b'e' | b'E'));
    (well_formed && !fraction_or_exponent).then_some(pos)
}

/// Reads a string's contents from `start`, just after its opening quote.
/// Returns the contents' end (the closing quote's position) and whether
/// they hold an escape.
#[inline(always)]
fn string_body(bytes: &[u8], start: usize) -> Option<(usize, usize, bool)> {
    let mut pos = start;
    let mut escaped = false;
    loop {
        pos = skip_plain(bytes, pos);
        match *bytes.get(pos)? {
            b'"' => return Some((start, pos, escaped)),
            b'\\' => {
                escaped = true;
                match *bytes.get(pos + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => pos += 2,
                    b'u' => {
                        let unit = hex_unit(bytes.get(pos + 2..pos + 6)?)?;
                        if (0xd800..=0xdfff).contains(&unit) {
                            return None;
                        }
                        pos += 6;
                    }
                    _ => return None,
                }
            }
            // A control character, which JSON strings may not hold raw.
            _ => return None,
        }
    }
}

/// The first position from `pos` on that holds a `"`, a `\\` or a control
/// character, or the end of `bytes`. Most of any string needs no attention,
/// so it is skipped eight bytes at a time while eight remain.
#[inline(always)]
fn skip_plain(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Each term sets the high bit of a byte that is zero after the
        // xor (or below 0x20); a borrow may also mark bytes above a true
        // match, never below one, so the lowest mark is exact.
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let special = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let special = special & HIGHS;
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < bytes.len() && PLAIN[usize::from(bytes[pos])] {
        pos += 1;
    }
    pos
}

/// The bytes a string may hold as they are: not `"`, `\\` or a control
/// character.
static PLAIN: [bool; 256] = {
    let mut table = [true; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = false;
        byte += 1;
    }
    table[b'"' as usize] = false;
    table[b'\\' as usize] = false;
    table
};

/// Name equality with the cheap tests first: most names differ in length
/// or first byte, and a short comparison call costs more than both.
#[inline(always)]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.first() == b.first() && a == b
}

/// A name's length and end bytes, packed: equal names have equal keys,
/// and the length can be read back as `key >> 16`. `None` for a name too
/// long to pack.
#[inline(always)]
fn name_key(name: &[u8]) -> Option<u32> {
    let len = u16::try_from(name.len()).ok()?;
    let ends = match name {
        [] => 0,
        [first, .., last] => u32::from(*first) << 8 | u32::from(*last),
        [only] => u32::from(*only) << 8 | u32::from(*only),
    };
    Some(u32::from(len) << 16 | ends)
}

/// The value of four hex digits.
fn hex_unit(digits: &[u8]) -> Option<u16> {
    digits.iter().try_fold(0u16, |unit, &digit| {
        let value = char::from(digit).to_digit(16)?;
        Some(unit << 4 | value as u16)
    })
}

/// Decodes the escapes of a string body that [`string_body`]
/// accepted: every escape is well formed and no `\u` is a surrogate.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest.as_bytes()[at + 1..];
        let (decoded, used) = match escape[0] {
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                // Accepted by `string_body`: four hex digits, no surrogate.
                let unit = hex_unit(&escape[1..5]).expect("checked while scanning");
                let decoded = char::from_u32(u32::from(unit)).expect("not a surrogate");
                (decoded, 6)
            }
            quote_slash_or_backslash => (char::from(quote_slash_or_backslash), 2),
        };
        out.push(decoded);
        rest = &rest[at + used..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::json;

    const NAMES: [&str; 4] = ["iss", "alg", "b64", "crit"];

    /// What the full parser says of the same members, in the scanner's
    /// terms, or `None` if it refuses the document.
    fn full(bytes: &[u8]) -> Option<[Option<Member<'static>>; 4]> {
        let map = json::parse_object(bytes).ok()?;
        Some(NAMES.map(|name| {
            map.get(name).map(|value| match value {
                Value::String(text) => Member::String(Cow::Owned(text.clone())),
                Value::Bool(true) => Member::True,
                _ => Member::Other,
            })
        }))
    }

    fn scan(text: &str) -> Option<[Option<Member<'_>>; 4]> {
        object_members(text.as_bytes(), NAMES)
    }

    /// Typical headers and claims are read by the scanner itself.
    #[test]
    fn reads_common_documents() {
        let documents = [
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"https:\/\/issuer.example\/tenant","aud":["a","b"],"exp":1700000000}"#,
            r#"{ "iss" : "https://a" , "nested" : { "x" : [1, -2, 0, true, false, null, {}] } }"#,
            "{\"iss\":\"caf\u{e9} \\u00e9 \\\" \\\\ \\b\\f\\n\\r\\t\\u0000\",\"b64\":true}\n",
            r#"{"a":{"x":1},"b":{"x":1},"x":0}"#,
        ];
        for document in documents {
            let scanned = scan(document).unwrap_or_else(|| panic!("not scanned: {document}"));
            assert_eq!(
                Some(scanned.clone()),
                full(document.as_bytes()),
                "{document}"
            );
        }
        let [issuer, ..] = scan(documents[1]).unwrap();
        assert_eq!(
            issuer,
            Some(Member::String("https://issuer.example/tenant".into()))
        );
    }

    /// Everything outside the scanner's certainty goes to the full parser,
    /// whether that parser accepts it or not.
    #[test]
    fn leaves_the_rest_to_the_full_parser() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        let wide = format!(
            "{{{}}}",
            (0..70)
                .map(|i| format!("\"m{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let accepted_elsewhere = [
            r#"{"iat":1.5}"#,
            r#"{"iat":1e3}"#,
            r#"{"iat":1234567890123456789}"#,
            r#"{"\u0069ss":"a"}"#,
            r#"{"iss":"\ud83d\ude00"}"#,
            deep.as_str(),
            wide.as_str(),
        ];
        for document in accepted_elsewhere {
            assert!(full(document.as_bytes()).is_some(), "{document}");
            assert_eq!(scan(document), None, "{document}");
        }
        let refused = [
            "",
            "[]",
            "{} {}",
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"d":{"a":1,"a":2}}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\ud800"}"#,
            "{\"a\":\"\t\"}",
            "{\"a\":1}\u{0}",
            r#"{"a":1e999}"#,
        ];
        for document in refused {
            assert_eq!(full(document.as_bytes()), None, "{document}");
            assert_eq!(scan(document), None, "{document}");
        }
        assert_eq!(object_members(b"{\"a\":\"\xff\"}", NAMES), None);
    }

    /// On every single-byte change and truncation of a set of documents,
    /// the scanner either declines or agrees with the full parser.
    #[test]
    fn never_disagrees_with_the_full_parser() {
        let documents = [
            r#"{"iss":"https:\/\/a","aud":["x",{"y":[null,true,false]}],"exp":-12,"n":0}"#,
            r#"{"alg":"ES256","b64":true,"crit":["x"],"kid":"\u00e9\n"}"#,
        ];
        let alphabet = b"{}[]\":,\\/ 0-1e.tuaflsn\x00\xc3";
        let (mut scanned, mut checked) = (0, 0);
        for document in documents {
            let document = document.as_bytes();
            for at in 0..document.len() {
                let mut mutated = document.to_vec();
                for &byte in alphabet {
                    mutated[at] = byte;
                    if let Some(members) = object_members(&mutated, NAMES) {
                        assert_eq!(Some(members), full(&mutated), "{mutated:?}");
                        scanned += 1;
                    }
                    checked += 1;
                }
                if let Some(members) = object_members(&document[..at], NAMES) {
                    assert_eq!(Some(members), full(&document[..at]));
                }
            }
        }
        // The comparison above must have had scanned documents to compare.
        assert!(scanned > 100 && checked > 2_000, "{scanned} of {checked}");
    }
}
