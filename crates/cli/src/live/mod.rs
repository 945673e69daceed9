//! `marquee live`: flags over a profile into the show engine ([`flags`]), a status line while
//! live, a clean stop on Ctrl-C / SIGTERM.

mod flags;

pub use flags::LiveArgs;

use crate::failure::Failure;
use crate::status::{self, StatusLine};
use flags::{failure, settings};
use marquee_profile::Config;
use marquee_show::Show;
use marquee_show::follow::Following;
use marquee_studio::OutputState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub fn run(a: LiveArgs) -> Result<(), Failure> {
    marquee_room::playback::validate(&a.playback).map_err(|e| Failure::usage(e.to_string()))?;
    let path = marquee_profile::config::default_path();
    let cfg = Config::load(&path).map_err(|e| Failure::usage(e.to_string()))?;
    let profile = cfg
        .profile(a.profile.as_deref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let mut s = settings(&a, &profile)?;
    // The host's blocked words (the room's, from the config file) mask platform chat too.
    s.blocked_words = cfg
        .app
        .as_ref()
        .map(|a| a.room.blocked_words.clone())
        .unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::runtime(format!("cannot handle signals: {e}")))?;
    }
    let keychain = marquee_profile::Keychain::default();
    let status_line = Arc::new(StatusLine::new());
    let show = Show::start(&s, &keychain, status_line.clone()).map_err(failure)?;
    status::print_start(&s, &show);
    // The control socket is a convenience: if another live session owns it, stay live
    // without it and say why.
    let socket = a
        .highlights
        .control
        .clone()
        .unwrap_or_else(marquee_highlights::control::default_socket_path);
    let control = marquee_highlights::control::ControlServer::start(
        &socket,
        marquee_show::control::handler(Arc::downgrade(&show)),
    )
    .inspect_err(|e| eprintln!("marquee: the control socket is off: {e}"))
    .ok();
    match (&control, show.highlights()) {
        (Some(c), Ok(_)) => eprintln!(
            "  highlights: the last {} s are kept; `marquee clip save` / `marquee clip mark` ({})",
            a.highlights.replay_seconds,
            c.path().display()
        ),
        (_, Err(e)) if a.highlights.replay_seconds > 0 => eprintln!("marquee: {e}"),
        _ => {}
    }
    // Guests signal through the room when this show joins it as its host (the engine opens
    // the guest door there); else through an invite server of this machine's own.
    let (room_guests, through_room) = std::sync::mpsc::channel::<Option<String>>();
    let follower = a.danmaku_from.clone().map(|url| {
        let shown = url.clone();
        let room_guests = room_guests.clone();
        marquee_show::follow::follow_room(
            url,
            a.danmaku_token.clone(),
            a.playback.clone(),
            Arc::downgrade(&show),
            move |state| {
                match &state {
                    Following::GuestsThroughRoom(base) => {
                        let _ = room_guests.send(Some(base.clone()));
                    }
                    Following::Joined | Following::Refused(_) | Following::Failed(_) => {
                        let _ = room_guests.send(None);
                    }
                    _ => {}
                }
                status::print_following(&shown, state)
            },
        )
        .map_err(|e| Failure::runtime(format!("cannot follow the room: {e}")))
    });
    drop(room_guests);
    let follower = follower.transpose()?;
    let through_room = match (show.cohost(), &follower) {
        (Some(_), Some(_)) => through_room
            .recv_timeout(Duration::from_secs(15))
            .ok()
            .flatten(),
        _ => None,
    };
    let invites = match show.cohost() {
        Some(host) if through_room.is_some() => {
            crate::costream::print_links(host)?;
            None
        }
        Some(host) => Some(crate::costream::serve(&a.guests, host)?),
        None => None,
    };
    status_line.release();
    let started = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) && a.duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
        if show.all_destinations_failed() {
            failure = Some("every destination failed; nothing is being streamed".to_string());
            break;
        }
    }
    status::print_stopping();
    // Guests through the room hear that the show ended through it: it stays joined until then.
    let follower = if through_room.is_some() {
        follower
    } else {
        drop(follower);
        None
    };
    let ended = show
        .stop()
        .ok_or_else(|| Failure::runtime("the show had already ended"))?;
    if let Some(host) = show
        .cohost()
        .filter(|_| invites.is_some() || through_room.is_some())
    {
        host.wait_until_guests_told(Duration::from_secs(3));
    }
    drop(invites);
    drop(follower);
    // Saves in flight finish before the replay buffer and control socket go away.
    drop(control);
    drop(show);
    let summary = &ended.summary;
    status::print_summary(summary);
    if let Some(p) = &a.summary_json {
        let json = serde_json::to_string_pretty(&status::summary_json(summary))
            .map_err(|e| Failure::runtime(e.to_string()))?;
        std::fs::write(p, json)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", p.display())))?;
    }
    if let Some(rec) = &summary.stats.recording
        && let OutputState::Failed { reason } = &rec.state
    {
        return Err(Failure::runtime(format!("the recording failed: {reason}")));
    }
    match failure {
        Some(f) => {
            let reasons: Vec<String> = summary
                .stats
                .destinations
                .iter()
                .map(|d| format!("{}: {}", d.url, d.state))
                .collect();
            Err(Failure::runtime(format!("{f} ({})", reasons.join("; "))))
        }
        None => Ok(()),
    }
}
