//! The H.264 framing a cut reads from a recording's header and rewrites
//! (`marquee_highlights::avc`), on arbitrary bytes: never panics; what it accepts lies inside
//! the input; NAL units survive Annex B → length-prefixed → back.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The module alone (it is dependency-free): no FFmpeg to build for the fuzzer.
#[path = "../../../crates/highlights/src/avc.rs"]
#[allow(dead_code)]
mod avc;

/// Splits length-prefixed NAL units (`size`-byte big-endian lengths) back apart.
fn split(mut data: &[u8], size: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let mut len = 0usize;
        for b in &data[..size] {
            len = len << 8 | *b as usize;
        }
        out.push(&data[size..size + len]);
        data = &data[size + len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    match avc::parse_avcc(data) {
        Ok(Some(c)) => {
            assert!(matches!(c.nal_length_size, 1 | 2 | 4));
            let within = data.as_ptr_range();
            for ps in &c.parameter_sets {
                assert!(!ps.is_empty());
                assert!(within.contains(&ps.as_ptr()));
                assert!(ps.as_ptr() as usize + ps.len() <= within.end as usize);
            }
            // avcC lengths are 16-bit: re-framed with 2-byte lengths they always fit.
            let framed = avc::length_prefixed(&c.parameter_sets, 2).expect("16-bit lengths fit");
            assert_eq!(split(&framed, 2), c.parameter_sets);
        }
        Ok(None) => assert!(data.first() != Some(&1)),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let nals = avc::annexb_nals(data);
    for size in [1, 2, 4] {
        if let Ok(framed) = avc::length_prefixed(&nals, size) {
            assert_eq!(split(&framed, size), nals);
        }
    }
});
