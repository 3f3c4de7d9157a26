//! Quantised vectors: int8 codes with one scale each, their sign planes, and the products the searches use.

use std::sync::Arc;

/// Bytes a store hands the index to read in place, such as a file mapped into memory: what a search does not
/// read of them stays on disk, and the pages it reads are the operating system's to keep or drop (and shared by
/// every process that maps the same file).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Fixed-width rows of numbers, one per slot (a vector's int8 codes, its sign planes): the rows of the slots
/// loaded from a snapshot read in place from its bytes, those added since owned.
#[derive(Clone)]
pub(super) struct Column<T> {
    loaded: SharedBytes,
    /// Slots whose rows are in `loaded`.
    loaded_slots: usize,
    owned: Vec<T>,
    width: usize,
}

impl<T> std::fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column")
            .field("loaded_slots", &self.loaded_slots)
            .field("owned", &self.owned.len())
            .finish()
    }
}

impl<T: bytemuck::Pod> Column<T> {
    /// No rows, each of `width` numbers.
    pub(super) fn new(width: usize) -> Self {
        Column {
            loaded: Arc::new(Vec::new()),
            loaded_slots: 0,
            owned: Vec::new(),
            width,
        }
    }

    /// The rows in `bytes`, if they are whole rows of `width` numbers of `T`, aligned for `T`.
    pub(super) fn loaded(bytes: SharedBytes, width: usize) -> Option<Self> {
        // An empty section may start anywhere (an empty vector's pointer is not aligned): it holds no row.
        let numbers: &[T] = match (*bytes).as_ref() {
            [] => &[],
            b => bytemuck::try_cast_slice(b).ok()?,
        };
        let slots = numbers.len().checked_div(width).unwrap_or(0);
        (slots * width == numbers.len()).then_some(Column {
            loaded_slots: slots,
            loaded: bytes,
            owned: Vec::new(),
            width,
        })
    }

    /// Slots with a row.
    pub(super) fn len(&self) -> usize {
        self.loaded_slots + self.owned.len().checked_div(self.width).unwrap_or(0)
    }

    /// The row of `slot`.
    pub(super) fn get(&self, slot: usize) -> &[T] {
        let [loaded, owned] = self.rows(slot, 1);
        if loaded.is_empty() { owned } else { loaded }
    }

    /// The rows of slots `first..first + count`, back to back: those read in place, then those owned.
    pub(super) fn rows(&self, first: usize, count: usize) -> [&[T]; 2] {
        let (w, end) = (self.width, first + count);
        let all: &[T] = bytemuck::try_cast_slice((*self.loaded).as_ref()).unwrap_or(&[]);
        let loaded = &all[first.min(self.loaded_slots) * w..end.min(self.loaded_slots) * w];
        let owned = |slot: usize| slot.saturating_sub(self.loaded_slots) * w;
        [loaded, &self.owned[owned(first)..owned(end)]]
    }

    /// Appends a row, written by `write` at the end of the owned numbers.
    pub(super) fn push_with<R>(&mut self, write: impl FnOnce(&mut Vec<T>) -> R) -> R {
        write(&mut self.owned)
    }

    /// Appends a row of zeros.
    pub(super) fn push_zeros(&mut self) {
        self.owned
            .extend(std::iter::repeat_n(T::zeroed(), self.width));
    }

    /// The row of the last slot.
    pub(super) fn last(&self) -> &[T] {
        self.get(self.len() - 1)
    }

    /// Owned rows of `slots`, in order.
    pub(super) fn select(&self, slots: impl ExactSizeIterator<Item = usize>) -> Self {
        let mut owned = Vec::with_capacity(slots.len() * self.width);
        slots.for_each(|slot| owned.extend_from_slice(self.get(slot)));
        Column {
            owned,
            ..Column::new(self.width)
        }
    }

    /// Every row, back to back, as bytes in the machine's order (a snapshot stays on the machine that wrote it).
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let loaded = (*self.loaded).as_ref();
        let loaded = &loaded[..self.loaded_slots * self.width * size_of::<T>()];
        let mut out = Vec::with_capacity(loaded.len() + self.owned.len() * size_of::<T>());
        out.extend_from_slice(loaded);
        out.extend_from_slice(bytemuck::cast_slice(&self.owned));
        out
    }

    /// Bytes owned (those read in place are not counted).
    pub(super) fn owned_bytes(&self) -> usize {
        self.owned.capacity() * size_of::<T>()
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
