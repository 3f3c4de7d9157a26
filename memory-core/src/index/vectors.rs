//! Quantised vectors: int8 codes with one scale each, their sign planes, and the products the searches use.

use std::sync::Arc;

/// Bytes a store hands the index to read in place, such as a file mapped into memory: what a search does not
/// read of them stays on disk, and the pages it reads are the operating system's to keep or drop (and shared by
/// every process that maps the same file).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// The vectors' int8 codes, `dimension` per slot: those of the slots loaded from a snapshot read in place from
/// its bytes, those added since owned.
#[derive(Clone)]
pub(super) struct Codes {
    loaded: SharedBytes,
    /// Slots whose codes are in `loaded`.
    loaded_slots: usize,
    owned: Vec<i8>,
    dimension: usize,
}

impl std::fmt::Debug for Codes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codes")
            .field("loaded_slots", &self.loaded_slots)
            .field("owned", &self.owned.len())
            .finish()
    }
}

impl Codes {
    /// No codes, of vectors of `dimension`.
    pub(super) fn new(dimension: usize) -> Self {
        Codes::loaded(Arc::new(Vec::new()), dimension)
    }

    /// The codes in `bytes`, whole vectors of `dimension`.
    pub(super) fn loaded(bytes: SharedBytes, dimension: usize) -> Self {
        let slots = (*bytes).as_ref().len().checked_div(dimension).unwrap_or(0);
        Codes {
            loaded: bytes,
            loaded_slots: slots,
            owned: Vec::new(),
            dimension,
        }
    }

    /// Slots with codes.
    pub(super) fn len(&self) -> usize {
        self.loaded_slots + self.owned.len() / self.dimension.max(1)
    }

    /// The codes of `slot`.
    pub(super) fn get(&self, slot: usize) -> &[i8] {
        let d = self.dimension;
        if slot < self.loaded_slots {
            bytemuck::cast_slice(&(*self.loaded).as_ref()[slot * d..(slot + 1) * d])
        } else {
            let i = slot - self.loaded_slots;
            &self.owned[i * d..(i + 1) * d]
        }
    }

    /// The codes of a new last slot, quantised from `vector`, and their scale.
    pub(super) fn push(&mut self, vector: &[f32]) -> f32 {
        quantise(vector, &mut self.owned)
    }

    /// A new last slot without a vector (zero codes).
    pub(super) fn push_zero(&mut self) {
        self.owned.extend(std::iter::repeat_n(0, self.dimension));
    }

    /// The codes of the last slot.
    pub(super) fn last(&self) -> &[i8] {
        self.get(self.len() - 1)
    }

    /// Owned codes of `slots`, in order.
    pub(super) fn select(&self, slots: impl Iterator<Item = usize>) -> Codes {
        let mut owned = Vec::new();
        slots.for_each(|slot| owned.extend_from_slice(self.get(slot)));
        Codes {
            owned,
            ..Codes::new(self.dimension)
        }
    }

    /// Every slot's codes, back to back.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let loaded = (*self.loaded).as_ref();
        let mut out = Vec::with_capacity(loaded.len() + self.owned.len());
        out.extend_from_slice(&loaded[..self.loaded_slots * self.dimension]);
        out.extend_from_slice(bytemuck::cast_slice(&self.owned));
        out
    }

    /// Bytes owned (those read in place are not counted).
    pub(super) fn owned_bytes(&self) -> usize {
        self.owned.capacity()
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.owned.shrink_to_fit();
    }
}

/// Quantises a vector to int8 codes and its scale.
pub(super) fn quantise(vector: &[f32], codes: &mut Vec<i8>) -> f32 {
    let max = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    codes.extend(
        vector
            .iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

/// 64-bit words of sign bits per vector: a positive plane, then a negative one.
pub(super) fn words(dimension: usize) -> usize {
    2 * dimension.div_ceil(64)
}

/// Appends the sign planes of `codes`.
pub(super) fn signs(codes: &[i8], bits: &mut Vec<u64>) {
    for positive in [true, false] {
        for chunk in codes.chunks(64) {
            bits.push(chunk.iter().enumerate().fold(0u64, |w, (i, &c)| {
                let set = if positive { c > 0 } else { c < 0 };
                w | (u64::from(set) << i)
            }));
        }
    }
}

/// Sign agreements minus disagreements of two sign-plane vectors: the dot product of their sign vectors.
pub(super) fn sign_dot(a: &[u64], b: &[u64]) -> i32 {
    let half = a.len() / 2;
    let (ap, an) = a.split_at(half);
    let (bp, bn) = b.split_at(half);
    let mut score = 0i32;
    for i in 0..half {
        let agree = (ap[i] & bp[i]) | (an[i] & bn[i]);
        let disagree = (ap[i] & bn[i]) | (an[i] & bp[i]);
        score += agree.count_ones() as i32 - disagree.count_ones() as i32;
    }
    score
}

/// The dot product of two code vectors, 16 codes at a time: written so that the compiler multiplies 16-bit
/// products and adds them in pairs (`pmaddwd` on x86-64), twice the codes per instruction of the 32-bit
/// multiplies it makes of [`scalar_dot`]. (A product of two codes fits 16 bits: 128² < 2¹⁵.)
pub(super) fn dot(a: &[i8], b: &[i8]) -> i32 {
    let (a, b) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail = scalar_dot(a.remainder(), b.remainder());
    let mut lanes = [0i32; 16];
    for (x, y) in a.zip(b) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += i32::from(i16::from(x) * i16::from(y));
        }
    }
    lanes.iter().sum::<i32>() + tail
}

pub(super) fn scalar_dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}
