//! `marquee room watch`: a room's events in the terminal (a chat view, or JSON lines).

use marquee_room::RoomError;
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient, ws_url};
use marquee_room::protocol::{Control, EventBody};
use marquee_room::room::verify_draw;

/// `marquee room watch`
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// `ws://host:port/room/ROOM/ws`, or the viewer page URL `http://host:port/room/ROOM`.
    #[arg(long)]
    pub url: String,
    /// A token from `marquee room token`.
    #[arg(long)]
    pub token: Option<String>,
    /// Join as a viewer with just a nickname instead of a token.
    #[arg(long)]
    pub nickname: Option<String>,
    /// Print every frame as JSON instead of a chat view.
    #[arg(long)]
    pub json: bool,
    /// PEM certificates to trust for `wss://` besides the system's (a private CA).
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
}

/// One line of the terminal chat view for a client event (None: nothing to print).
pub fn render(ev: &ClientEvent) -> Option<String> {
    Some(match ev {
        ClientEvent::Joined {
            user,
            epoch,
            seq,
            view,
        } => format!(
            "* joined as {} ({}) — epoch {epoch}, seq {seq}, {} viewers",
            user.name, user.role, view.viewers
        ),
        ClientEvent::Event(e) => {
            let body = match &e.body {
                EventBody::Danmaku {
                    user,
                    text,
                    deleted,
                    ..
                } => {
                    if *deleted {
                        format!("{}: (deleted)", user.name)
                    } else {
                        format!("{}: {text}", user.name)
                    }
                }
                EventBody::MessageDeleted { id, by } => format!("* message {id} deleted by {by}"),
                EventBody::Gift {
                    user,
                    gift,
                    count,
                    coins,
                    combo,
                    ..
                } => {
                    format!(
                        "* {} sent {gift} ×{count} ({coins} coins, combo {combo})",
                        user.name
                    )
                }
                EventBody::PollStarted { poll } => {
                    format!("* poll {}: {} {:?}", poll.poll, poll.question, poll.options)
                }
                EventBody::PollEnded { poll } => {
                    format!("* poll {} ended: {:?}", poll.poll, poll.tallies)
                }
                EventBody::Question { question } => {
                    format!("? {}: {}", question.user.name, question.text)
                }
                EventBody::QuestionPinned { question } => match question {
                    Some(q) => format!("* pinned: {}", q.text),
                    None => "* unpinned".into(),
                },
                EventBody::LotteryStarted { lottery } => format!(
                    "* lottery {}: send \"{}\" to win {} (commitment {})",
                    lottery.lottery, lottery.keyword, lottery.prize, lottery.commitment
                ),
                EventBody::LotteryDrawn { lottery, entrants } => {
                    let seed = lottery.seed.as_deref().unwrap_or_default();
                    let check = verify_draw(&lottery.commitment, seed, entrants, &lottery.winners)
                        .map_or_else(|e| format!("does NOT verify: {e}"), |()| "verified".into());
                    format!(
                        "* lottery {} winners {:?} of {} entrants (seed {seed}: {check})",
                        lottery.lottery,
                        lottery.winners,
                        entrants.len()
                    )
                }
                EventBody::UserTimedOut { user, until, by } => {
                    format!("* {user} muted until {until} by {by}")
                }
                EventBody::UserBanned { user, by } => format!("* {user} banned by {by}"),
                EventBody::UserUnbanned { user, by } => format!("* {user} unbanned by {by}"),
                EventBody::BlockedWordsChanged { count, by } => {
                    format!("* {count} blocked words (by {by})")
                }
                EventBody::SettingsChanged { settings, by } => {
                    format!("* settings {settings:?} (by {by})")
                }
                EventBody::StreamStarted { stream } => format!("* stream {stream} started"),
                EventBody::GiftRulesChanged { rules, by } => format!(
                    "* {} free points per stream (by {by})",
                    rules.points_per_stream
                ),
                EventBody::RoomClosed { reason } => format!("* room closed: {reason}"),
                EventBody::ModeratorAppointed { user, by } => {
                    format!(
                        "* {} ({}) is a moderator, appointed by {by}",
                        user.name, user.id
                    )
                }
                EventBody::ModeratorRemoved { user, by } => {
                    format!("* {user} is no longer a moderator (by {by})")
                }
            };
            format!("[{}] {body}", e.seq)
        }
        ClientEvent::NotRecoverable { reason } => {
            format!("* missed events cannot be replayed ({reason}); reloading")
        }
        ClientEvent::History(events) => format!("* {} recent events", events.len()),
        ClientEvent::Control(Control::Error { code, message, .. }) => {
            format!("! {code}: {message}")
        }
        ClientEvent::Control(Control::Presence { viewers, .. }) => format!("* {viewers} viewers"),
        ClientEvent::Control(_) => return None,
        ClientEvent::Disconnected { reason, retry_in } => {
            format!(
                "* disconnected ({reason}); retrying in {} ms",
                retry_in.as_millis()
            )
        }
        ClientEvent::Stopped { code, reason } => format!("! stopped: {code}: {reason}"),
    })
}

/// Print room events as they come until Ctrl-C or the server refuses for good. Blocking.
pub fn watch(args: &WatchArgs) -> Result<(), RoomError> {
    let mut cfg = ClientConfig::new(ws_url(&args.url));
    cfg.token = args.token.clone();
    cfg.nickname = args.nickname.clone();
    if cfg.token.is_none() && cfg.nickname.is_none() {
        cfg.nickname = Some("watcher".into());
    }
    if let Some(f) = &args.ca_file {
        cfg = cfg.ca_pem(std::fs::read(f)?);
    }
    let json = args.json;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let mut client = RoomClient::connect(cfg);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                ev = client.recv() => {
                    let Some(ev) = ev else { return Ok(()) };
                    if json {
                        let line = match &ev {
                            ClientEvent::Event(e) => serde_json::to_string(e).unwrap_or_default(),
                            ClientEvent::Control(c) => serde_json::to_string(c).unwrap_or_default(),
                            ClientEvent::History(h) => {
                                for e in h {
                                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                                }
                                continue;
                            }
                            other => format!("{{\"type\":\"client\",\"note\":{:?}}}", format!("{other:?}")),
                        };
                        println!("{line}");
                    } else if let Some(line) = render(&ev) {
                        println!("{line}");
                    } else if let ClientEvent::History(h) = &ev {
                        for e in h {
                            if let Some(l) = render(&ClientEvent::Event(e.clone())) {
                                println!("{l}");
                            }
                        }
                    }
                    if let ClientEvent::Stopped { code, reason } = ev {
                        return Err(RoomError::Refused { code: code.to_string(), message: reason });
                    }
                }
            }
        }
    })
}
