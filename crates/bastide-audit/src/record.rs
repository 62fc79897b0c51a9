//! The line format of segment files (JSON Lines, one object a line):
//!
//! ```text
//! {"leaf":"<64 hex>","event":{"seq":0,"time":"…","actor":"…",…}}
//! {"head":{"log_id":"…","tree_size":1,"root":"…",…},"peaks":["…"]}
//! ```
//!
//! An entry line carries its event exactly as hashed: the leaf is
//! `SHA-256(0x00 || event bytes)`, and the event's `seq` is inside those bytes, so an
//! entry cannot move without its hash changing. Each group commit ends with a head
//! line: the signed tree head after it, and the roots of the perfect subtrees (the
//! frontier) so that a restart does not rescan the log; the frontier is trusted only
//! once it reproduces the signed root.

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::head::SignedTreeHead;
use crate::merkle::{Hash, leaf_hash};

const ENTRY_PREFIX: &[u8] = br#"{"leaf":""#;
const EVENT_MARK: &[u8] = br#"","event":"#;
const SEQ_PREFIX: &[u8] = br#"{"seq":"#;

/// A parsed line.
#[derive(Debug)]
pub(crate) enum Line<'a> {
    /// An event.
    Entry {
        /// The number inside the event.
        seq: u64,
        /// The hash stored beside it.
        stored_leaf: Hash,
        /// The event's bytes, as hashed.
        event: &'a [u8],
    },
    /// A signed tree head closing a group commit.
    Head(Box<HeadLine>),
}

/// The content of a head line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HeadLine {
    pub head: SignedTreeHead,
    #[serde(with = "hex_peaks")]
    pub peaks: Vec<Hash>,
}

/// Appends an entry line for `event` to `out`; returns its leaf hash.
pub(crate) fn encode_entry(event: &Event, out: &mut Vec<u8>) -> Hash {
    let bytes = serde_json::to_vec(event).expect("events serialise");
    let leaf = leaf_hash(&bytes);
    out.extend_from_slice(ENTRY_PREFIX);
    out.extend_from_slice(hex::encode(leaf).as_bytes());
    out.extend_from_slice(EVENT_MARK);
    out.extend_from_slice(&bytes);
    out.extend_from_slice(b"}\n");
    leaf
}

/// Appends a head line to `out`.
pub(crate) fn encode_head(line: &HeadLine, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, line).expect("heads serialise");
    out.push(b'\n');
}

/// Parses one line (without its newline); `None` when it is not a well-formed line.
pub(crate) fn parse(line: &[u8]) -> Option<Line<'_>> {
    if let Some(rest) = line.strip_prefix(ENTRY_PREFIX) {
        let (hex_leaf, rest) = (rest.get(..64)?, rest.get(64..)?);
        let event = rest.strip_prefix(EVENT_MARK)?.strip_suffix(b"}")?;
        let mut stored_leaf = [0u8; 32];
        hex::decode_to_slice(hex_leaf, &mut stored_leaf).ok()?;
        let digits = event.strip_prefix(SEQ_PREFIX)?;
        let end = digits.iter().position(|b| !b.is_ascii_digit())?;
        let seq = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
        if digits.get(end) != Some(&b',') || !event.ends_with(b"}") {
            return None;
        }
        Some(Line::Entry {
            seq,
            stored_leaf,
            event,
        })
    } else if line.starts_with(br#"{"head":"#) {
        serde_json::from_slice(line)
            .ok()
            .map(|head| Line::Head(Box::new(head)))
    } else {
        None
    }
}

mod hex_peaks {
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(peaks: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(peaks.len()))?;
        for peak in peaks {
            seq.serialize_element(&hex::encode(peak))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(text, &mut hash).map_err(|_| D::Error::custom("bad peak"))?;
                Ok(hash)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{NewEvent, Outcome, Role};

    #[test]
    fn an_entry_line_parses_back_to_its_number_leaf_and_bytes() {
        let event = Event {
            seq: 41,
            time: time::OffsetDateTime::UNIX_EPOCH,
            event: NewEvent::new("alice", Role::Researcher, "query.run", Outcome::Success),
        };
        let mut out = Vec::new();
        let leaf = encode_entry(&event, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let Some(Line::Entry {
            seq,
            stored_leaf,
            event: bytes,
        }) = parse(&out[..out.len() - 1])
        else {
            panic!("not an entry: {}", String::from_utf8_lossy(&out));
        };
        assert_eq!((seq, stored_leaf), (41, leaf));
        assert_eq!(leaf_hash(bytes), leaf);
        assert_eq!(serde_json::from_slice::<Event>(bytes).unwrap(), event);
    }

    #[test]
    fn a_cut_or_garbled_line_does_not_parse() {
        let event = Event {
            seq: 1,
            time: time::OffsetDateTime::UNIX_EPOCH,
            event: NewEvent::new(
                "a",
                crate::ActorRole::System,
                "hub.started",
                Outcome::Success,
            ),
        };
        let mut out = Vec::new();
        encode_entry(&event, &mut out);
        let line = &out[..out.len() - 1];
        for cut in [1, 10, 70, line.len() - 1] {
            assert!(parse(&line[..cut]).is_none(), "cut at {cut}");
        }
        assert!(parse(b"hello").is_none());
        assert!(parse(br#"{"head":{}}"#).is_none());
    }
}
