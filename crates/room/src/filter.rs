//! Blocked words: many patterns matched at once (Aho-Corasick) over a normalised form of the text.
//!
//! Normalisation (applied to patterns and to messages alike):
//! * NFKC per character, which folds full-width forms (`ＢＡＤ` → `BAD`) and compatibility forms;
//! * lower-casing (Unicode);
//! * only letters and digits are kept: zero-width characters, spaces, punctuation and symbols
//!   inserted between characters are ignored (`b.a d`, `b\u{200b}ad` → `bad`).
//!
//! Every kept character remembers the original character it came from, so a match can be
//! masked in the original text.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use unicode_normalization::UnicodeNormalization;

/// Most patterns a room may hold.
pub const MAX_PATTERNS: usize = 2_000;
/// Longest pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 64;

/// Normalise text; returns the normalised string and, for each of its chars, the index of the
/// original char it came from.
pub fn normalise(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for (i, c) in text.chars().enumerate() {
        for n in c.encode_utf8(&mut buf).nfkc() {
            for l in n.to_lowercase() {
                if l.is_alphanumeric() {
                    out.push(l);
                    origin.push(i);
                }
            }
        }
    }
    (out, origin)
}

/// What a message scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The text with every matched span replaced by `*`.
    Matched {
        masked: String,
    },
}

/// A compiled set of blocked words.
#[derive(Debug, Default)]
pub struct WordFilter {
    patterns: Vec<String>,
    ac: Option<AhoCorasick>,
}

impl WordFilter {
    pub fn new(patterns: &[String]) -> Self {
        let mut f = WordFilter::default();
        f.set(patterns);
        f
    }

    /// The patterns as the moderators gave them.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Replace the pattern set. Patterns that normalise to nothing are dropped.
    pub fn set(&mut self, patterns: &[String]) {
        let mut kept: Vec<String> = Vec::new();
        let mut norm: Vec<String> = Vec::new();
        for p in patterns.iter().take(MAX_PATTERNS) {
            let n = normalise(p).0;
            if n.is_empty() || kept.contains(p) {
                continue;
            }
            kept.push(p.clone());
            norm.push(n);
        }
        self.ac = if norm.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&norm)
                .ok()
        };
        self.patterns = kept;
    }

    /// Scan a message.
    pub fn check(&self, text: &str) -> Verdict {
        let Some(ac) = &self.ac else {
            return Verdict::Clean;
        };
        let (norm, origin) = normalise(text);
        // Byte offset in `norm` → char index in `norm`.
        let mut char_at_byte = vec![0usize; norm.len() + 1];
        for (ci, (bi, _)) in norm.char_indices().enumerate() {
            char_at_byte[bi] = ci;
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for m in ac.find_iter(&norm) {
            let first = char_at_byte[m.start()];
            let last = norm[..m.end()].chars().count().saturating_sub(1);
            if let (Some(&a), Some(&b)) = (origin.get(first), origin.get(last)) {
                spans.push((a, b));
            }
        }
        if spans.is_empty() {
            return Verdict::Clean;
        }
        let masked = text
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if spans.iter().any(|&(a, b)| i >= a && i <= b) {
                    '*'
                } else {
                    c
                }
            })
            .collect();
        Verdict::Matched { masked }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(words: &[&str]) -> WordFilter {
        WordFilter::new(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn blocked_word_with_fullwidth_and_zero_width_is_caught() {
        let filter = f(&["spam"]);
        for text in [
            "buy SPAM now",
            "ｓｐａｍ",
            "s\u{200b}p\u{200d}a\u{feff}m",
            "S p.a-m!",
            "Ｓ\u{200b}Ｐ ａ。Ｍ",
        ] {
            assert!(
                matches!(filter.check(text), Verdict::Matched { .. }),
                "missed {text:?}"
            );
        }
        assert_eq!(
            filter.check("spa m is fine? no"),
            Verdict::Matched {
                masked: "*****".to_string() + " is fine? no"
            }
        );
        assert_eq!(filter.check("sparse ham"), Verdict::Clean);
    }

    #[test]
    fn chinese_words_are_masked_in_place() {
        let filter = f(&["傻瓜"]);
        assert_eq!(
            filter.check("你是傻 瓜吗"),
            Verdict::Matched {
                masked: "你是***吗".into()
            }
        );
        assert_eq!(filter.check("你好"), Verdict::Clean);
    }

    #[test]
    fn many_patterns_and_empty_ones() {
        let filter = f(&["", "...", "aa", "bb", "aab"]);
        assert_eq!(filter.patterns().len(), 3);
        assert_eq!(
            filter.check("xaabx"),
            Verdict::Matched {
                masked: "x***x".into()
            }
        );
    }
}
