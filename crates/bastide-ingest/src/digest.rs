//! Digests of keys, to find a primary key or a unique value repeated in a batch
//! without keeping the values: SipHash-1-3 with 128 bits of output, keyed at random for
//! each batch. A keyed hash, so that no producer can craft two keys that collide; 128
//! bits, so that no batch of any size meets a collision by chance. The digests are
//! random already: the sets that hold them use them as their own place.

use std::collections::TryReserveError;
use std::hash::Hasher;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
    StringArray, TimestampSecondArray,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type};
use siphasher::sip128::{Hasher128, SipHasher13};

/// A key's digest.
pub(crate) type Digest = u128;

/// Digests seen so far: one table of digests, each at the place its low bits give or
/// the next free one (linear probing), at most [`MOST_FULL`] full. A key costs one
/// memory access where a general set costs two (its control bytes, then the value),
/// and the merge of every chunk waits on these.
#[derive(Debug, Default)]
pub(crate) struct DigestSet {
    /// A power of two of places (none before the first key); 0 marks a free one.
    places: Vec<Digest>,
    len: usize,
}

/// The most a set is filled, as a fraction (numerator over 16).
const MOST_FULL: usize = 11;

impl DigestSet {
    /// Adds `digest`; false when it was there already.
    pub fn insert(&mut self, digest: Digest) -> bool {
        if (self.len + 1) * 16 > self.places.len() * MOST_FULL {
            self.grow(self.len + 1);
        }
        // 0 marks a free place: the digest 0 is taken as 1 (a collision as likely as
        // any other, 2^-128).
        let digest = digest.max(1);
        let mask = self.places.len() - 1;
        let mut at = digest as usize & mask;
        loop {
            match self.places[at] {
                0 => {
                    self.places[at] = digest;
                    self.len += 1;
                    return true;
                }
                kept if kept == digest => return false,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Makes room for `more` digests now, if memory can be had.
    pub fn try_reserve(&mut self, more: usize) -> Result<(), TryReserveError> {
        let wanted = Self::places_for(self.len + more);
        if wanted <= self.places.len() {
            return Ok(());
        }
        let mut places = Vec::new();
        places.try_reserve_exact(wanted)?;
        places.resize(wanted, 0);
        self.rehash(places);
        Ok(())
    }

    /// Places for `len` digests: a power of two at most [`MOST_FULL`] full.
    fn places_for(len: usize) -> usize {
        (len * 16 / MOST_FULL + 1).next_power_of_two().max(1024)
    }

    fn grow(&mut self, len: usize) {
        let wanted = Self::places_for(len).max(self.places.len() * 2);
        self.rehash(vec![0; wanted]);
    }

    /// Moves every digest into `places` (free, a power of two of them).
    fn rehash(&mut self, places: Vec<Digest>) {
        let old = std::mem::replace(&mut self.places, places);
        self.len = 0;
        for digest in old.into_iter().filter(|&d| d != 0) {
            self.insert(digest);
        }
    }
}

/// The keyed digest function of one batch (no `Debug`: its keys are never printed).
#[derive(Clone, Copy)]
pub(crate) struct KeyDigests {
    keys: (u64, u64),
}

impl KeyDigests {
    /// A function under fresh random keys.
    pub fn new() -> Self {
        use rand::RngCore;
        let mut rng = rand::rngs::OsRng;
        Self {
            keys: (rng.next_u64(), rng.next_u64()),
        }
    }

    /// The digest of `bytes` (a key's values, encoded one after the other).
    pub fn digest(&self, bytes: &[u8]) -> Digest {
        let mut hasher = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        hasher.write(bytes);
        hasher.finish128().as_u128()
    }
}

/// A column's values as a key's digest takes them: each row's value written as bytes
/// that no other value of any type writes (a tag, then the value; text with its
/// length), so that the values of a key written one after the other are unambiguous.
pub(crate) enum KeyColumn<'a> {
    Text(&'a StringArray),
    Integer(&'a Int64Array),
    Number(&'a Float64Array),
    Boolean(&'a BooleanArray),
    Date(&'a Date32Array),
    Year(&'a Int32Array),
    DateTime(&'a TimestampSecondArray),
}

impl<'a> KeyColumn<'a> {
    /// The column `array`, of one of the types a table's schema gives columns.
    pub fn of(array: &'a ArrayRef) -> Self {
        match array.data_type() {
            DataType::Int64 => Self::Integer(array.as_primitive::<Int64Type>()),
            DataType::Float64 => Self::Number(array.as_primitive::<Float64Type>()),
            DataType::Boolean => Self::Boolean(array.as_boolean()),
            DataType::Date32 => Self::Date(array.as_primitive::<Date32Type>()),
            DataType::Int32 => Self::Year(array.as_primitive::<Int32Type>()),
            DataType::Timestamp(..) => Self::DateTime(
                array
                    .as_any()
                    .downcast_ref()
                    .expect("timestamps in seconds"),
            ),
            _ => Self::Text(array.as_string::<i32>()),
        }
    }

    fn array(&self) -> &dyn Array {
        match self {
            Self::Text(a) => *a,
            Self::Integer(a) => *a,
            Self::Number(a) => *a,
            Self::Boolean(a) => *a,
            Self::Date(a) => *a,
            Self::Year(a) => *a,
            Self::DateTime(a) => *a,
        }
    }

    /// Whether `row` holds no value.
    pub fn is_null(&self, row: usize) -> bool {
        self.array().is_null(row)
    }

    /// Appends the encoding of `row`'s value to `out`.
    pub fn encode(&self, row: usize, out: &mut Vec<u8>) {
        if self.is_null(row) {
            out.push(0);
            return;
        }
        match self {
            Self::Text(a) => {
                let text = a.value(row);
                out.push(1);
                out.extend_from_slice(&(text.len() as u64).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Self::Integer(a) => {
                out.push(2);
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            Self::Number(a) => {
                out.push(3);
                // 0.0 and -0.0 are the same number.
                out.extend_from_slice(&(a.value(row) + 0.0).to_bits().to_le_bytes());
            }
            Self::Boolean(a) => out.extend_from_slice(&[4, u8::from(a.value(row))]),
            Self::Date(a) => {
                out.push(5);
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            Self::Year(a) => {
                out.push(6);
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            Self::DateTime(a) => {
                out.push(7);
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_values_give_the_same_digest_and_others_another() {
        let digests = KeyDigests::new();
        assert_eq!(digests.digest(b"abc"), digests.digest(b"abc"));
        assert_ne!(digests.digest(b"abc"), digests.digest(b"abd"));
        let mut seen = DigestSet::default();
        assert!(seen.insert(digests.digest(b"x")));
        assert!(!seen.insert(digests.digest(b"x")));
    }

    #[test]
    fn a_set_finds_every_repeat_while_it_grows_and_never_a_false_one() {
        let digests = KeyDigests::new();
        let mut seen = DigestSet::default();
        for i in 0u32..50_000 {
            assert!(seen.insert(digests.digest(&i.to_le_bytes())), "{i} is new");
        }
        for i in (0u32..50_000).step_by(7) {
            assert!(
                !seen.insert(digests.digest(&i.to_le_bytes())),
                "{i} repeats"
            );
        }
        assert_eq!(seen.len, 50_000);
        // Made room for up front, then filled past it.
        let mut reserved = DigestSet::default();
        reserved.try_reserve(10).unwrap();
        let places = reserved.places.len();
        for i in 0u32..(places as u32) {
            assert!(reserved.insert((u128::from(i) << 64) | 5), "{i} is new");
        }
        assert!(reserved.places.len() > places);
        assert!(!reserved.insert(5), "the first of them is still there");
        // The digest 0 is kept like any other.
        let mut zero = DigestSet::default();
        assert!(zero.insert(0));
        assert!(!zero.insert(0));
    }

    #[test]
    fn values_of_a_key_are_encoded_without_ambiguity() {
        use std::sync::Arc;
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), Some("a"), None]));
        let more: ArrayRef = Arc::new(StringArray::from(vec![Some("c"), Some("bc"), Some("")]));
        let numbers: ArrayRef = Arc::new(Float64Array::from(vec![0.0, -0.0, 1.0]));
        let encoded = |columns: &[&ArrayRef], row| {
            let mut out = Vec::new();
            for column in columns {
                KeyColumn::of(column).encode(row, &mut out);
            }
            out
        };
        // ("ab", "c") and ("a", "bc") are different keys; a missing value is not "".
        assert_ne!(encoded(&[&text, &more], 0), encoded(&[&text, &more], 1));
        assert_ne!(encoded(&[&text], 2), encoded(&[&more], 2));
        assert_eq!(encoded(&[&numbers], 0), encoded(&[&numbers], 1));
    }

    #[test]
    fn two_batches_digest_under_different_keys() {
        let (a, b) = (KeyDigests::new(), KeyDigests::new());
        assert_ne!(a.digest(b"the same key"), b.digest(b"the same key"));
    }
}
