//! bilibili's WBI request signing (`w_rid`, `wts`), which `getDanmuInfo` has required since
//! 2025-05-26. From bilibili-API-collect docs/misc/sign/wbi.md:
//! 1. `img_key` and `sub_key` are the file names (no extension) of `wbi_img.img_url` and
//!    `wbi_img.sub_url` in the nav API's answer (given without a login too);
//! 2. `mixin_key` is `img_key + sub_key` reordered by a fixed table, first 32 characters;
//! 3. the parameters plus `wts` (unix seconds), sorted by name, values without `!'()*`,
//!    percent-encoded (upper-case hex, space as `%20`), joined with `&`, then `mixin_key`
//!    appended: its MD5 in lower-case hex is `w_rid`.

use md5::{Digest, Md5};

/// The reordering of `img_key + sub_key` (docs/misc/sign/wbi.md, `MIXIN_KEY_ENC_TAB`).
const MIXIN_KEY_ENC_TAB: [usize; 64] = [
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29,
    28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25,
    54, 21, 56, 59, 6, 63, 57, 62, 11, 36, 20, 34, 44, 52,
];

/// The signing key from the two keys (each 32 ASCII characters); None for anything else.
pub fn mixin_key(img_key: &str, sub_key: &str) -> Option<String> {
    let raw: Vec<u8> = format!("{img_key}{sub_key}").into_bytes();
    if raw.len() != 64 || !raw.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let key: String = MIXIN_KEY_ENC_TAB.iter().map(|&i| raw[i] as char).collect();
    Some(key[..32].to_string())
}

/// The two keys from a nav answer's `data.wbi_img` (it is there with code -101, not logged
/// in, as well as with 0).
pub fn keys_from_nav(body: &[u8]) -> Result<(String, String), String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| "bilibili's nav API answered something unreadable".to_string())?;
    let name = |k: &str| {
        let url = v["data"]["wbi_img"][k].as_str()?;
        let file = url.rsplit('/').next()?;
        Some(file.split('.').next()?.to_string())
    };
    match (name("img_url"), name("sub_url")) {
        (Some(img), Some(sub)) if mixin_key(&img, &sub).is_some() => Ok((img, sub)),
        _ => Err(format!(
            "bilibili's nav API gave no signing keys (code {}); bilibili may have changed it",
            v["code"]
        )),
    }
}

/// `params` as a query with `w_rid` and `wts` appended, signed with `mixin_key` at `wts`
/// (unix seconds). The parameters keep their order; the signature sorts its own copy.
pub fn signed_query(params: &[(&str, &str)], mixin_key: &str, wts: u64) -> String {
    let esc = crate::http::query_escape;
    let wts = wts.to_string();
    let mut all: Vec<(&str, String)> = params
        .iter()
        .chain(std::iter::once(&("wts", wts.as_str())))
        .map(|(k, v)| (*k, v.chars().filter(|c| !"!'()*".contains(*c)).collect()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let to_sign = all
        .iter()
        .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let digest = Md5::digest(format!("{to_sign}{mixin_key}").as_bytes());
    let w_rid: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let original = params
        .iter()
        .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{original}&w_rid={w_rid}&wts={wts}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of bilibili-API-collect docs/misc/sign/wbi.md.
    const IMG: &str = "7cd084941338484aae1ad9425b84077c";
    const SUB: &str = "4932caff0ff746eab6f01bf08b70ac45";

    #[test]
    fn the_documented_keys_give_the_documented_mixin_key() {
        assert_eq!(
            mixin_key(IMG, SUB).as_deref(),
            Some("ea1db124af3c7062474693fa704f4ff8")
        );
        assert_eq!(mixin_key("short", SUB), None);
    }

    #[test]
    fn the_documented_parameters_sign_to_the_documented_w_rid() {
        let key = mixin_key(IMG, SUB).unwrap();
        assert_eq!(
            signed_query(
                &[("foo", "114"), ("bar", "514"), ("zab", "1919810")],
                &key,
                1702204169
            ),
            "foo=114&bar=514&zab=1919810&w_rid=8f6f2b5b3d485fe1886cec6a0be8c5d4&wts=1702204169"
        );
    }

    #[test]
    fn values_are_encoded_upper_case_with_spaces_as_percent_20_and_stripped_of_quotes() {
        // The docs' encoding example: 五一四 and "one one four".
        let q = signed_query(&[("foo", "one one four"), ("bar", "五一四")], "k", 1);
        assert!(
            q.starts_with("foo=one%20one%20four&bar=%E4%BA%94%E4%B8%80%E5%9B%9B&w_rid="),
            "{q}"
        );
        let a = signed_query(&[("x", "a!b'c(d)e*")], "k", 1);
        let b = signed_query(&[("x", "abcde")], "k", 1);
        assert_eq!(a.split("&w_rid").nth(1), b.split("&w_rid").nth(1));
    }

    #[test]
    fn the_keys_come_from_the_nav_answer_of_a_visitor() {
        // The not-logged-in nav answer of docs/misc/sign/wbi.md.
        let body = r#"{"code":-101,"message":"账号未登录","ttl":1,"data":{"isLogin":false,"wbi_img":{"img_url":"https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png","sub_url":"https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"}}}"#;
        assert_eq!(keys_from_nav(body.as_bytes()), Ok((IMG.into(), SUB.into())));
        let e = keys_from_nav(r#"{"code":-412,"message":"请求被拦截"}"#.as_bytes()).unwrap_err();
        assert!(e.contains("no signing keys") && e.contains("-412"), "{e}");
    }
}
