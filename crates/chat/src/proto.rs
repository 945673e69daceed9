//! Protocol Buffers' wire format, just what a server-streaming chat needs: a request written
//! field by field, and a response read by a field table into the JSON the platform's REST API
//! gives for the same resource (proto3 JSON mapping: lowerCamelCase names, 64-bit integers
//! as strings, enums as the REST API's names). One event mapping then serves the polled JSON
//! and the streamed protobuf. Unknown fields are skipped, as protobuf requires; anything
//! malformed is an error, never a panic.

use serde_json::{Map, Value};

/// How deep messages may nest (the YouTube schema needs 5).
const MAX_DEPTH: usize = 16;

/// The JSON a field becomes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    /// A 32-bit integer: a JSON number.
    U32,
    /// A 64-bit integer: a JSON string, as the REST API writes it.
    U64,
    /// An enum: its number named by the table; a number not in it is left out.
    Enum(&'static [(u64, &'static str)]),
    Message(&'static [Field]),
}

/// One field of a message: its number, its JSON name and kind.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub num: u64,
    pub json: &'static str,
    pub kind: Kind,
    pub repeated: bool,
}

impl Field {
    pub const fn one(num: u64, json: &'static str, kind: Kind) -> Self {
        Self {
            num,
            json,
            kind,
            repeated: false,
        }
    }

    pub const fn many(num: u64, json: &'static str, kind: Kind) -> Self {
        Self {
            num,
            json,
            kind,
            repeated: true,
        }
    }
}

/// What is wrong with a message, said for a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("the message ends inside a field")]
    Truncated,
    #[error("a varint longer than 10 bytes")]
    LongVarint,
    #[error("field {0} has wire type {1}, which this field cannot have")]
    WireType(u64, u8),
    #[error("field {0} is not valid UTF-8 text")]
    Utf8(u64),
    #[error("messages nested more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("field number 0")]
    FieldZero,
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(ProtoError::Truncated)?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ProtoError::LongVarint)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if n > self.buf.len() {
            return Err(ProtoError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtoError> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| ProtoError::Truncated)?)
    }
}

/// Reads `buf` as the message `fields` describe, into the REST API's JSON object.
pub fn decode(buf: &[u8], fields: &[Field]) -> Result<Value, ProtoError> {
    decode_at(buf, fields, 0).map(Value::Object)
}

fn decode_at(buf: &[u8], fields: &[Field], depth: usize) -> Result<Map<String, Value>, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep);
    }
    let mut r = Reader { buf };
    let mut out = Map::new();
    while !r.buf.is_empty() {
        let key = r.varint()?;
        let (num, wire) = (key >> 3, (key & 7) as u8);
        if num == 0 {
            return Err(ProtoError::FieldZero);
        }
        let Some(f) = fields.iter().find(|f| f.num == num) else {
            skip(&mut r, num, wire)?;
            continue;
        };
        let value = match (f.kind, wire) {
            (Kind::Str, 2) => {
                let b = r.bytes()?;
                Value::String(
                    std::str::from_utf8(b)
                        .map_err(|_| ProtoError::Utf8(num))?
                        .to_string(),
                )
            }
            (Kind::Bool, 0) => Value::Bool(r.varint()? != 0),
            (Kind::U32, 0) => Value::from(r.varint()? as u32),
            (Kind::U64, 0) => Value::String(r.varint()?.to_string()),
            (Kind::Enum(names), 0) => {
                let n = r.varint()?;
                match names.iter().find(|(v, _)| *v == n) {
                    Some((_, name)) => Value::String((*name).to_string()),
                    None => continue,
                }
            }
            (Kind::Message(inner), 2) => Value::Object(decode_at(r.bytes()?, inner, depth + 1)?),
            _ => return Err(ProtoError::WireType(num, wire)),
        };
        if f.repeated {
            match out
                .entry(f.json)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => a.push(value),
                other => *other = Value::Array(vec![value]),
            }
        } else {
            // A message field seen twice merges; anything else: the last one wins.
            match (out.get_mut(f.json), value) {
                (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                (_, value) => {
                    out.insert(f.json.to_string(), value);
                }
            }
        }
    }
    Ok(out)
}

fn skip(r: &mut Reader<'_>, num: u64, wire: u8) -> Result<(), ProtoError> {
    match wire {
        0 => r.varint().map(drop),
        1 => r.take(8).map(drop),
        2 => r.bytes().map(drop),
        5 => r.take(4).map(drop),
        _ => Err(ProtoError::WireType(num, wire)),
    }
}

/// A message written field by field (requests are small and flat).
#[derive(Debug, Default, Clone)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn string(&mut self, num: u64, s: &str) -> &mut Self {
        self.varint(num << 3 | 2);
        self.varint(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    pub fn uint(&mut self, num: u64, v: u64) -> &mut Self {
        self.varint(num << 3);
        self.varint(v);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &[Field] = &[Field::one(1, "text", Kind::Str)];
    const OUTER: &[Field] = &[
        Field::one(1, "name", Kind::Str),
        Field::one(2, "big", Kind::U64),
        Field::one(3, "kind", Kind::Enum(&[(1, "textMessageEvent")])),
        Field::many(4, "items", Kind::Message(INNER)),
        Field::one(5, "flag", Kind::Bool),
    ];

    #[test]
    fn a_written_message_reads_back_as_the_rest_apis_json() {
        let mut inner = Writer::default();
        inner.string(1, "你好");
        let mut w = Writer::default();
        w.string(1, "ann").uint(2, 1_750_000).uint(3, 1).uint(5, 1);
        // An unknown field of each wire type between known ones is skipped.
        w.uint(90, 7).string(91, "x");
        w.varint(92 << 3 | 5);
        w.buf.extend_from_slice(&[1, 2, 3, 4]);
        w.varint(93 << 3 | 1);
        w.buf.extend_from_slice(&[0; 8]);
        w.varint(4 << 3 | 2);
        w.varint(inner.buf.len() as u64);
        w.buf.extend_from_slice(&inner.buf);
        w.varint(4 << 3 | 2);
        w.varint(inner.buf.len() as u64);
        w.buf.extend_from_slice(&inner.buf);
        let v = decode(&w.buf, OUTER).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "ann", "big": "1750000", "kind": "textMessageEvent",
                "flag": true, "items": [{"text": "你好"}, {"text": "你好"}]})
        );
    }

    #[test]
    fn an_enum_number_this_client_does_not_know_is_left_out() {
        let mut w = Writer::default();
        w.uint(3, 99);
        assert_eq!(decode(&w.buf, OUTER).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn every_cut_of_a_message_is_an_error_or_a_prefix_never_a_panic() {
        let mut w = Writer::default();
        w.string(1, "a longer name").uint(2, u64::MAX);
        for end in 0..w.buf.len() {
            let _ = decode(&w.buf[..end], OUTER);
        }
        assert_eq!(decode(&w.buf[..3], OUTER), Err(ProtoError::Truncated));
    }

    #[test]
    fn malformed_input_says_what_is_wrong() {
        assert_eq!(
            decode(&[2 << 3, 1], OUTER),
            Ok(serde_json::json!({"big": "1"}))
        );
        assert_eq!(decode(&[1 << 3, 1], OUTER), Err(ProtoError::WireType(1, 0)));
        assert_eq!(decode(&[0x00, 0], OUTER), Err(ProtoError::FieldZero));
        assert_eq!(
            decode(&[1 << 3 | 2, 2, 0xff, 0xfe], OUTER),
            Err(ProtoError::Utf8(1))
        );
        assert_eq!(decode(&[0x80; 11], OUTER), Err(ProtoError::LongVarint));
        assert_eq!(
            decode(&[6 << 3 | 3], OUTER),
            Err(ProtoError::WireType(6, 3))
        );
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        static SELF: [Field; 1] = [Field::one(1, "inner", Kind::Message(&SELF))];
        let mut buf = Vec::new();
        for _ in 0..=MAX_DEPTH + 1 {
            let mut w = Writer::default();
            w.varint(1 << 3 | 2);
            w.varint(buf.len() as u64);
            w.buf.extend_from_slice(&buf);
            buf = w.buf;
        }
        assert_eq!(decode(&buf, &SELF), Err(ProtoError::TooDeep));
    }
}
