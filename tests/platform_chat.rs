//! Platform chat in a live show (`marquee live --chat`): a Twitch chat line from a local IRC-
//! over-WebSocket server reaches the highlight signals beside the recording, and a second
//! source whose server refuses the connection only says so on the status line while the show
//! goes on to its end. Logins kept in the keychain: Twitch's for moderating, bilibili's open
//! platform's (key pair and 身份码) for its chat, whose secrets never show.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use marquee_e2e::{Run, assert_exited_ok, free_port, marquee_in, tempdir};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A PRIVMSG with tags, from Twitch's documentation (dev.twitch.tv/docs/irc/tags, "PRIVMSG
/// tags" example), its channel set to the one joined.
const HEYGUYS: &str = "@badge-info=;badges=broadcaster/1;client-nonce=997dcf443c31e258c1d32a8da47b6936;color=#0000FF;display-name=abc;emotes=;first-msg=0;flags=0-6:S.7;id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0;room-id=713936733;subscriber=0;tmi-sent-ts=1642786203573;turbo=0;user-id=713936733;user-type= :abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :HeyGuys";

/// A Twitch chat server for one reader: answers the anonymous login (CAP ACK, 001, the JOIN
/// echo, as tmi.twitch.tv does), then sends one chat line and holds the connection.
fn twitch_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let serve = async {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let mut lines = Vec::new();
                while !lines.iter().any(|l: &String| l.starts_with("JOIN ")) {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) => {
                            lines.extend(t.as_str().lines().map(str::to_string))
                        }
                        Some(Ok(_)) => {}
                        other => panic!("the reader left before joining: {other:?}"),
                    }
                }
                let nick = lines
                    .iter()
                    .find_map(|l| l.strip_prefix("NICK "))
                    .expect("a NICK line")
                    .to_string();
                let hello = format!(
                    ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n:tmi.twitch.tv 001 {nick} :Welcome, GLHF!\r\n:{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #xyz\r\n{HEYGUYS}\r\n"
                );
                ws.send(Message::text(hello)).await.unwrap();
                // Hold the connection (answering nothing more) until the show ends.
                while let Some(Ok(_)) = ws.next().await {}
            };
            // The show ends within its --duration; the server does not outlive the test.
            let _ = tokio::time::timeout(Duration::from_secs(60), serve).await;
        });
    });
    (url, thread)
}

/// The `danmaku` counts in a signals file (one JSON object a line).
fn danmaku_in(signals: &str) -> u64 {
    signals
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("danmaku").and_then(|d| d.as_u64()))
        .sum()
}

#[test]
fn a_twitch_chat_line_reaches_the_signals_and_a_refused_source_leaves_the_show_running() {
    let home = tempdir("marquee-chat-live-");
    let rec = home.path().join("chat.mkv");
    let (twitch, server) = twitch_server();
    // Nothing listens here: bilibili's connection is refused at every attempt.
    let refused = format!("ws://127.0.0.1:{}/sub", free_port());
    let mut c = marquee_in(home.path());
    c.args([
        "live", "--video", "test", "--audio", "none", "--size", "320x180",
    ])
    .args(["--duration", "5s", "--replay-seconds", "0"])
    .args(["--chat", "twitch:xyz", "--chat", "bilibili:21452505"])
    .arg("--chat-endpoint")
    .arg(format!("twitch={twitch}"))
    .arg("--chat-endpoint")
    .arg(format!("bilibili={refused}"))
    .arg("--record")
    .arg(&rec)
    .env("MARQUEE_CONTROL", home.path().join("live.sock"));
    let mut run = Run::spawn(c);
    assert!(
        run.wait_for_stderr("chat twitch:xyz: live", Duration::from_secs(30)),
        "{}",
        run.report()
    );
    assert!(
        run.wait_for_stderr(
            "chat bilibili:21452505: reconnecting",
            Duration::from_secs(30)
        ),
        "{}",
        run.report()
    );
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);
    server.join().unwrap();

    let stderr = run.stderr();
    assert!(!stderr.contains("every destination failed"), "{stderr}");
    let signals = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".signals.jsonl"))
        .unwrap_or_else(|| panic!("no signals file beside the recording\n{}", run.report()));
    let text = std::fs::read_to_string(&signals).unwrap();
    assert_eq!(danmaku_in(&text), 1, "one chat line counted: {text}");
    assert!(
        std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0) > 10_000,
        "the recording went on to its end"
    );
}

/// `tests/bin/platform_chat_servers` (built with this package): its Twitch API base, and the
/// API calls it answered as they are printed.
struct ChatServers {
    child: std::process::Child,
    api: String,
    /// The open platform's API base, and its app and secrets (`bilibili_open_app`).
    open_api: String,
    open_app: serde_json::Value,
    /// Google's OAuth + the Data API, and the client and video (`youtube_client`).
    youtube_api: String,
    youtube_client: serde_json::Value,
    calls: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl ChatServers {
    fn start() -> ChatServers {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_platform_chat_servers"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start platform_chat_servers");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let (tx, calls) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&l) {
                    let _ = tx.send(v);
                }
            }
        });
        ChatServers {
            child,
            api: first["twitch_api"].as_str().unwrap().to_string(),
            open_api: first["bilibili_open"].as_str().unwrap().to_string(),
            open_app: first["bilibili_open_app"].clone(),
            youtube_api: first["youtube_api"].as_str().unwrap().to_string(),
            youtube_client: first["youtube_client"].clone(),
            calls,
        }
    }

    /// The calls answered so far.
    fn calls(&self) -> Vec<String> {
        self.calls
            .try_iter()
            .map(|v| {
                format!(
                    "{} {}",
                    v["api"].as_str().unwrap_or(""),
                    v["body"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

impl Drop for ChatServers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_twitch_login_kept_in_the_keychain_deletes_times_out_and_bans_through_helix() {
    let kc = marquee_e2e::Keychain::start();
    let servers = ChatServers::start();
    let home = tempdir("marquee-home-");
    let chat = |args: &[&str]| {
        let mut c = marquee_in(home.path());
        c.arg("chat").args(args).envs(kc.env());
        let mut run = Run::spawn(c);
        run.wait(Duration::from_secs(60));
        run
    };

    let before = chat(&[
        "mod",
        "twitch",
        "--channel",
        "thechannel",
        "--delete",
        "m1",
        "--endpoint",
        &servers.api,
    ]);
    assert!(
        !before.status().is_some_and(|s| s.success()) && before.stderr().contains("not logged in"),
        "moderating without a login says so\n{}",
        before.report()
    );

    let login = chat(&[
        "login",
        "twitch",
        "--client-id",
        "abc123",
        "--endpoint",
        &servers.api,
    ]);
    assert_exited_ok(&login);
    assert!(
        login.stderr().contains("ABCDEFGH")
            && login.stderr().contains("https://www.twitch.tv/activate"),
        "the code and where to enter it are shown\n{}",
        login.report()
    );
    // The token is in the keychain, in no file under the home.
    let token = "rfx2uswqe8l4g1mkagrvg5tv0ks3";
    assert_in_no_file(home.path(), token);
    assert!(!login.stderr().contains(token) && !login.stdout().contains(token));

    for args in [
        &["--delete", "eb24e920-8065-492a-8aea-266a00fc5126"][..],
        &["--timeout", "9876", "--duration", "10m", "--reason", "spam"],
        &["--ban", "9876"],
    ] {
        let mut all = vec![
            "mod",
            "twitch",
            "--channel",
            "thechannel",
            "--endpoint",
            &servers.api,
        ];
        all.extend_from_slice(args);
        let run = chat(&all);
        assert_exited_ok(&run);
    }
    let calls = servers.calls();
    let want = [
        "DELETE /helix/moderation/chat?broadcaster_id=1234&moderator_id=5678&message_id=eb24e920-8065-492a-8aea-266a00fc5126",
        r#"POST /helix/moderation/bans?broadcaster_id=1234&moderator_id=5678 {"data":{"duration":600,"reason":"spam","user_id":"9876"}}"#,
        r#"POST /helix/moderation/bans?broadcaster_id=1234&moderator_id=5678 {"data":{"reason":"","user_id":"9876"}}"#,
    ];
    for w in want {
        assert!(
            calls.iter().any(|c| c.trim_end() == w),
            "Helix never got `{w}`; it got:\n{}",
            calls.join("\n")
        );
    }

    let out = chat(&["logout", "twitch"]);
    assert_exited_ok(&out);
    let after = chat(&[
        "mod",
        "twitch",
        "--channel",
        "thechannel",
        "--ban",
        "9876",
        "--endpoint",
        &servers.api,
    ]);
    assert!(
        after.stderr().contains("not logged in"),
        "{}",
        after.report()
    );
}

#[test]
fn a_youtube_login_from_standard_input_deletes_and_bans_in_the_live_chat_and_its_secrets_show_nowhere()
 {
    let kc = marquee_e2e::Keychain::start();
    let servers = ChatServers::start();
    let home = tempdir("marquee-home-");
    let client = &servers.youtube_client;
    let (client_id, secret, video) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
        client["video"].as_str().unwrap(),
    );
    let chat = |args: &[&str], input: &str| {
        let mut c = marquee_in(home.path());
        c.arg("chat").args(args).envs(kc.env());
        let mut run = Run::spawn_with_input(c, input.as_bytes());
        run.wait(Duration::from_secs(60));
        run
    };
    let api = servers.youtube_api.as_str();
    let modr = |what: &[&str]| {
        let mut all = vec!["mod", "youtube", "--video", video, "--endpoint", api];
        all.extend_from_slice(what);
        chat(&all, "")
    };

    let before = modr(&["--delete", "m1"]);
    assert!(
        !before.status().is_some_and(|s| s.success())
            && before.stderr().contains("not logged in")
            && before.stderr().contains("marquee chat login youtube"),
        "moderating without a login says how to log in\n{}",
        before.report()
    );
    let no_secret = chat(
        &[
            "login",
            "youtube",
            "--client-id",
            client_id,
            "--endpoint",
            api,
        ],
        "",
    );
    assert!(
        no_secret
            .stderr()
            .contains("YouTube: no OAuth client secret on standard input"),
        "{}",
        no_secret.report()
    );
    assert_eq!(
        no_secret.status().and_then(|s| s.code()),
        Some(2),
        "a usage error"
    );

    let login = chat(
        &[
            "login",
            "youtube",
            "--client-id",
            client_id,
            "--endpoint",
            api,
        ],
        &format!("{secret}\n"),
    );
    assert_exited_ok(&login);
    assert!(
        login.stderr().contains("GQVQ-JKEC")
            && login.stderr().contains("https://www.google.com/device"),
        "the code and where to enter it are shown\n{}",
        login.report()
    );
    // The token and the client secret are in the keychain, in no file and no output.
    for leak in ["1/fFAGRNJru1FTz70BzhT3Zg", secret] {
        assert_in_no_file(home.path(), leak);
        assert!(!login.stderr().contains(leak) && !login.stdout().contains(leak));
    }

    for what in [
        &["--delete", "LCC.abc"][..],
        &["--timeout", "UCspammer", "--duration", "5m"],
        &["--ban", "UCspammer"],
    ] {
        assert_exited_ok(&modr(what));
    }
    let calls = servers.calls();
    let want = [
        "DELETE /youtube/v3/liveChat/messages?id=LCC.abc",
        r#"POST /youtube/v3/liveChat/bans?part=snippet {"snippet":{"banDurationSeconds":300,"bannedUserDetails":{"channelId":"UCspammer"},"liveChatId":"Cg0KC2RRdzR3OVdnWGNR","type":"temporary"}}"#,
        r#"POST /youtube/v3/liveChat/bans?part=snippet {"snippet":{"bannedUserDetails":{"channelId":"UCspammer"},"liveChatId":"Cg0KC2RRdzR3OVdnWGNR","type":"permanent"}}"#,
    ];
    for w in want {
        assert!(
            calls.iter().any(|c| c.trim_end() == w),
            "the Data API never got `{w}`; it got:\n{}",
            calls.join("\n")
        );
    }
    let refused = modr(&["--ban", "UCforbidden"]);
    assert!(
        refused
            .stderr()
            .contains("YouTube: this login may not moderate this chat"),
        "{}",
        refused.report()
    );

    assert_exited_ok(&chat(&["logout", "youtube"], ""));
    assert!(
        modr(&["--ban", "UCspammer"])
            .stderr()
            .contains("not logged in")
    );
}

#[test]
fn bilibili_open_platform_events_print_as_json_and_its_secrets_show_nowhere() {
    let kc = marquee_e2e::Keychain::start();
    let servers = ChatServers::start();
    let home = tempdir("marquee-home-");
    let app = &servers.open_app;
    let app_id = app["app_id"].as_u64().unwrap().to_string();
    let secrets: Vec<String> = ["key_id", "key_secret", "code"]
        .iter()
        .map(|k| app[*k].as_str().unwrap().to_string())
        .collect();
    let chat = |args: &[&str]| {
        let mut c = marquee_in(home.path());
        c.arg("chat").args(args).envs(kc.env());
        c
    };

    let mut login = Run::spawn_with_input(
        chat(&["login", "bilibili-open", "--app-id", &app_id]),
        format!("{}\n{}\n{}\n", secrets[0], secrets[1], secrets[2]).as_bytes(),
    );
    login.wait(Duration::from_secs(60));
    assert_exited_ok(&login);

    let watch = chat(&[
        "watch",
        "bilibili-open",
        "--app-id",
        &app_id,
        "--json",
        "--api",
        &servers.open_api,
    ]);
    let argv: Vec<String> = std::iter::once(watch.get_program())
        .chain(watch.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut run = Run::spawn(watch);
    let guard_seen = run.wait_output(Duration::from_secs(60), |out, _| {
        out.contains(r#""type":"membership""#)
    });
    assert!(guard_seen, "the events arrive\n{}", run.report());
    // Ctrl-C: the watch ends the open-platform session on its way out.
    run.interrupt(Duration::from_secs(30));
    assert_exited_ok(&run);

    let out = run.stdout();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &str| lines.iter().find(|v| v["type"] == t).cloned();
    let msg = of("message").expect("a danmaku line");
    assert_eq!(msg["platform"], "bilibili");
    assert_eq!(msg["text"], "你们谁扔个小心心呗");
    assert_eq!(
        msg["user"]["name"], "猫裙少年泽远喵",
        "names are not masked"
    );
    assert_eq!(msg["user"]["id"], "39b8fedb-60a5-4e29-ac75-b16955f7e632");
    let gift = of("gift").expect("a gift line");
    assert_eq!(
        (gift["gift"].as_str(), gift["count"].as_u64()),
        (Some("小花花"), Some(5))
    );
    assert_eq!(gift["value"]["amount"], 0.5);
    let sc = of("super_chat").expect("a super chat line");
    assert_eq!(sc["value"]["amount"], 30.0);
    assert_eq!(of("membership").expect("a guard line")["level"], "舰长");
    assert!(lines.iter().any(|v| v["state"] == "live"));

    let calls = servers.calls();
    for path in ["POST /v2/app/start", "POST /v2/app/end"] {
        assert!(
            calls.iter().any(|c| c.starts_with(path)),
            "the API never got `{path}`; it got:\n{}",
            calls.join("\n")
        );
    }
    for secret in &secrets {
        for (what, text) in [
            (
                "the watch's output",
                format!("{}{}", run.stdout(), run.stderr()),
            ),
            (
                "the login's output",
                format!("{}{}", login.stdout(), login.stderr()),
            ),
            ("the command line", argv.join(" ")),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into {what}"
            );
        }
        assert_in_no_file(home.path(), secret);
    }

    let mut out = Run::spawn(chat(&["logout", "bilibili-open", "--app-id", &app_id]));
    out.wait(Duration::from_secs(60));
    assert_exited_ok(&out);
    let mut after = Run::spawn(chat(&[
        "watch",
        "bilibili-open",
        "--app-id",
        &app_id,
        "--api",
        &servers.open_api,
    ]));
    after.wait(Duration::from_secs(60));
    assert!(
        after.stderr().contains("marquee chat login bilibili-open"),
        "without the secrets the watch says how to store them\n{}",
        after.report()
    );
}

#[test]
fn a_bilibili_open_platform_source_feeds_the_show_and_its_session_ends_with_the_show() {
    let kc = marquee_e2e::Keychain::start();
    let servers = ChatServers::start();
    let home = tempdir("marquee-chat-open-live-");
    let app = &servers.open_app;
    let app_id = app["app_id"].as_u64().unwrap().to_string();
    let mut login = marquee_in(home.path());
    login
        .args(["chat", "login", "bilibili-open", "--app-id", &app_id])
        .envs(kc.env());
    let lines = format!(
        "{}\n{}\n{}\n",
        app["key_id"].as_str().unwrap(),
        app["key_secret"].as_str().unwrap(),
        app["code"].as_str().unwrap()
    );
    let mut login = Run::spawn_with_input(login, lines.as_bytes());
    login.wait(Duration::from_secs(60));
    assert_exited_ok(&login);

    let rec = home.path().join("open.mkv");
    let mut c = marquee_in(home.path());
    c.args([
        "live", "--video", "test", "--audio", "none", "--size", "320x180",
    ])
    .args(["--duration", "5s", "--replay-seconds", "0"])
    .arg("--chat")
    .arg(format!("bilibili-open:{app_id}"))
    .arg("--chat-endpoint")
    .arg(format!("bilibili-open={}", servers.open_api))
    .arg("--record")
    .arg(&rec)
    .env("MARQUEE_CONTROL", home.path().join("live.sock"))
    .envs(kc.env());
    let mut run = Run::spawn(c);
    assert!(
        run.wait_for_stderr(
            &format!("chat bilibili-open:{app_id}: live"),
            Duration::from_secs(30)
        ),
        "{}",
        run.report()
    );
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);

    let signals = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".signals.jsonl"))
        .unwrap_or_else(|| panic!("no signals file beside the recording\n{}", run.report()));
    let text = std::fs::read_to_string(&signals).unwrap();
    assert_eq!(danmaku_in(&text), 1, "the one danmaku counted: {text}");
    let calls = servers.calls();
    assert!(
        calls.iter().any(|c| c.starts_with("POST /v2/app/end")),
        "the show's end ends the open-platform session; the API got:\n{}",
        calls.join("\n")
    );
}

/// No file under `dir` holds `secret`.
fn assert_in_no_file(dir: &std::path::Path, secret: &str) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "a secret leaked into {}",
            entry.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
