//! The YouTube adapter against a local server answering the Data API v3 the way Google does:
//! `videos.list` for the live chat id, then `liveChatMessages.list` pages chained by
//! `nextPageToken`, paced by `pollingIntervalMillis`, with an error body on the way.
//!
//! Frame sources: the field layout of the liveChatMessages resource and of the list response
//! (developers.google.com/youtube/v3/live/docs/liveChatMessages and …/liveChatMessages/list),
//! `videos` `liveStreamingDetails.activeLiveChatId` (…/youtube/v3/docs/videos), and the
//! error body shape with `errors[0].reason` (…/youtube/v3/docs/errors, e.g. quotaExceeded).
//! Ids and texts are ours.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::youtube::{Youtube, YoutubeConfig};
use marquee_chat::{EventBody, SourceState, spawn};
use std::sync::atomic::{AtomicU32, Ordering};
use support::*;

const VIDEOS: &str = r#"{"kind":"youtube#videoListResponse","etag":"x","items":[{"kind":"youtube#video","etag":"y","id":"dQw4w9WgXcQ","liveStreamingDetails":{"actualStartTime":"2026-12-05T10:00:00Z","concurrentViewers":"42","activeLiveChatId":"Cg0KC2RRdzR3OVdnWGNR"}}],"pageInfo":{"totalResults":1,"resultsPerPage":1}}"#;

const PAGE1: &str = r#"{"kind":"youtube#liveChatMessageListResponse","etag":"e1","pollingIntervalMillis":30,"pageInfo":{"totalResults":2,"resultsPerPage":2},"nextPageToken":"GO1","items":[
 {"kind":"youtube#liveChatMessage","etag":"a","id":"LCC.msg1","snippet":{"type":"textMessageEvent","liveChatId":"Cg0KC2RRdzR3OVdnWGNR","authorChannelId":"UCviewer","publishedAt":"2026-12-05T10:00:01Z","hasDisplayContent":true,"displayMessage":"hello from YouTube","textMessageDetails":{"messageText":"hello from YouTube"}},"authorDetails":{"channelId":"UCviewer","channelUrl":"http://www.youtube.com/channel/UCviewer","displayName":"Viewer One","profileImageUrl":"https://yt3.ggpht.com/a","isVerified":false,"isChatOwner":false,"isChatSponsor":true,"isChatModerator":true}},
 {"kind":"youtube#liveChatMessage","etag":"b","id":"LCC.sc1","snippet":{"type":"superChatEvent","liveChatId":"Cg0KC2RRdzR3OVdnWGNR","authorChannelId":"UCfan","publishedAt":"2026-12-05T10:00:02Z","hasDisplayContent":true,"displayMessage":"$5.00 from Fan: great show","superChatDetails":{"amountMicros":"5000000","currency":"USD","amountDisplayString":"$5.00","userComment":"great show","tier":2}},"authorDetails":{"channelId":"UCfan","displayName":"Fan","isVerified":false,"isChatOwner":false,"isChatSponsor":false,"isChatModerator":false}}]}"#;

const PAGE2: &str = r#"{"kind":"youtube#liveChatMessageListResponse","pollingIntervalMillis":30,"nextPageToken":"GO2","items":[
 {"id":"LCC.st1","snippet":{"type":"superStickerEvent","publishedAt":"2026-12-05T10:00:03Z","hasDisplayContent":true,"displayMessage":"","superStickerDetails":{"superStickerMetadata":{"stickerId":"s1","altText":"Thumbs up","language":"en"},"amountMicros":"2000000","currency":"EUR","amountDisplayString":"€2.00","tier":1}},"authorDetails":{"channelId":"UCs","displayName":"Stickerer"}},
 {"id":"LCC.sp1","snippet":{"type":"newSponsorEvent","publishedAt":"2026-12-05T10:00:04Z","hasDisplayContent":true,"displayMessage":"Welcome","newSponsorDetails":{"memberLevelName":"Gold","isUpgrade":false}},"authorDetails":{"channelId":"UCm","displayName":"New Member"}},
 {"id":"LCC.del1","snippet":{"type":"messageDeletedEvent","publishedAt":"2026-12-05T10:00:05Z","hasDisplayContent":false,"messageDeletedDetails":{"deletedMessageId":"LCC.msg1"}},"authorDetails":{"channelId":"UCmod","displayName":"Mod"}},
 {"id":"LCC.ban1","snippet":{"type":"userBannedEvent","publishedAt":"2026-12-05T10:00:06Z","hasDisplayContent":true,"displayMessage":"Spammer was hidden","userBannedDetails":{"bannedUserDetails":{"channelId":"UCspam","channelUrl":"http://www.youtube.com/channel/UCspam","displayName":"Spammer","profileImageUrl":"x"},"banType":"temporary","banDurationSeconds":"300"}},"authorDetails":{"channelId":"UCmod","displayName":"Mod"}}]}"#;

const ENDED: &str = r#"{"kind":"youtube#liveChatMessageListResponse","pollingIntervalMillis":30,"offlineAt":"2026-12-05T11:00:00Z","nextPageToken":"GO3","items":[]}"#;

const UNAVAILABLE: &str = r#"{"error":{"code":503,"message":"The service is currently unavailable.","errors":[{"message":"The service is currently unavailable.","domain":"global","reason":"backendError"}]}}"#;
const QUOTA: &str = r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.","errors":[{"message":"quota","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#;

#[tokio::test]
async fn polls_pages_in_token_order_and_survives_a_server_error() {
    let failed_once = AtomicU32::new(0);
    let (base, mut paths) = http_server(move |path| {
        if path.starts_with("/youtube/v3/videos?") {
            return (200, VIDEOS.into());
        }
        if path.contains("pageToken=GO2") {
            if failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
                return (503, UNAVAILABLE.into());
            }
            return (200, ENDED.into());
        }
        if path.contains("pageToken=GO1") {
            return (200, PAGE2.into());
        }
        (200, PAGE1.into())
    })
    .await;
    let mut cfg = YoutubeConfig::new("dQw4w9WgXcQ", "test-key/+".into());
    cfg.url = format!("{base}/youtube/v3");
    cfg.stream = false;
    let mut h = spawn(Box::new(Youtube::new(cfg)), fast());

    let evs = events_until(&mut h, |b| {
        is_state(b, |s| matches!(s, SourceState::Failed { .. }))
    })
    .await;
    let kinds: Vec<_> = evs
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "state",
            "state",
            "message",
            "super_chat",
            "super_chat",
            "membership",
            "message_deleted",
            "user_banned",
            "state",
            "state",
            "chat_ended",
            "state"
        ]
    );
    let EventBody::Message { user, text, .. } = &evs[2] else {
        unreachable!()
    };
    assert_eq!(text, "hello from YouTube");
    assert_eq!(user.badges, vec!["moderator", "member"]);
    let EventBody::SuperChat { value, text, .. } = &evs[3] else {
        unreachable!()
    };
    assert_eq!((value.amount, value.currency.as_str()), (5.0, "USD"));
    assert_eq!(value.display.as_deref(), Some("$5.00"));
    assert_eq!(text, "great show");
    assert!(matches!(&evs[4], EventBody::SuperChat { sticker: Some(s), .. } if s == "Thumbs up"));
    assert!(matches!(&evs[5], EventBody::Membership { level, .. } if level == "Gold"));
    assert!(matches!(&evs[6], EventBody::MessageDeleted { id, .. } if id == "LCC.msg1"));
    assert!(matches!(
        &evs[7],
        EventBody::UserBanned { user, duration_s: Some(300), .. } if user.name == "Spammer"
    ));
    assert!(matches!(
        &evs[8],
        EventBody::State(SourceState::Reconnecting { reason, .. }) if reason.contains("503")
    ));
    let EventBody::State(SourceState::Failed { reason }) = &evs[11] else {
        unreachable!()
    };
    assert!(
        reason.contains("YouTube") && reason.contains("ended"),
        "{reason}"
    );

    let mut seen = Vec::new();
    while let Ok(p) = paths.try_recv() {
        seen.push(p);
    }
    assert!(seen[0].starts_with("/youtube/v3/videos?part=liveStreamingDetails&id=dQw4w9WgXcQ"));
    assert!(
        seen[0].contains("key=test-key%2F%2B"),
        "the key is query-encoded"
    );
    assert!(seen[1].contains("liveChatId=Cg0KC2RRdzR3OVdnWGNR"));
    assert!(!seen[1].contains("pageToken"));
    assert!(seen[2].contains("pageToken=GO1"));
    assert!(seen[3].contains("pageToken=GO2"));
    assert!(
        seen[4].contains("pageToken=GO2"),
        "the failed page is asked again"
    );
    assert_eq!(seen.len(), 5);
}

#[tokio::test]
async fn an_exhausted_quota_fails_with_what_to_do() {
    let (base, _paths) = http_server(|path| {
        if path.starts_with("/v3/videos") {
            (200, VIDEOS.into())
        } else {
            (403, QUOTA.into())
        }
    })
    .await;
    let mut cfg = YoutubeConfig::new("dQw4w9WgXcQ", "k".into());
    cfg.url = format!("{base}/v3");
    cfg.stream = false;
    let mut h = spawn(Box::new(Youtube::new(cfg)), fast());
    let reason = failure(&mut h).await;
    assert!(
        reason.contains("quota") && reason.contains("midnight Pacific"),
        "{reason}"
    );
    assert!(
        !reason.contains("key=k"),
        "the key never appears in a message"
    );
}

#[tokio::test]
async fn a_video_without_live_chat_fails_plainly() {
    let (base, _paths) = http_server(|_| {
        (
            200,
            r#"{"items":[{"id":"abc","liveStreamingDetails":{"actualEndTime":"x"}}]}"#.into(),
        )
    })
    .await;
    let mut cfg = YoutubeConfig::new("abc", "k".into());
    cfg.url = base;
    cfg.stream = false;
    let mut h = spawn(Box::new(Youtube::new(cfg)), fast());
    let reason = failure(&mut h).await;
    assert!(reason.contains("no active live chat"), "{reason}");
}
