//! `marquee chat watch`: one platform's chat in the terminal — a line per event, or one JSON
//! object a line with `--json` — with the source's state (connecting, live, reconnecting n,
//! failed: why) among them. `marquee chat login|logout|mod twitch|youtube`: moderating Twitch
//! and YouTube chat with a login kept in the OS keychain. `marquee chat login|logout bilibili-open`: the
//! bilibili open platform's app key pair and 身份码, read from standard input into the keychain.

use crate::failure::Failure;
use marquee_chat::bilibili::{Bilibili, BilibiliConfig, discover};
use marquee_chat::twitch::{Twitch, TwitchConfig};
use marquee_chat::youtube::{Youtube, YoutubeConfig};
use marquee_chat::{ChatEvent, ChatSource, DriverConfig, EventBody, SourceState, User};
use std::io::Write;

#[derive(clap::Subcommand)]
pub enum ChatCmd {
    /// Print a platform's live chat, gifts and moderation as they arrive (Ctrl-C stops).
    Watch(WatchArgs),
    /// Log in to a platform to moderate its chat from Marquee (kept in the OS keychain).
    Login {
        #[command(subcommand)]
        platform: LoginArg,
    },
    /// Forget a platform login.
    Logout {
        #[command(subcommand)]
        platform: LogoutArg,
    },
    /// Delete a message, time a user out or ban them on the platform.
    Mod {
        #[command(subcommand)]
        platform: ModArg,
    },
}

#[derive(clap::Subcommand)]
pub enum LoginArg {
    /// Twitch, with a device code: open the address printed, enter the code, approve.
    Twitch {
        /// The Client ID of a public application registered at dev.twitch.tv/console
        /// (Twitch gives every app its own; Marquee's build carries none).
        #[arg(long)]
        client_id: String,
        /// A local server answering as id.twitch.tv (tests).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// YouTube, with Google's device code: reads the OAuth client's secret from standard input
    /// (never the command line), then open the address printed, enter the code, approve.
    Youtube {
        /// The client ID of an OAuth client of type "TVs and Limited Input devices" in your
        /// Google Cloud project (YouTube Data API v3 enabled).
        #[arg(long)]
        client_id: String,
        /// A local server answering as oauth2.googleapis.com (tests).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// bilibili's live open platform (直播开放平台): reads three lines from standard input
    /// (never the command line) — the developer app's access key id, its access key secret,
    /// and the streamer's 身份码 — into the OS keychain.
    BilibiliOpen {
        /// The developer app's id (项目ID) in the open platform's console.
        #[arg(long)]
        app_id: u64,
        /// Read only the 身份码 (one line): the key pair stays as stored.
        #[arg(long)]
        code_only: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum LogoutArg {
    Twitch,
    Youtube,
    /// Forget the key pair and 身份码 stored for this open-platform app.
    BilibiliOpen {
        #[arg(long)]
        app_id: u64,
    },
}

#[derive(clap::Subcommand)]
pub enum ModArg {
    /// Exactly one of --delete, --timeout or --ban.
    Twitch {
        /// The channel's login name.
        #[arg(long)]
        channel: String,
        #[command(flatten)]
        action: ModActionArgs,
        /// A local server answering as Twitch's API and id.twitch.tv (tests).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Exactly one of --delete, --timeout (a temporary ban) or --ban (permanent).
    Youtube {
        /// The live video whose chat it is.
        #[arg(long)]
        video: String,
        #[command(flatten)]
        action: ModActionArgs,
        /// A local server answering as Google's OAuth and the Data API (tests).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

/// What to do, as `marquee chat watch … --json` names messages and users.
#[derive(clap::Args)]
pub struct ModActionArgs {
    /// Delete this message (its id).
    #[arg(long, conflicts_with_all = ["timeout", "ban"])]
    delete: Option<String>,
    /// Time this user out (Twitch: their user id; YouTube: their channel id).
    #[arg(long, conflicts_with = "ban")]
    timeout: Option<String>,
    /// How long a timeout lasts.
    #[arg(long, value_parser = crate::util::parse_duration, default_value = "10m")]
    duration: std::time::Duration,
    /// Ban this user for good (Twitch: their user id; YouTube: their channel id).
    #[arg(long)]
    ban: Option<String>,
    /// Twitch only: the reason shown with the ban.
    #[arg(long, default_value = "")]
    reason: String,
}

impl ModActionArgs {
    fn action(self) -> Result<marquee_chat::moderation::ModAction, Failure> {
        use marquee_chat::moderation::ModAction;
        let ModActionArgs {
            delete,
            timeout,
            duration,
            ban,
            reason,
        } = self;
        Ok(match (delete, timeout, ban) {
            (Some(message_id), None, None) => ModAction::Delete { message_id },
            (None, Some(user_id), None) => ModAction::Timeout {
                user_id,
                seconds: duration.as_secs().clamp(1, 1_209_600) as u32,
                reason,
            },
            (None, None, Some(user_id)) => ModAction::Ban { user_id, reason },
            _ => {
                return Err(Failure::usage(
                    "say what to do: exactly one of --delete MESSAGE_ID, --timeout USER_ID or \
                     --ban USER_ID",
                ));
            }
        })
    }
}

#[derive(clap::Args)]
pub struct WatchArgs {
    #[command(subcommand)]
    platform: PlatformArg,
    /// One JSON object a line instead of chat lines.
    #[arg(long, global = true)]
    json: bool,
    /// Connect to this URL instead of the platform's own endpoint (a local test server): the
    /// WebSocket for bilibili and Twitch, the API root (`…/youtube/v3`) for YouTube.
    #[arg(long, global = true)]
    endpoint: Option<String>,
}

#[derive(clap::Subcommand)]
enum PlatformArg {
    /// bilibili danmaku, read anonymously (other viewers' names arrive masked).
    Bilibili {
        /// The room id (the long one from the room page).
        #[arg(long)]
        room: u64,
    },
    /// bilibili through the live open platform with the streamer's 身份码: real names, gifts
    /// with prices (store the secrets first: `marquee chat login bilibili-open`).
    BilibiliOpen {
        /// The developer app's id (项目ID).
        #[arg(long)]
        app_id: u64,
        /// The open platform's HTTP API root instead of bilibili's (a local test server).
        #[arg(long)]
        api: Option<String>,
    },
    /// Twitch chat, read anonymously.
    Twitch {
        /// The channel's login name.
        #[arg(long)]
        channel: String,
    },
    /// YouTube Live chat through the Data API (needs an API key in the OS keychain).
    Youtube {
        /// The live video's id (the part after watch?v=).
        #[arg(long)]
        video: String,
        /// The keychain entry holding the YouTube Data API v3 key.
        #[arg(long, default_value = "youtube-api-key")]
        key_name: String,
        /// Call at most this often (stretches the daily quota: each stream or poll costs 5 of
        /// 10,000 units a day).
        #[arg(long, value_parser = crate::util::parse_duration)]
        min_interval: Option<std::time::Duration>,
        /// Poll `liveChatMessages.list` instead of streaming with `streamList` (gRPC; the
        /// default, and the quota-friendlier one).
        #[arg(long)]
        poll: bool,
    },
}

fn source(args: &WatchArgs) -> Result<Box<dyn ChatSource>, Failure> {
    let ep = args.endpoint.clone();
    Ok(match &args.platform {
        PlatformArg::BilibiliOpen { app_id, api } => Box::new(
            marquee_show::chat::bilibili_open_source(
                &marquee_profile::Keychain::default(),
                *app_id,
                api.as_deref(),
                ep.as_deref(),
            )
            .map_err(Failure::usage)?,
        ),
        PlatformArg::Bilibili { room } => {
            let mut cfg = BilibiliConfig::new(*room);
            if let Some(url) = ep {
                cfg.url = url;
            }
            Box::new(Bilibili::new(cfg))
        }
        PlatformArg::Twitch { channel } => {
            let name = channel.trim_start_matches('#');
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Failure::usage(format!(
                    "Twitch: '{channel}' is not a channel name (letters, digits and _)"
                )));
            }
            let mut cfg = TwitchConfig::new(name);
            if let Some(url) = ep {
                cfg.url = url;
            }
            Box::new(Twitch::new(cfg))
        }
        PlatformArg::Youtube {
            video,
            key_name,
            min_interval,
            poll,
        } => {
            let key = marquee_profile::Keychain::default()
                .get(key_name)
                .map_err(|e| match e {
                    marquee_profile::KeyError::Missing(_) => Failure::usage(format!(
                        "YouTube needs a YouTube Data API v3 key in the OS keychain: create one in \
                         the Google Cloud console and store it with \
                         `printf %s \"$KEY\" | marquee key set {key_name}`"
                    )),
                    e => Failure::runtime(format!("YouTube: {e}")),
                })?;
            let mut cfg = YoutubeConfig::new(video, key);
            if let Some(url) = ep {
                cfg.url = url;
            }
            if let Some(d) = min_interval {
                cfg.min_interval = *d;
            }
            cfg.stream = !poll;
            Box::new(Youtube::new(cfg))
        }
    })
}

pub fn run(c: ChatCmd) -> Result<(), Failure> {
    use marquee_show::moderate;
    let keychain = marquee_profile::Keychain::default();
    let args = match c {
        ChatCmd::Watch(args) => args,
        ChatCmd::Login {
            platform:
                LoginArg::Twitch {
                    client_id,
                    endpoint,
                },
        } => {
            let ends = moderate::twitch_endpoints(endpoint.as_deref());
            moderate::twitch_login(&keychain, &client_id, &ends, |code: &str, uri: &str| {
                eprintln!("Twitch: open {uri} and enter the code {code} (waiting for approval…)");
            })
            .map_err(Failure::runtime)?;
            eprintln!("Twitch: logged in; the login is kept in the OS keychain");
            return Ok(());
        }
        ChatCmd::Login {
            platform:
                LoginArg::Youtube {
                    client_id,
                    endpoint,
                },
        } => {
            let secret = read_secret_line(
                "YouTube",
                "OAuth client secret",
                "the client secret of your “TVs and Limited Input devices” client",
            )?;
            let ends = moderate::youtube_endpoints(endpoint.as_deref());
            moderate::youtube_login(
                &keychain,
                &client_id,
                &secret,
                &ends,
                |code: &str, uri: &str| {
                    eprintln!(
                        "YouTube: open {uri} and enter the code {code} (waiting for approval…)"
                    );
                },
            )
            .map_err(Failure::runtime)?;
            eprintln!("YouTube: logged in; the login is kept in the OS keychain");
            return Ok(());
        }
        ChatCmd::Login {
            platform: LoginArg::BilibiliOpen { app_id, code_only },
        } => return bilibili_open_login(&keychain, app_id, code_only),
        ChatCmd::Logout {
            platform: LogoutArg::Twitch,
        } => return moderate::twitch_logout(&keychain).map_err(Failure::runtime),
        ChatCmd::Logout {
            platform: LogoutArg::Youtube,
        } => return moderate::youtube_logout(&keychain).map_err(Failure::runtime),
        ChatCmd::Logout {
            platform: LogoutArg::BilibiliOpen { app_id },
        } => {
            marquee_show::chat::bilibili_open_forget(&keychain, app_id)
                .map_err(Failure::runtime)?;
            eprintln!("bilibili open platform: forgot what was stored for app {app_id}");
            return Ok(());
        }
        ChatCmd::Mod {
            platform:
                ModArg::Twitch {
                    channel,
                    action,
                    endpoint,
                },
        } => {
            let ends = moderate::twitch_endpoints(endpoint.as_deref());
            moderate::twitch_moderate(&keychain, &ends, &channel, &action.action()?)
                .map_err(Failure::runtime)?;
            eprintln!("Twitch: done");
            return Ok(());
        }
        ChatCmd::Mod {
            platform:
                ModArg::Youtube {
                    video,
                    action,
                    endpoint,
                },
        } => {
            let ends = moderate::youtube_endpoints(endpoint.as_deref());
            moderate::youtube_moderate(&keychain, &ends, &video, &action.action()?)
                .map_err(Failure::runtime)?;
            eprintln!("YouTube: done");
            return Ok(());
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))?;
    // bilibili wants the real room id (a short one is looked up), and its danmaku host and
    // token as the web client gets them, unless --endpoint skips all of it.
    let src = match (&args.platform, &args.endpoint) {
        (PlatformArg::Bilibili { room }, None) => {
            let p = rt
                .block_on(discover::prepare(*room, &discover::Endpoints::default()))
                .map_err(Failure::runtime)?;
            if let Some(w) = &p.warning {
                eprintln!("bilibili: {w}");
            }
            if !p.live {
                eprintln!(
                    "bilibili: room {} is not live now; waiting for its chat",
                    p.config.room_id
                );
            }
            Box::new(Bilibili::new(p.config))
        }
        _ => source(&args)?,
    };
    rt.block_on(watch(src, args.json))
}

/// Secrets piped or typed on standard input, one a line (a prompt for each on a terminal):
/// never on the command line, where other users' `ps` would see them.
struct SecretLines {
    prompt: bool,
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl SecretLines {
    fn new() -> Self {
        use std::io::{BufRead, IsTerminal};
        let stdin = std::io::stdin();
        Self {
            prompt: stdin.is_terminal(),
            lines: stdin.lock().lines(),
        }
    }

    /// The next line, trimmed; `missing()` says what was expected when there is none.
    fn read(&mut self, what: &str, missing: impl FnOnce() -> String) -> Result<String, Failure> {
        if self.prompt {
            eprint!("{what}: ");
        }
        let line = (self.lines.next().transpose())
            .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?
            .unwrap_or_default();
        let line = line.trim().to_string();
        if line.is_empty() {
            return Err(Failure::usage(missing()));
        }
        Ok(line)
    }
}

/// One secret line from standard input for `platform`.
fn read_secret_line(platform: &str, what: &str, hint: &str) -> Result<String, Failure> {
    SecretLines::new().read(what, || {
        format!("{platform}: no {what} on standard input: pipe or type {hint}")
    })
}

/// Reads the open platform's secrets from standard input (a prompt for each on a terminal)
/// into the keychain.
fn bilibili_open_login(
    keychain: &marquee_profile::Keychain,
    app_id: u64,
    code_only: bool,
) -> Result<(), Failure> {
    let mut lines = SecretLines::new();
    let mut read = |what: &str| {
        lines.read(what, || {
            format!(
                "bilibili open platform: no {what} on standard input (one a line: access key \
                 id, access key secret, 身份码; with --code-only just the 身份码)"
            )
        })
    };
    let key = if code_only {
        None
    } else {
        Some(marquee_chat::bilibili::open::sign::AccessKey {
            id: read("access key id")?,
            secret: read("access key secret")?,
        })
    };
    let code = read("the streamer's 身份码")?;
    marquee_show::chat::bilibili_open_store(keychain, app_id, key.as_ref(), Some(&code))
        .map_err(Failure::runtime)?;
    eprintln!(
        "bilibili open platform: stored for app {app_id} in the OS keychain; watch with \
         `marquee chat watch bilibili-open --app-id {app_id}`"
    );
    Ok(())
}

async fn watch(src: Box<dyn ChatSource>, json: bool) -> Result<(), Failure> {
    let mut h = marquee_chat::spawn(src, DriverConfig::default());
    let stdout = std::io::stdout();
    loop {
        let ev = tokio::select! {
            ev = h.recv() => ev,
            _ = tokio::signal::ctrl_c() => {
                h.shutdown(std::time::Duration::from_secs(5)).await;
                return Ok(());
            }
        };
        let Some(ev) = ev else {
            return Ok(());
        };
        let line = if json {
            serde_json::to_string(&ev).unwrap_or_default()
        } else {
            render(&ev)
        };
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            // The reader went away (a closed pipe): nothing left to do.
            return Ok(());
        }
        drop(out);
        if let EventBody::State(SourceState::Failed { reason }) = ev.body {
            return Err(Failure::runtime(reason));
        }
    }
}

fn who(u: &User) -> String {
    let mut s = String::new();
    for b in &u.badges {
        s.push('[');
        s.push_str(b);
        s.push_str("] ");
    }
    s.push_str(if u.name.is_empty() { "?" } else { &u.name });
    s
}

/// One terminal line for an event.
pub fn render(ev: &ChatEvent) -> String {
    let p = ev.platform;
    let body = match &ev.body {
        EventBody::Message { user, text, .. } => format!("{}: {text}", who(user)),
        EventBody::Cheer {
            user, bits, text, ..
        } => format!("{} cheered {bits} bits: {text}", who(user)),
        EventBody::Gift {
            user,
            gift,
            count,
            value,
        } => match value {
            Some(v) => format!(
                "{} sent {gift} ×{count} ({:.2} {})",
                who(user),
                v.amount,
                v.currency
            ),
            None => format!("{} sent {gift} ×{count}", who(user)),
        },
        EventBody::SuperChat {
            user,
            text,
            value,
            sticker,
            ..
        } => {
            let amount = value
                .display
                .clone()
                .unwrap_or_else(|| format!("{:.2} {}", value.amount, value.currency));
            match sticker {
                Some(s) => format!("$ {} sent a {amount} sticker: {s}", who(user)),
                None => format!("$ {} ({amount}): {text}", who(user)),
            }
        }
        EventBody::Membership {
            user,
            level,
            months,
            ..
        } => match months {
            Some(m) => format!("* {} joined as {level} ×{m}", who(user)),
            None => format!("* {} joined as {level}", who(user)),
        },
        EventBody::Subscription {
            user,
            kind,
            plan,
            months,
            gifted_to,
            count,
            text,
        } => {
            let mut s = format!("* {} {kind} ({plan})", who(user));
            if let Some(m) = months {
                s.push_str(&format!(", {m} months"));
            }
            if let Some(to) = gifted_to {
                s.push_str(&format!(" to {to}"));
            }
            if let Some(n) = count {
                s.push_str(&format!(", {n} subs"));
            }
            if !text.is_empty() {
                s.push_str(&format!(": {text}"));
            }
            s
        }
        EventBody::Raid { user, viewers } => {
            format!("* {} raided with {viewers} viewers", who(user))
        }
        EventBody::Interaction { user, action } => {
            format!(
                "* {} {}",
                who(user),
                match action {
                    marquee_chat::Interaction::Enter => "entered",
                    marquee_chat::Interaction::Follow => "followed",
                    marquee_chat::Interaction::Share => "shared the room",
                    marquee_chat::Interaction::Like => "liked the stream",
                }
            )
        }
        EventBody::MessageDeleted { id, user } => match user {
            Some(u) => format!("* a message by {u} was deleted ({id})"),
            None => format!("* message {id} was deleted"),
        },
        EventBody::UserBanned {
            user, duration_s, ..
        } => match duration_s {
            Some(s) => format!("* {} timed out for {s} s", user.name),
            None => format!("* {} banned", user.name),
        },
        EventBody::ChatCleared => "* chat cleared by a moderator".into(),
        EventBody::Notice { text, .. } => format!("* {text}"),
        EventBody::SourceNote { text, .. } => format!("note: {text}"),
        EventBody::Popularity { value } => format!("* popularity {value}"),
        EventBody::ChatEnded => "* the live chat ended".into(),
        EventBody::Dropped { count } => {
            format!("* {count} events dropped: the terminal fell behind")
        }
        EventBody::State(s) => match s {
            SourceState::Connecting => "* connecting".into(),
            SourceState::Live => "* live".into(),
            SourceState::Reconnecting {
                attempt,
                retry_in_ms,
                reason,
            } => format!("* reconnecting (attempt {attempt}, in {retry_in_ms} ms): {reason}"),
            SourceState::Failed { reason } => format!("! failed: {reason}"),
        },
    };
    format!("[{p}] {body}")
}
