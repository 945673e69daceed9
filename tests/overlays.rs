//! Overlays burnt into the stream by `marquee live --overlay`: a text line and a danmaku
//! layer fed over the control socket appear in the recording; switching the text off
//! removes it from the following frames.

use marquee_e2e::{
    RoomServer, Run, assert_exited_ok, control_request, exec, gray_frames, marquee_in, program,
    tempdir,
};
use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

const W: u32 = 640;
const H: u32 = 360;

/// Bright pixels (text) in rows `y0..y1` of a luma plane.
fn bright(luma: &[u8], y0: u32, y1: u32) -> usize {
    luma[(y0 * W) as usize..(y1 * W) as usize]
        .iter()
        .filter(|&&y| y > 200)
        .count()
}

#[test]
fn text_and_danmaku_overlays_are_burnt_in_and_switch_off() {
    let home = tempdir("marquee-overlay-");
    let rec = home.path().join("overlay.mkv");
    let socket = home.path().join("live.sock");
    let mut c = marquee_in(home.path());
    // A black-ish file-less source would be ideal; the test card's top band is black
    // behind its code and its lower quarter is a solid tint, so the text goes bottom centre.
    c.args([
        "live", "--video", "test", "--audio", "none", "--size", "640x360",
    ])
    .args(["--duration", "6s", "--replay-seconds", "0"])
    .args([
        "--overlay",
        "title=text:LIVE 直播中@bc",
        "--overlay",
        "chat=danmaku",
    ])
    .arg("--record")
    .arg(&rec)
    .env("MARQUEE_CONTROL", &socket);
    let mut run = Run::spawn(c);
    std::thread::sleep(Duration::from_millis(1500));
    let a = control_request(&socket, "comment 前方高能 666");
    assert!(a.starts_with("ok"), "{a}");
    std::thread::sleep(Duration::from_millis(2000));
    let a = control_request(&socket, "overlay title off");
    assert!(a.starts_with("ok"), "{a}");
    let a = control_request(&socket, "overlay nope off");
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);

    let frames = gray_frames(&rec, W, H);
    assert!(frames.len() >= 170, "{} frames", frames.len());
    let at = |s: f64| &frames[(s * 30.0) as usize];
    // The test card has no bright pixels in its bottom rows; the title puts some there
    // until it is switched off at ~3.5 s.
    let bottom = (H - 50, H);
    assert!(bright(at(1.0), bottom.0, bottom.1) > 200, "title drawn");
    assert_eq!(
        bright(at(5.5), bottom.0, bottom.1),
        0,
        "title gone after off"
    );
    // The comment scrolls in from the right edge in the top lanes. The card's last bar
    // (x 560..640) is black above its bouncing box, so text there is the comment.
    let lane = |f: &[u8]| -> usize {
        (0..120)
            .map(|y| {
                f[(y * W + 560) as usize..((y + 1) * W) as usize]
                    .iter()
                    .filter(|&&v| v > 200)
                    .count()
            })
            .sum()
    };
    assert_eq!(lane(at(1.0)), 0, "no danmaku before it was sent");
    assert!(
        lane(at(2.5)) > 30,
        "the comment is on screen: {}",
        lane(at(2.5))
    );
    assert!(a.starts_with("err"), "unknown overlay id is an error: {a}");
}

/// Bright pixels anywhere in a luma plane.
fn bright_anywhere(luma: &[u8]) -> usize {
    luma.iter().filter(|&&y| y > 200).count()
}

/// The burnt-in danmaku follows a real room server (`marquee room serve`, joined with
/// `--danmaku-from`): a moderator's delete takes the comment off the video at once, long
/// before it would have scrolled off by itself.
#[test]
fn a_danmaku_deleted_by_a_moderator_leaves_the_burnt_in_video() {
    use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
    use marquee_room::protocol::{ClientMsg, EventBody};

    let home = tempdir("marquee-overlay-del-");
    let dir = home.path();
    // A black source: any bright pixel in the recording is the overlay.
    let black = dir.join("black.mp4");
    let mut ff = Command::new(program("ffmpeg"));
    ff.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi"])
        .args(["-i", "color=c=black:size=640x360:rate=30", "-t", "3"])
        .args(["-c:v", "libx264", "-preset", "ultrafast"])
        .arg(&black);
    let made = exec(ff, Duration::from_secs(60));
    assert!(made.success(), "ffmpeg: {}", made.all_output());

    let secret = dir.join("room.secret");
    let home = dir.to_path_buf();
    let mut server = RoomServer::start_with(
        move || marquee_in(&home),
        "127.0.0.1:0",
        [OsStr::new("--db"), dir.join("room.db").as_os_str()]
            .into_iter()
            .chain([OsStr::new("--secret-file"), secret.as_os_str()]),
    );
    let addr = server.addr();
    let token = |user: &str, role: &str| {
        let mut c = marquee_in(dir);
        c.args([
            "room", "token", "--room", "show", "--user", user, "--role", role,
        ])
        .arg("--secret-file")
        .arg(&secret);
        let d = exec(c, Duration::from_secs(20));
        assert!(d.success(), "token: {}", d.all_output());
        d.stdout_str().trim().to_string()
    };
    let url = server.ws_url("show");
    // The host opens the room; the overlay and the moderator join it.
    marquee_e2e::open_room(&addr.to_string(), "show", &token("host", "host")).unwrap();

    let rec = dir.join("del.mkv");
    let mut c = marquee_in(dir);
    c.args(["live", "--video", &format!("file:{}", black.display())])
        .args(["--audio", "none", "--size", "640x360", "--fps", "30"])
        .args(["--duration", "10s", "--replay-seconds", "0"])
        .args(["--overlay", "chat=danmaku", "--danmaku-from", &url])
        .args(["--danmaku-token", &token("overlay", "viewer")])
        .arg("--record")
        .arg(&rec);
    let mut run = Run::spawn(c);
    assert!(
        run.wait_for_stderr("danmaku overlay: following", Duration::from_secs(20)),
        "the live session did not join the room: {}",
        run.report()
    );
    std::thread::sleep(Duration::from_millis(1000));

    // A moderator says something, then deletes it 1.5 s later.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut m = RoomClient::connect(ClientConfig::new(&url).token(token("mod", "moderator")));
        let next = async |m: &mut RoomClient| {
            tokio::time::timeout(Duration::from_secs(10), m.recv())
                .await
                .expect("room event within 10 s")
                .expect("client open")
        };
        while !matches!(next(&mut m).await, ClientEvent::Joined { .. }) {}
        m.send(ClientMsg::Danmaku {
            text: "剧透: 凶手是管家 SPOILER".into(),
            color: None,
            mode: Default::default(),
        })
        .await
        .unwrap();
        let id = loop {
            if let ClientEvent::Event(e) = next(&mut m).await
                && let EventBody::Danmaku { id, .. } = e.body
            {
                break id;
            }
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        m.send(ClientMsg::Delete { id }).await.unwrap();
        loop {
            if let ClientEvent::Event(e) = next(&mut m).await
                && matches!(e.body, EventBody::MessageDeleted { .. })
            {
                break;
            }
        }
    });
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);
    server.run_mut().terminate(Duration::from_secs(5));

    let frames = gray_frames(&rec, W, H);
    let lit: Vec<usize> = frames.iter().map(|f| bright_anywhere(f)).collect();
    eprintln!("bright pixels per frame: {lit:?}");
    // The first frames may show the slate until the file's first picture is decoded.
    let start = lit
        .iter()
        .position(|&n| n == 0)
        .expect("the black source shows");
    let first = start
        + lit[start..]
            .iter()
            .position(|&n| n > 30)
            .unwrap_or_else(|| panic!("the comment never appeared: {lit:?}"));
    // Shown for a while (it was deleted ~1.5 s after it was sent) ...
    assert!(
        lit[first..first + 20].iter().all(|&n| n > 30),
        "on screen until deleted: {:?}",
        &lit[first..first + 20]
    );
    // ... then gone for good, while without the delete it would scroll for 8 s.
    let gone = first + 90;
    assert!(
        lit.len() > first + 180,
        "the recording runs long enough to tell: {} frames, comment at {first}",
        lit.len()
    );
    assert!(
        lit[gone..].iter().all(|&n| n == 0),
        "deleted comment still burnt in from frame {gone}: {:?}",
        &lit[gone..]
    );
}
