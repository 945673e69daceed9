//! Nicknames a viewer may not take: names that claim a role ("Host", "主播", "房管", "Moderator",
//! "Admin", "官方", "Marquee"…). A badge comes from the role the server gave a user, never from a name, so a
//! name that looks like a badge is refused rather than shown.
//!
//! Close variants are caught by comparing a skeleton of the name: compatibility forms folded
//! (NFKC: `Ｈｏｓｔ` → `Host`), invisible characters dropped (zero-width, joiners, direction
//! marks, variation selectors), accents and overlays stripped (`Hóst`, `H̶o̶s̶t̶`), look-alike
//! letters from other scripts mapped (`Нost` with a Cyrillic Н), case folded, and digits
//! standing for letters read as letters (`h0st`, `adm1n`). Latin role words must be a whole
//! word of the name — split at spaces, punctuation, symbols and `camelCase` (`The Host`,
//! `TheHost`, `mod_Lily`, `H o s t`), with digits before or after allowed (`host1`) — so
//! `Ghost` or `Badminton` are fine; Chinese role words are refused anywhere in the name.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Latin words that claim a role, as whole words of a name.
const ROLE_WORDS: &[&str] = &[
    "host",
    "streamer",
    "moderator",
    "mod",
    "admin",
    "administrator",
    "official",
    "staff",
    "marquee",
];

/// Chinese words that claim a role, anywhere in a name.
const ROLE_WORDS_ZH: &[&str] = &[
    "主播",
    "房管",
    "官方",
    "管理员",
    "管理員",
    "超管",
    "场控",
    "場控",
    "主持人",
    "版主",
];

/// Characters that draw nothing (or nothing of their own): dropped before comparing.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// A letter from another script that looks like a Latin one (lower case), or the letter a
/// symbol stands for.
fn look_alike(c: char) -> char {
    match c {
        'а' | 'α' | '@' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' | 'ё' => 'e',
        'һ' | 'н' => 'h',
        'і' | 'ι' | 'ı' | 'ӏ' | '!' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' | 'μ' => 'm',
        'η' | 'п' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' | '$' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ш' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        '|' => 'l',
        c => c,
    }
}

/// A digit read as the letter it stands for inside a word.
fn digit_letter(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        c => c,
    }
}

/// The name as the characters a reader sees: compatibility forms folded, invisible characters,
/// accents and overlays dropped, look-alikes mapped (case kept, for the word split).
fn visible(name: &str) -> Vec<char> {
    let folded: String = name.nfkc().filter(|c| !invisible(*c)).collect();
    folded
        .nfkd()
        .filter(|c| !is_combining_mark(*c) && !invisible(*c))
        .map(|c| {
            let mapped = look_alike(c.to_lowercase().next().unwrap_or(c));
            if c.is_uppercase() {
                mapped.to_uppercase().next().unwrap_or(mapped)
            } else {
                mapped
            }
        })
        .collect()
}

/// The words of a name, lower case: split at anything but letters and digits and at a lower →
/// upper case change; runs of one-letter words joined (`H o s t` is one word).
fn words(chars: &[char]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for &c in chars {
        if !c.is_alphanumeric() {
            words.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if prev_lower && c.is_uppercase() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase();
        cur.extend(c.to_lowercase());
    }
    words.push(cur);
    words.retain(|w| !w.is_empty());
    let mut joined: Vec<String> = Vec::new();
    let mut single = String::new();
    for w in words {
        if w.chars().count() == 1 {
            single.push_str(&w);
            continue;
        }
        if !single.is_empty() {
            joined.push(std::mem::take(&mut single));
        }
        joined.push(w);
    }
    if !single.is_empty() {
        joined.push(single);
    }
    joined
}

/// A word as compared: digits around it dropped (`host1`), digits inside it read as letters
/// (`h0st`).
fn word_skeleton(w: &str) -> String {
    let core = w.trim_matches(|c: char| c.is_ascii_digit());
    core.chars().map(digit_letter).collect()
}

/// The role word a nickname claims, if any.
pub fn claimed_role(name: &str) -> Option<&'static str> {
    let chars = visible(name);
    let squashed: String = chars
        .iter()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect();
    if let Some(w) = ROLE_WORDS_ZH.iter().find(|w| squashed.contains(**w)) {
        return Some(w);
    }
    let whole = word_skeleton(&squashed);
    let words = words(&chars);
    ROLE_WORDS
        .iter()
        .copied()
        .find(|role| whole == *role || words.iter().any(|w| word_skeleton(w) == *role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_claim_a_role_are_caught_in_their_close_variants() {
        for name in [
            "Host",
            "host",
            "HOST",
            "Ｈｏｓｔ",
            "H\u{200b}ost",
            "Ho\u{200d}s\u{feff}t",
            "H o s t",
            "H.o.s.t",
            "h0st",
            "Нost",
            "Hóst",
            "H\u{336}o\u{336}s\u{336}t\u{336}",
            "The Host",
            "TheHost",
            "host1",
            "★Host★",
            "主播",
            "主播小明",
            "我是主\u{200b}播",
            "房管",
            "官方",
            "官方客服",
            "管理员",
            "Moderator",
            "MOD",
            "mod_Lily",
            "Admin",
            "adm1n",
            "Administrator",
            "Official",
            "ＡＤＭＩＮ",
            "Marquee",
            "MARQUEE Official",
            "marquee_team",
            "Mod",
            " mod ",
            "(Mod)",
            "【房管】小李",
            "管理员:",
            "Ｍｏｄ",
        ] {
            assert!(claimed_role(name).is_some(), "{name:?} passed");
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "小明",
            "Ghost",
            "Hostess",
            "Modern Girl",
            "Badminton",
            "Admiral",
            "Mo",
            "Ann",
            "pixelcat",
            "追光者",
            "Ravi 2",
            "moderately happy",
        ] {
            assert_eq!(claimed_role(name), None, "{name:?} refused");
        }
    }
}
