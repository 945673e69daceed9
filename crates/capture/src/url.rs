//! Values put into URLs.

/// RFC 3986's unreserved characters as they are, every other byte percent-encoded: a value
/// from the keychain or a user's name put into a URL (FFmpeg decodes SRT's `passphrase` and
/// `streamid`; a server decodes a query).
pub fn url_escape(v: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(v, UNRESERVED).to_string()
}
