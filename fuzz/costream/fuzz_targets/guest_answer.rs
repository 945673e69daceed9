//! What the native guest does with the host's reply to its offer: the HTTP response
//! (`guest::http::parse_response`, and the `Location` resolved against the WHIP URL as
//! `whip::post_offer` does), then the SDP answer parsed and applied to the guest's pending offer
//! (`guest::session::accept_answer`'s two calls), and the guest's `Rtc` through its first turns
//! (output polled, a timer served): never panics.
//!
//! The SDP is the response's body when the input is an HTTP response with a UTF-8 body, else the
//! whole input. The guest's media ids are random per offer, so `{v}` and `{a}` in the SDP are
//! replaced by this run's video and audio mids (the seeds are real answers written that way).
//! The guest offers H.264 when the SDP names it (a host answers with the guest's codec), else
//! VP8, as `marquee guest join --codec` chooses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_costream::guest::http;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use str0m::bwe::Bitrate;
use str0m::change::SdpAnswer;
use str0m::config::DtlsCert;
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Input, Output, Rtc, RtcConfig};

/// One DTLS certificate for every run (see `whip_offer`).
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
    let response = http::parse_response(data);
    let body = match &response {
        Ok(r) => {
            if let Some(location) = r.header("location") {
                let whip = http::Url::parse(
                    "http://192.0.2.1:8080/join/AAAAAAAAAAAAAAAAAAAAAA/whip?name=a",
                )
                .unwrap();
                let _ = whip.join(location).map(|u| u.to_string_url());
            }
            std::str::from_utf8(&r.body).ok()
        }
        Err(_) => None,
    };
    let Some(sdp) = body.or_else(|| std::str::from_utf8(data).ok()) else {
        return;
    };

    // The guest's offer, as `guest::session::run` makes it.
    let config = RtcConfig::new().clear_codecs().enable_opus(true, false);
    let config = if sdp.contains("H264") {
        config.enable_h264(true)
    } else {
        config.enable_vp8(true)
    };
    let mut rtc = config
        .enable_bwe(Some(Bitrate::kbps(1_000)))
        .set_dtls_cert(cert())
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host("127.0.0.1:9".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    let stream = Some("marquee-guest".to_string());
    let v = api.add_media(
        MediaKind::Video,
        Direction::SendRecv,
        stream.clone(),
        Some("video".into()),
        None,
    );
    let a = api.add_media(
        MediaKind::Audio,
        Direction::SendRecv,
        stream,
        Some("audio".into()),
        None,
    );
    let (_offer, pending) = api.apply().unwrap();

    let sdp = sdp
        .replace("{v}", &v.to_string())
        .replace("{a}", &a.to_string());
    let Ok(answer) = SdpAnswer::from_sdp_string(&sdp) else {
        return;
    };
    if rtc.sdp_api().accept_answer(pending, answer).is_err() {
        return;
    }
    drive(&mut rtc);
    let _ = rtc.handle_input(Input::Timeout(Instant::now() + Duration::from_secs(1)));
    drive(&mut rtc);
});

/// Polls until the `Rtc` waits, as the guest's loop does (bounded).
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
