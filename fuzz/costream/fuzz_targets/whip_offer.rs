//! What the host does with a guest's WHIP POST body (`host::endpoint::Handle::add`): the offer,
//! bounded to 64 KiB, parsed by str0m and, when it parses, accepted by a fresh `Rtc` configured
//! as the host's (VP8, H.264, Opus, one host candidate): never panics, an answer it makes
//! serialises, and the `Rtc` it leaves behind survives the endpoint loop's first turns (its
//! output polled, a timer served), where a panic would end every guest's call.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_costream::host::MAX_OFFER;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::{Candidate, Input, Output, Rtc};

/// One DTLS certificate for every run: generating one per input would spend most of the time in
/// key generation, and the certificate plays no part in accepting an offer.
fn cert() -> DtlsCert {
    static CERT: OnceLock<DtlsCert> = OnceLock::new();
    CERT.get_or_init(|| {
        marquee_costream::install_crypto();
        let provider = str0m::crypto::from_feature_flags();
        provider.dtls_provider.generate_certificate().unwrap()
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    if sdp.len() > MAX_OFFER {
        return;
    }
    let cert = cert();
    let Ok(offer) = SdpOffer::from_sdp_string(sdp) else {
        return;
    };
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_vp8(true)
        .enable_h264(true)
        .enable_opus(true, false)
        .set_stats_interval(Some(Duration::from_secs(1)))
        .set_dtls_cert(cert)
        .build(Instant::now());
    let c = Candidate::host("127.0.0.1:9".parse().unwrap(), "udp").unwrap();
    rtc.add_local_candidate(c);
    let Ok(answer) = rtc.sdp_api().accept_offer(offer) else {
        return;
    };
    let _ = answer.to_sdp_string();
    drive(&mut rtc);
    let _ = rtc.handle_input(Input::Timeout(Instant::now() + Duration::from_secs(1)));
    drive(&mut rtc);
});

/// Polls like `host::endpoint::drive` until the `Rtc` waits (bounded: an `Rtc` that never
/// waits is a finding too, caught by libFuzzer's timeout only if it loops forever).
fn drive(rtc: &mut Rtc) {
    for _ in 0..256 {
        if !rtc.is_alive() {
            return;
        }
        match rtc.poll_output() {
            Ok(Output::Timeout(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
