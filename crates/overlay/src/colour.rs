//! Straight (non-premultiplied) RGBA colour, written `#rrggbb` or `#rrggbbaa` in profiles.

use serde::{Deserialize, Serialize};

/// A straight-alpha sRGB colour. Serialises as `"#rrggbbaa"` so profiles stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    pub const WHITE: Rgba = Rgba::new(255, 255, 255, 255);
    pub const BLACK: Rgba = Rgba::new(0, 0, 0, 255);
    pub const GOLD: Rgba = Rgba::new(255, 204, 0, 255);

    pub const fn new(r: u8, g: u8, b: u8, a: u8) -> Self {
        Self { r, g, b, a }
    }

    /// Premultiplied `[r, g, b, a]`.
    pub fn premultiplied(self) -> [u8; 4] {
        let m = |c: u8| ((u16::from(c) * u16::from(self.a) + 127) / 255) as u8;
        [m(self.r), m(self.g), m(self.b), self.a]
    }

    /// Parses `#rgb`, `#rrggbb` or `#rrggbbaa` (the `#` is optional).
    pub fn parse(s: &str) -> Option<Self> {
        let h = s.trim().trim_start_matches('#');
        let byte = |i: usize| u8::from_str_radix(h.get(i..i + 2)?, 16).ok();
        match h.len() {
            3 => {
                let n = |i: usize| {
                    u8::from_str_radix(h.get(i..i + 1)?, 16)
                        .ok()
                        .map(|v| v * 17)
                };
                Some(Self::new(n(0)?, n(1)?, n(2)?, 255))
            }
            6 => Some(Self::new(byte(0)?, byte(2)?, byte(4)?, 255)),
            8 => Some(Self::new(byte(0)?, byte(2)?, byte(4)?, byte(6)?)),
            _ => None,
        }
    }
}

impl Default for Rgba {
    fn default() -> Self {
        Self::WHITE
    }
}

impl TryFrom<String> for Rgba {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Rgba::parse(&s).ok_or_else(|| {
            format!("colour {s:?} is not #rrggbb or #rrggbbaa (hex digits, e.g. \"#ffcc00\")")
        })
    }
}

impl From<Rgba> for String {
    fn from(c: Rgba) -> String {
        format!("#{:02x}{:02x}{:02x}{:02x}", c.r, c.g, c.b, c.a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_round_trip_through_hex_strings() {
        let c = Rgba::new(1, 0xab, 0xff, 0x80);
        let s: String = c.into();
        assert_eq!(s, "#01abff80");
        assert_eq!(Rgba::parse(&s), Some(c));
        assert_eq!(Rgba::parse("#fff"), Some(Rgba::WHITE));
        assert_eq!(Rgba::parse("ffcc00"), Some(Rgba::GOLD));
        assert_eq!(Rgba::parse("#ffcc0"), None);
        assert_eq!(Rgba::parse("#ééé"), None);
    }
}
