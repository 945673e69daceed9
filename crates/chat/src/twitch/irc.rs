//! IRC message parsing with IRCv3 tags, as Twitch sends it:
//! `@tag=value;… :prefix COMMAND param … :trailing`. Tag values are unescaped per the IRCv3
//! message-tags spec (`\s` space, `\:` semicolon, `\\`, `\r`, `\n`).

/// Lines longer than this are dropped (Twitch's own are a few KiB with tags).
pub const MAX_LINE: usize = 16 * 1024;
const MAX_PARAMS: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    tags: Vec<(&'a str, String)>,
    pub prefix: Option<&'a str>,
    pub command: &'a str,
    pub params: Vec<&'a str>,
}

impl<'a> Message<'a> {
    /// A tag's unescaped value; None when absent or empty.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The nick in a `nick!user@host` prefix.
    pub fn nick(&self) -> Option<&'a str> {
        self.prefix.map(|p| p.split('!').next().unwrap_or(p))
    }

    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params.get(i).copied()
    }
}

pub fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some(':') => out.push(';'),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// One line (without its CRLF); None for an empty or malformed line.
pub fn parse(line: &str) -> Option<Message<'_>> {
    if line.len() > MAX_LINE {
        return None;
    }
    let mut rest = line.trim_start_matches(' ');
    let mut tags = Vec::new();
    if let Some(r) = rest.strip_prefix('@') {
        let (raw, after) = r.split_once(' ')?;
        for pair in raw.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            tags.push((k, unescape(v)));
        }
        rest = after.trim_start_matches(' ');
    }
    let mut prefix = None;
    if let Some(r) = rest.strip_prefix(':') {
        let (p, after) = r.split_once(' ')?;
        prefix = Some(p);
        rest = after.trim_start_matches(' ');
    }
    let (command, mut rest) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if command.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() || params.len() >= MAX_PARAMS {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            params.push(trailing);
            break;
        }
        match rest.split_once(' ') {
            Some((p, r)) => {
                params.push(p);
                rest = r;
            }
            None => {
                params.push(rest);
                break;
            }
        }
    }
    Some(Message {
        tags,
        prefix,
        command,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_prefix_command_and_trailing_parse() {
        // dev.twitch.tv/docs/irc/tags (PRIVMSG example).
        let m = parse("@badge-info=;badges=broadcaster/1;color=#0000FF;display-name=abc;emotes=;id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0 :abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :HeyGuys").unwrap();
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, vec!["#xyz", "HeyGuys"]);
        assert_eq!(m.nick(), Some("abc"));
        assert_eq!(m.tag("color"), Some("#0000FF"));
        assert_eq!(m.tag("badge-info"), None);
    }

    #[test]
    fn tag_values_are_unescaped() {
        let m = parse(r"@system-msg=ronni\shas\ssubscribed\sfor\s6\smonths!\:) :tmi.twitch.tv USERNOTICE #dallas").unwrap();
        assert_eq!(
            m.tag("system-msg"),
            Some("ronni has subscribed for 6 months!;)")
        );
    }

    #[test]
    fn garbage_never_panics() {
        for l in [
            "", "@", "@a", ":", ": x", "@a=b :p", "PING", " :x", "@;;; A :", "\\",
        ] {
            let _ = parse(l);
        }
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet = b"@:; =\\!#abcPRIVMSG\r\n ";
        for _ in 0..5000 {
            let s: String = (0..rng.usize(..40))
                .map(|_| alphabet[rng.usize(..alphabet.len())] as char)
                .collect();
            let _ = parse(&s);
        }
    }
}
