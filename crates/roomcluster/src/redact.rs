//! Connection strings without their secrets, for errors and logs.

/// `url` with its password replaced by `***`: the `user:password@` of a URL, and the
/// `password=` of key=value settings (quoted or not). Anything else is kept.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (auth_end, _) = rest
            .char_indices()
            .find(|&(_, c)| c == '/' || c == '?' || c == '#')
            .unwrap_or((rest.len(), ' '));
        let (authority, tail) = rest.split_at(auth_end);
        let tail = redact_query(tail);
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            return format!("{scheme}://{user}:***@{host}{tail}");
        }
        return format!("{scheme}://{authority}{tail}");
    }
    redact_keywords(url)
}

/// `password=...` in a URL's query.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// `password=...` in key=value settings (`host=db password='x y' user=u`).
fn redact_keywords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("password") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let after = &after["password".len()..];
        let trimmed = after.trim_start();
        let Some(value) = trimmed.strip_prefix('=') else {
            out.push_str("password");
            rest = after;
            continue;
        };
        out.push_str("password=***");
        let value = value.trim_start();
        rest = if let Some(quoted) = value.strip_prefix('\'') {
            // A quoted value ends at the next quote that is not escaped.
            let mut end = quoted.len();
            let mut esc = false;
            for (i, c) in quoted.char_indices() {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '\'' {
                    end = i + 1;
                    break;
                }
            }
            &quoted[end.min(quoted.len())..]
        } else {
            let end = value.find(char::is_whitespace).unwrap_or(value.len());
            &value[end..]
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_url_password_is_never_shown() {
        assert_eq!(
            redact_url("postgres://room:s3cr@t@db.example:5432/marquee?sslmode=disable"),
            "postgres://room:***@db.example:5432/marquee?sslmode=disable"
        );
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("postgres://db/marquee?user=room&password=hunter2"),
            "postgres://db/marquee?user=room&password=***"
        );
        assert_eq!(
            redact_url("postgres://room@db/marquee"),
            "postgres://room@db/marquee"
        );
    }

    #[test]
    fn a_keyword_password_is_never_shown() {
        assert_eq!(
            redact_url("host=db user=room password=hunter2 dbname=m"),
            "host=db user=room password=*** dbname=m"
        );
        assert_eq!(
            redact_url("host=db password = 'a \\' b' port=5"),
            "host=db password=*** port=5"
        );
    }
}
