//! The end-to-end harness: real parts started by the test, waited for, and cleaned up on drop.
//!
//! | part | type | what it is |
//! | --- | --- | --- |
//! | RTMP ingest | [`Nginx`] | foreground nginx + libnginx-mod-rtmp on a free loopback port, recording every stream |
//! | microphone | [`Pulse`] | a private PulseAudio with a null sink `vsink` whose monitor is the default source |
//! | keychain | [`Keychain`] | a private D-Bus session bus + an unlocked gnome-keyring (Secret Service) |
//! | the room server | [`RoomServer`], [`RoomCluster`] | `marquee room serve` on a free loopback port, waited for; or n nodes of one cluster on a Postgres and a Redis started by the test |
//! | a public room server's front | [`RoomProxy`] | foreground nginx terminating TLS (a CA made by the test with openssl) and passing WebSocket upgrades with `X-Forwarded-For` to `marquee room serve` |
//! | a full disk | [`SmallDisk`] | a tmpfs of a few MiB mounted by the test (root or `sudo -n`), filled on demand |
//! | a browser | [`Chromium`] | headless Chromium over the DevTools protocol: open a page, wait until its text holds something |
//! | a network between two hosts | [`NetLink`] | a network namespace joined by a veth (loss with nftables, rate with tbf), or by two TUN devices with delay, jitter and loss emulated in user space ([`linkem`]) |
//! | SRT ingest | [`SrtListener`] | `srt-live-transmit` listening on a free UDP port, writing what arrives (MPEG-TS) to a file |
//! | the CLI | [`marquee`] | the built `marquee` binary, found next to this test or via `MARQUEE_BIN` |
//! | checks | [`probe`], [`frame_codes`], [`dominant_frequency`] | ffprobe/ffmpeg on recordings and URLs |
//!
//! A missing program is never a silent skip: it panics with the `apt-get install` that fixes it.

mod chromium;
mod cli;
mod keychain;
pub mod linkem;
mod media;
mod netns;
mod nginx;
mod programs;
mod pulse;
mod room_proxy;
mod room_server;
mod run;
mod small_disk;
mod srt;
mod summary;
mod util;

pub use chromium::Chromium;
pub use cli::{
    assert_exited_ok, assert_failed_cleanly, assert_no_panic, control_request, guest_link, marquee,
    marquee_in, marquee_path, output_lower,
};
pub use keychain::Keychain;
pub use marquee_capture::pattern::FrameCode;
pub use media::{
    AudioInfo, Packet, Probe, VideoInfo, av_offsets, check_continuity, decode_audio_mono,
    dominant_frequency, dominant_frequency_of, frame_codes, frame_codes_in, gray_frames,
    mark_offsets, noise_clip, probe, rms, silent_spans, tone_level, tone_marks, try_probe,
};
pub use netns::NetLink;
pub use nginx::Nginx;
pub use programs::{find_program, install_hint, program};
pub use pulse::{Pulse, Tone};
pub use room_proxy::{PROXY_SOURCE, RoomProxy, make_certificates, open_room};
pub use room_server::{RoomCluster, RoomServer};
pub use run::{Done, Run, Usage, cmd, exec, exec_with_input, tail};
pub use small_disk::SmallDisk;
pub use srt::SrtListener;
pub use summary::{Event, Summary};
pub use util::{
    ReservedPort, bench_usage, contains_bytes, files_containing, free_port, free_udp_port, heavy,
    percentile, reserve_port, tcp_listening, tempdir, udp_port_bound, unix_ms, wait_until,
};
