//! The gift catalog and its art, embedded from `assets/gifts/`.

use crate::protocol::GiftDef;

const CATALOG_JSON: &str = include_str!("../../../assets/gifts/catalog.json");

/// `(file name, SVG)` for every gift picture.
pub const ART: &[(&str, &str)] = &[
    ("rose.svg", include_str!("../../../assets/gifts/rose.svg")),
    ("heart.svg", include_str!("../../../assets/gifts/heart.svg")),
    ("star.svg", include_str!("../../../assets/gifts/star.svg")),
    ("cake.svg", include_str!("../../../assets/gifts/cake.svg")),
    (
        "rocket.svg",
        include_str!("../../../assets/gifts/rocket.svg"),
    ),
    ("crown.svg", include_str!("../../../assets/gifts/crown.svg")),
];

/// The default catalog (from `assets/gifts/catalog.json`).
pub fn default_catalog() -> Vec<GiftDef> {
    serde_json::from_str(CATALOG_JSON).unwrap_or_default()
}

/// The SVG for an art file name.
pub fn art(name: &str) -> Option<&'static str> {
    ART.iter().find(|(n, _)| *n == name).map(|(_, svg)| *svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_gift_has_art_and_a_price() {
        let cat = default_catalog();
        assert!(cat.len() >= 6);
        for g in &cat {
            assert!(g.price > 0, "{}", g.id);
            let svg = art(&g.art).unwrap_or_else(|| panic!("no art for {}", g.id));
            assert!(svg.starts_with("<svg"));
        }
    }
}
