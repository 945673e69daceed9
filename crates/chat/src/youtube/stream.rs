//! `liveChatMessages.streamList`: YouTube's server-streaming chat (gRPC), the request and the
//! response as protobuf. Field numbers from Google's published `stream_list.proto`
//! (developers.google.com/youtube/v3/live/streaming-live-chat, CC BY 4.0); each response
//! becomes the JSON `liveChatMessages.list` gives for the same page, so [`super::page`] maps
//! both to events. Only what Marquee reads is listed; the rest is skipped as unknown fields.

use crate::proto::{Field, Kind, ProtoError, Writer};
use serde_json::Value;

/// The method's HTTP/2 path: `/package.Service/Method`.
pub const PATH: &str = "/youtube.api.v3.V3DataLiveChatMessageService/StreamList";

/// `LiveChatMessageListRequest`: the chat, where to resume, the parts to send.
pub fn request(chat_id: &str, page_token: Option<&str>) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(1, chat_id);
    if let Some(t) = page_token {
        w.string(99, t);
    }
    w.string(100, "snippet").string(100, "authorDetails");
    w.buf
}

/// One streamed `LiveChatMessageListResponse` as the REST API's JSON page.
pub fn response(message: &[u8]) -> Result<Value, ProtoError> {
    crate::proto::decode(message, RESPONSE)
}

/// `LiveChatMessageSnippet.TypeWrapper.Type`, named as the REST API names `snippet.type`.
const TYPES: &[(u64, &str)] = &[
    (1, "textMessageEvent"),
    (2, "tombstone"),
    (3, "fanFundingEvent"),
    (4, "chatEndedEvent"),
    (5, "sponsorOnlyModeStartedEvent"),
    (6, "sponsorOnlyModeEndedEvent"),
    (7, "newSponsorEvent"),
    (10, "userBannedEvent"),
    (15, "superChatEvent"),
    (16, "superStickerEvent"),
    (17, "memberMilestoneChatEvent"),
    (18, "membershipGiftingEvent"),
    (19, "giftMembershipReceivedEvent"),
    (20, "pollEvent"),
    (21, "giftEvent"),
];

const RESPONSE: &[Field] = &[
    Field::one(2, "offlineAt", Kind::Str),
    Field::one(100602, "nextPageToken", Kind::Str),
    Field::many(1007, "items", Kind::Message(MESSAGE)),
];

const MESSAGE: &[Field] = &[
    Field::one(101, "id", Kind::Str),
    Field::one(2, "snippet", Kind::Message(SNIPPET)),
    Field::one(3, "authorDetails", Kind::Message(AUTHOR)),
];

const AUTHOR: &[Field] = &[
    Field::one(10101, "channelId", Kind::Str),
    Field::one(102, "channelUrl", Kind::Str),
    Field::one(103, "displayName", Kind::Str),
    Field::one(4, "isVerified", Kind::Bool),
    Field::one(5, "isChatOwner", Kind::Bool),
    Field::one(6, "isChatSponsor", Kind::Bool),
    Field::one(7, "isChatModerator", Kind::Bool),
];

const SNIPPET: &[Field] = &[
    Field::one(1, "type", Kind::Enum(TYPES)),
    Field::one(201, "liveChatId", Kind::Str),
    Field::one(301, "authorChannelId", Kind::Str),
    Field::one(4, "publishedAt", Kind::Str),
    Field::one(17, "hasDisplayContent", Kind::Bool),
    Field::one(16, "displayMessage", Kind::Str),
    Field::one(19, "textMessageDetails", Kind::Message(TEXT)),
    Field::one(22, "userBannedDetails", Kind::Message(BANNED)),
    Field::one(27, "superChatDetails", Kind::Message(SUPER_CHAT)),
    Field::one(28, "superStickerDetails", Kind::Message(STICKER)),
    Field::one(29, "newSponsorDetails", Kind::Message(NEW_MEMBER)),
    Field::one(30, "memberMilestoneChatDetails", Kind::Message(MILESTONE)),
    Field::one(31, "membershipGiftingDetails", Kind::Message(GIFTING)),
    Field::one(
        32,
        "giftMembershipReceivedDetails",
        Kind::Message(GIFT_RECEIVED),
    ),
];

const TEXT: &[Field] = &[Field::one(1, "messageText", Kind::Str)];

const BANNED: &[Field] = &[
    Field::one(1, "bannedUserDetails", Kind::Message(PROFILE)),
    Field::one(
        2,
        "banType",
        Kind::Enum(&[(1, "permanent"), (2, "temporary")]),
    ),
    Field::one(4, "banDurationSeconds", Kind::U64),
];

const PROFILE: &[Field] = &[
    Field::one(101, "channelId", Kind::Str),
    Field::one(2, "channelUrl", Kind::Str),
    Field::one(3, "displayName", Kind::Str),
];

const SUPER_CHAT: &[Field] = &[
    Field::one(1, "amountMicros", Kind::U64),
    Field::one(2, "currency", Kind::Str),
    Field::one(3, "amountDisplayString", Kind::Str),
    Field::one(4, "userComment", Kind::Str),
    Field::one(5, "tier", Kind::U32),
];

const STICKER: &[Field] = &[
    Field::one(1, "amountMicros", Kind::U64),
    Field::one(2, "currency", Kind::Str),
    Field::one(3, "amountDisplayString", Kind::Str),
    Field::one(4, "tier", Kind::U32),
    Field::one(5, "superStickerMetadata", Kind::Message(STICKER_META)),
];

const STICKER_META: &[Field] = &[
    Field::one(1, "stickerId", Kind::Str),
    Field::one(2, "altText", Kind::Str),
    Field::one(3, "altTextLanguage", Kind::Str),
];

const NEW_MEMBER: &[Field] = &[
    Field::one(1, "memberLevelName", Kind::Str),
    Field::one(2, "isUpgrade", Kind::Bool),
];

const MILESTONE: &[Field] = &[
    Field::one(1, "memberLevelName", Kind::Str),
    Field::one(2, "memberMonth", Kind::U32),
    Field::one(3, "userComment", Kind::Str),
];

const GIFTING: &[Field] = &[
    Field::one(1, "giftMembershipsCount", Kind::U32),
    Field::one(2, "giftMembershipsLevelName", Kind::Str),
];

const GIFT_RECEIVED: &[Field] = &[
    Field::one(1, "memberLevelName", Kind::Str),
    Field::one(2, "gifterChannelId", Kind::Str),
    Field::one(3, "associatedMembershipGiftingMessageId", Kind::Str),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_chat_the_resume_point_and_the_parts() {
        let r = request("CHAT", Some("TOK"));
        // field 1 "CHAT", field 99 "TOK", field 100 twice (numbers from stream_list.proto).
        let mut want = vec![0x0a, 4];
        want.extend(b"CHAT");
        want.extend([0x9a, 0x06, 3]);
        want.extend(b"TOK");
        want.extend([0xa2, 0x06, 7]);
        want.extend(b"snippet");
        want.extend([0xa2, 0x06, 13]);
        want.extend(b"authorDetails");
        assert_eq!(r, want);
        assert!(!request("CHAT", None).windows(2).any(|w| w == [0x9a, 0x06]));
    }
}
