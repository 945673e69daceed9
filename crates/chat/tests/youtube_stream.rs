//! YouTube's streaming chat (`liveChatMessages.streamList`, gRPC) against a real gRPC server:
//! Python's grpcio serving the messages protoc generates from Google's published
//! stream_list.proto (support/youtube_grpc). `videos.list` is answered by a local HTTP/1.1
//! server in the REST shape, as in youtube.rs.
//!
//! Frame sources: the streamList method and its resume-by-`pageToken` loop
//! (developers.google.com/youtube/v3/live/docs/liveChatMessages/streamList and the
//! "Streaming Live Chat" guide, …/youtube/v3/live/streaming-live-chat), the fields of each
//! message type (stream_list.proto on that page; the same content as the REST frames in
//! youtube.rs, written in proto3 JSON for protoc's encoder), the quota message of
//! …/youtube/v3/docs/errors (quotaExceeded). Ids and texts are ours.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::youtube::{Youtube, YoutubeConfig};
use marquee_chat::{ChatSource, EventBody, Input, Output, SourceState, spawn};
use serde_json::json;
use std::time::{Duration, Instant};
use support::youtube_grpc::GrpcServer;
use support::*;

const VIDEOS: &str = r#"{"kind":"youtube#videoListResponse","items":[{"kind":"youtube#video","id":"dQw4w9WgXcQ","liveStreamingDetails":{"actualStartTime":"2026-12-05T10:00:00Z","activeLiveChatId":"Cg0KC2RRdzR3OVdnWGNR"}}]}"#;
const CHAT: &str = "Cg0KC2RRdzR3OVdnWGNR";

fn first_page() -> serde_json::Value {
    json!({"kind": "youtube#liveChatMessageListResponse", "nextPageToken": "S1", "items": [
      {"kind": "youtube#liveChatMessage", "id": "LCC.msg1", "snippet": {"type": "TEXT_MESSAGE_EVENT",
        "liveChatId": CHAT, "authorChannelId": "UCviewer", "publishedAt": "2026-12-05T10:00:01Z",
        "hasDisplayContent": true, "displayMessage": "hello from YouTube",
        "textMessageDetails": {"messageText": "hello from YouTube"}},
       "authorDetails": {"channelId": "UCviewer", "displayName": "Viewer One",
        "isChatSponsor": true, "isChatModerator": true}},
      {"id": "LCC.sc1", "snippet": {"type": "SUPER_CHAT_EVENT", "publishedAt": "2026-12-05T10:00:02Z",
        "displayMessage": "$5.00 from Fan: great show", "superChatDetails": {"amountMicros": "5000000",
        "currency": "USD", "amountDisplayString": "$5.00", "userComment": "great show", "tier": 2}},
       "authorDetails": {"channelId": "UCfan", "displayName": "Fan"}}]})
}

fn second_page() -> serde_json::Value {
    json!({"nextPageToken": "S2", "items": [
      {"id": "LCC.st1", "snippet": {"type": "SUPER_STICKER_EVENT", "superStickerDetails": {
        "superStickerMetadata": {"stickerId": "s1", "altText": "Thumbs up", "altTextLanguage": "en"},
        "amountMicros": "2000000", "currency": "EUR", "amountDisplayString": "€2.00", "tier": 1}},
       "authorDetails": {"channelId": "UCs", "displayName": "Stickerer"}},
      {"id": "LCC.sp1", "snippet": {"type": "NEW_SPONSOR_EVENT", "displayMessage": "Welcome",
        "newSponsorDetails": {"memberLevelName": "Gold", "isUpgrade": false}},
       "authorDetails": {"channelId": "UCm", "displayName": "New Member"}},
      {"id": "LCC.ban1", "snippet": {"type": "USER_BANNED_EVENT", "displayMessage": "Spammer was hidden",
        "userBannedDetails": {"bannedUserDetails": {"channelId": "UCspam", "displayName": "Spammer"},
        "banType": "TEMPORARY", "banDurationSeconds": "300"}},
       "authorDetails": {"channelId": "UCmod", "displayName": "Mod"}}]})
}

async fn videos_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    http_server(|path| {
        if path.starts_with("/youtube/v3/videos?") {
            (200, VIDEOS.into())
        } else {
            (200, r#"{"pollingIntervalMillis":60000,"nextPageToken":"P1","items":[
 {"id":"LCC.poll1","snippet":{"type":"textMessageEvent","displayMessage":"polled","textMessageDetails":{"messageText":"polled"}},"authorDetails":{"channelId":"UCp","displayName":"Poller"}}]}"#.into())
        }
    })
    .await
}

fn config(api: &str, server: &GrpcServer) -> YoutubeConfig {
    let mut cfg = YoutubeConfig::new("dQw4w9WgXcQ", "test-key/+".into());
    cfg.url = format!("{api}/youtube/v3");
    cfg.stream_origin = Some(server.origin.clone());
    cfg
}

fn kind(b: &EventBody) -> String {
    serde_json::to_value(b).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn streams_each_line_as_it_is_said_and_resumes_at_the_last_page_token() {
    let mut server = GrpcServer::start(json!({"calls": [
        {"responses": [{"page": first_page()}, {"wait": true, "page": second_page()}]},
        {"status": "UNAVAILABLE", "message": "backend restarting"},
        {"responses": [{"page": {"offlineAt": "2026-12-05T11:00:00Z", "nextPageToken": "S3",
            "items": [{"id": "LCC.end", "snippet": {"type": "CHAT_ENDED_EVENT"}}]}}]},
    ]}));
    let (api, mut paths) = videos_server().await;
    let mut h = spawn(Box::new(Youtube::new(config(&api, &server))), fast());

    // The first page arrives while the call is still open: the server holds the rest until
    // told, so these events cannot have waited for the call to end.
    let first = events_until(&mut h, |b| matches!(b, EventBody::SuperChat { .. })).await;
    assert_eq!(
        first.iter().map(kind).collect::<Vec<_>>(),
        ["state", "state", "message", "super_chat"]
    );
    let EventBody::Message { user, text, id, .. } = &first[2] else {
        unreachable!()
    };
    assert_eq!(
        (text.as_str(), id.as_deref()),
        ("hello from YouTube", Some("LCC.msg1"))
    );
    assert_eq!(user.badges, vec!["moderator", "member"]);
    let EventBody::SuperChat { value, text, .. } = &first[3] else {
        unreachable!()
    };
    assert_eq!((value.amount, value.currency.as_str()), (5.0, "USD"));
    assert_eq!(
        (value.display.as_deref(), text.as_str()),
        (Some("$5.00"), "great show")
    );
    let call = server.next_call();
    assert_eq!(call["live_chat_id"], CHAT);
    assert_eq!(call["page_token"], serde_json::Value::Null);
    assert_eq!(call["part"], json!(["snippet", "authorDetails"]));
    assert_eq!(
        call["api_key"], "test-key/+",
        "the key travels as x-goog-api-key"
    );

    server.go();
    let rest = events_until(&mut h, |b| {
        is_state(b, |s| matches!(s, SourceState::Failed { .. }))
    })
    .await;
    assert_eq!(
        rest.iter().map(kind).collect::<Vec<_>>(),
        [
            "super_chat",
            "membership",
            "user_banned",
            "state",
            "state",
            "chat_ended",
            "state"
        ]
    );
    assert!(
        matches!(&rest[0], EventBody::SuperChat { sticker: Some(s), value, .. }
        if s == "Thumbs up" && value.amount == 2.0 && value.currency == "EUR")
    );
    assert!(matches!(&rest[1], EventBody::Membership { level, .. } if level == "Gold"));
    assert!(
        matches!(&rest[2], EventBody::UserBanned { user, duration_s: Some(300), by: Some(by) }
        if user.name == "Spammer" && by == "Mod")
    );
    assert!(
        matches!(&rest[3], EventBody::State(SourceState::Reconnecting { reason, .. })
            if reason.contains("gRPC status 14") && reason.contains("backend restarting")),
        "{:?}",
        rest[3]
    );
    let EventBody::State(SourceState::Failed { reason }) = &rest[6] else {
        unreachable!()
    };
    assert!(
        reason.contains("YouTube") && reason.contains("has ended"),
        "{reason}"
    );

    // Each call resumes where the last page left off, also across the reconnect.
    assert_eq!(server.next_call()["page_token"], "S2");
    assert_eq!(server.next_call()["page_token"], "S2");
    let mut rest_paths = Vec::new();
    while let Ok(p) = paths.try_recv() {
        rest_paths.push(p);
    }
    assert_eq!(
        rest_paths.len(),
        1,
        "videos.list once, no poll: {rest_paths:?}"
    );
    assert!(rest_paths[0].starts_with("/youtube/v3/videos?"));
}

#[tokio::test]
async fn an_exhausted_quota_on_the_stream_fails_with_what_to_do() {
    let server = GrpcServer::start(json!({"calls": [{"status": "RESOURCE_EXHAUSTED",
        "message": "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>."}]}));
    let (api, _paths) = videos_server().await;
    let mut h = spawn(Box::new(Youtube::new(config(&api, &server))), fast());
    let reason = failure(&mut h).await;
    assert!(
        reason.contains("quota") && reason.contains("midnight Pacific"),
        "{reason}"
    );
    assert!(
        !reason.contains("test-key"),
        "the key never appears in a message"
    );
}

#[tokio::test]
async fn a_server_without_streaming_chat_is_polled_instead_and_says_so() {
    let server = GrpcServer::start(json!({"unimplemented": true}));
    let (api, mut paths) = videos_server().await;
    let mut h = spawn(Box::new(Youtube::new(config(&api, &server))), fast());
    let evs = events_until(&mut h, |b| matches!(b, EventBody::Message { .. })).await;
    assert!(
        evs.iter()
            .any(|b| matches!(b, EventBody::SourceNote { code, text }
            if code == "youtube_polling" && text.contains("polling instead"))),
        "{evs:?}"
    );
    let EventBody::Message { text, .. } = evs.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(text, "polled");
    assert!(
        paths
            .recv()
            .await
            .unwrap()
            .starts_with("/youtube/v3/videos?")
    );
    assert!(
        paths
            .recv()
            .await
            .unwrap()
            .starts_with("/youtube/v3/liveChat/messages?"),
        "then polled"
    );
}

/// The next call after a stream ends: at once, but never sooner than a second (or the
/// chosen minimum) after the last one started, since each costs quota.
#[test]
fn the_next_stream_starts_no_sooner_than_the_minimum_after_the_last() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut cfg = YoutubeConfig::new("v", "secret-key".into());
    cfg.url = "https://youtube.example/youtube/v3".into();
    cfg.min_interval = s(20);
    let mut y = Youtube::new(cfg);
    y.connected(t0);
    y.handle_timeout(t0);
    while y.poll_output().is_some() {}
    y.handle_input(
        t0,
        Input::Http {
            status: 200,
            body: VIDEOS.as_bytes(),
        },
    );
    y.handle_timeout(t0);
    let Some(Output::GrpcCall(call)) = y.poll_output() else {
        panic!("a streaming call")
    };
    assert_eq!(
        call.origin, "https://youtube.example",
        "the API's own origin"
    );
    assert_eq!(
        call.path,
        "/youtube.api.v3.V3DataLiveChatMessageService/StreamList"
    );
    assert!(
        !format!("{call:?}").contains("secret-key"),
        "Debug hides the key"
    );
    assert_eq!(y.poll_timeout(), None, "one call at a time");
    y.handle_input(
        t0 + s(10),
        Input::GrpcEnd {
            code: 0,
            message: "",
        },
    );
    assert_eq!(y.poll_timeout(), Some(t0 + s(20)));
}
