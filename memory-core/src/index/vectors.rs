//! Quantised vectors: int8 codes with one scale each, their sign planes, and the products the searches use.

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
