//! The neighbourhood index DBSCAN runs on: exact range queries over balls around a few spread-out centres.
//!
//! linfa's KD-tree splits on one dimension at a time, which in 64 dimensions prunes little and pays for the tree
//! on top; on dense clusters DBSCAN's range queries then cost nearly a full scan each. This index instead picks
//! about `2 √n` centres spread over the data (each the point farthest from the centres chosen before) and puts
//! every point in the ball of its nearest centre, sorted by its distance to it. By the triangle inequality a
//! point within `r` of the query lies in a ball whose centre is within `r` plus its radius of the query, and
//! within a ball its distance to the centre differs from the query's by at most `r`: the first test skips
//! whole balls, the second is a band of each remaining ball (two binary searches), and the metric decides the
//! rest. The answer is exact for any metric (the pruning relies on the triangle inequality alone, with a little
//! slack for rounding), and it is what linfa's KD-tree answered: a point at exactly the radius is within it.

use std::ops::Range;

use linfa::Float;
use linfa_nn::{BuildError, NearestNeighbour, NearestNeighbourIndex, NnError, distance::Distance};
use ndarray::{ArrayBase, ArrayView, ArrayView1, ArrayView2, Data, Dimension, Ix2};

/// Added to the radius when pruning, so that a distance rounded differently never drops a true neighbour.
const SLACK: f32 = 1e-4;

/// Euclidean distance, summed in eight lanes so that the compiler vectorises it (linfa's `L2Dist` goes through
/// ndarray's generic folds, several times slower on the 64-dimension rows clustering compares).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Euclidean;

impl<F: Float> Distance<F> for Euclidean {
    fn distance<D: Dimension>(&self, a: ArrayView<'_, F, D>, b: ArrayView<'_, F, D>) -> F {
        self.rdistance(a, b).sqrt()
    }

    fn rdistance<D: Dimension>(&self, a: ArrayView<'_, F, D>, b: ArrayView<'_, F, D>) -> F {
        match (a.as_slice(), b.as_slice()) {
            (Some(a), Some(b)) => squared(a, b),
            _ => a
                .iter()
                .zip(b.iter())
                .fold(F::zero(), |sum, (&x, &y)| sum + (x - y) * (x - y)),
        }
    }

    fn rdist_to_dist(&self, rdist: F) -> F {
        rdist.sqrt()
    }

    fn dist_to_rdist(&self, dist: F) -> F {
        dist * dist
    }
}

/// The squared Euclidean distance of two rows of equal length.
fn squared<F: Float>(a: &[F], b: &[F]) -> F {
    let mut lanes = [F::zero(); 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .fold(F::zero(), |sum, (&x, &y)| sum + (x - y) * (x - y));
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            let d = x[i] - y[i];
            lanes[i] += d * d;
        }
    }
    lanes.iter().fold(tail, |sum, &l| sum + l)
}

/// Builds [`BallIndex`]es: pass it to linfa's DBSCAN as its nearest-neighbour algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balls;

impl NearestNeighbour for Balls {
    fn from_batch_with_leaf_size<'a, F: Float, DT: Data<Elem = F>, D: 'a + Distance<F>>(
        &self,
        batch: &'a ArrayBase<DT, Ix2>,
        _leaf_size: usize,
        dist_fn: D,
    ) -> Result<Box<dyn 'a + Send + Sync + NearestNeighbourIndex<F>>, BuildError> {
        if batch.ncols() == 0 {
            return Err(BuildError::ZeroDimension);
        }
        Ok(Box::new(BallIndex::new(batch.view(), dist_fn)))
    }
}

/// A centre and the points nearest to it.
struct Ball {
    /// The centre's row.
    centre: usize,
    /// The farthest member's distance to the centre.
    radius: f32,
    /// Its members' positions in [`BallIndex::order`].
    members: Range<usize>,
}

/// Points grouped in balls, each ball's members sorted by their distance to its centre.
pub struct BallIndex<'a, F: Float, D: Distance<F>> {
    points: ArrayView2<'a, F>,
    dist_fn: D,
    balls: Vec<Ball>,
    /// Row of each position.
    order: Vec<usize>,
    /// Distance of each position's point to its ball's centre.
    to_centre: Vec<f32>,
}

impl<'a, F: Float, D: Distance<F>> BallIndex<'a, F, D> {
    fn new(points: ArrayView2<'a, F>, dist_fn: D) -> Self {
        let n = points.nrows();
        let distance = |a: usize, b: usize| to_f32(dist_fn.distance(points.row(a), points.row(b)));
        let wanted = ((2.0 * (n as f64).sqrt()).ceil() as usize).clamp(1, n.max(1));
        // Farthest-first: each centre is the point farthest from the centres chosen before it; every point keeps
        // its nearest centre so far.
        let mut centres: Vec<usize> = Vec::with_capacity(wanted);
        let mut nearest: Vec<(usize, f32)> = vec![(0, f32::INFINITY); n];
        let mut next = 0;
        while n > 0 && centres.len() < wanted {
            let c = centres.len();
            centres.push(next);
            for (i, slot) in nearest.iter_mut().enumerate() {
                let d = distance(next, i);
                if d < slot.1 {
                    *slot = (c, d);
                }
            }
            let (far, &(_, d)) = nearest
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
                .expect("points");
            if d <= 0.0 {
                break;
            }
            next = far;
        }
        let mut rows: Vec<(usize, usize, f32)> = nearest
            .iter()
            .enumerate()
            .map(|(i, &(c, d))| (c, i, d))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.total_cmp(&b.2)));
        let mut balls: Vec<Ball> = centres
            .iter()
            .map(|&centre| Ball {
                centre,
                radius: 0.0,
                members: 0..0,
            })
            .collect();
        let mut order = Vec::with_capacity(n);
        let mut to_centre = Vec::with_capacity(n);
        for (pos, &(c, i, d)) in rows.iter().enumerate() {
            let ball = &mut balls[c];
            if ball.members.is_empty() {
                ball.members = pos..pos;
            }
            ball.members.end = pos + 1;
            ball.radius = ball.radius.max(d);
            order.push(i);
            to_centre.push(d);
        }
        BallIndex {
            points,
            dist_fn,
            balls,
            order,
            to_centre,
        }
    }

    fn check(&self, point: &ArrayView1<'_, F>) -> Result<(), NnError> {
        match point.len() == self.points.ncols() {
            true => Ok(()),
            false => Err(NnError::WrongDimension),
        }
    }
}

fn to_f32<F: Float>(x: F) -> f32 {
    x.to_f32().unwrap_or(f32::INFINITY)
}

impl<F: Float, D: Distance<F>> NearestNeighbourIndex<F> for BallIndex<'_, F, D> {
    fn k_nearest(
        &self,
        point: ArrayView1<'_, F>,
        k: usize,
    ) -> Result<Vec<(ArrayView1<'_, F>, usize)>, NnError> {
        self.check(&point)?;
        let mut all: Vec<(F, usize)> = (0..self.points.nrows())
            .map(|i| (self.dist_fn.rdistance(point, self.points.row(i)), i))
            .collect();
        all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        Ok(all
            .into_iter()
            .take(k)
            .map(|(_, i)| (self.points.row(i), i))
            .collect())
    }

    fn within_range(
        &self,
        point: ArrayView1<'_, F>,
        range: F,
    ) -> Result<Vec<(ArrayView1<'_, F>, usize)>, NnError> {
        self.check(&point)?;
        let r = to_f32(range) * (1.0 + SLACK) + SLACK;
        let limit = self.dist_fn.dist_to_rdist(range);
        let mut found = Vec::new();
        for ball in &self.balls {
            let q = to_f32(self.dist_fn.distance(point, self.points.row(ball.centre)));
            if q - ball.radius > r {
                continue;
            }
            let members = &self.to_centre[ball.members.clone()];
            let start = ball.members.start + partition(members.len(), |i| members[i] < q - r);
            let end = ball.members.start + partition(members.len(), |i| members[i] <= q + r);
            for &row in &self.order[start..end] {
                if self.dist_fn.rdistance(point, self.points.row(row)) <= limit {
                    found.push((self.points.row(row), row));
                }
            }
        }
        Ok(found)
    }
}

/// The first position in `0..n` where `before` is false (`before` holds on a prefix).
fn partition(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use linfa_nn::{CommonNearestNeighbour, distance::L2Dist};
    use ndarray::Array2;

    use super::*;

    /// Seeded points in dense clumps and scattered, in 16 dimensions.
    fn points(n: usize) -> Array2<f64> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let centres: Vec<Vec<f64>> = (0..12).map(|_| (0..16).map(|_| next()).collect()).collect();
        Array2::from_shape_fn((n, 16), |(i, j)| match i % 3 {
            0 => next(),
            _ => centres[i % 12][j] + 0.05 * (next() - 0.5),
        })
    }

    #[test]
    fn range_queries_match_linfas_kd_tree() {
        let data = points(600);
        let index = Balls.from_batch(&data, L2Dist).expect("index");
        // The index DBSCAN used before: a point at exactly the radius is within it.
        let linear = CommonNearestNeighbour::KdTree
            .from_batch(&data, L2Dist)
            .expect("kd-tree");
        for (i, range) in [(0, 0.3), (1, 0.05), (2, 0.5), (7, 1.2), (599, 0.0)] {
            let sorted = |mut v: Vec<usize>| {
                v.sort_unstable();
                v
            };
            let got = index.within_range(data.row(i), range).expect("range");
            let want = linear.within_range(data.row(i), range).expect("range");
            assert_eq!(
                sorted(got.iter().map(|p| p.1).collect()),
                sorted(want.iter().map(|p| p.1).collect()),
                "point {i}, range {range}"
            );
        }
        let nearest = index.k_nearest(data.row(5), 4).expect("nearest");
        let want = linear.k_nearest(data.row(5), 4).expect("nearest");
        assert_eq!(
            nearest.iter().map(|p| p.1).collect::<Vec<_>>(),
            want.iter().map(|p| p.1).collect::<Vec<_>>()
        );
        let wrong = ndarray::Array1::<f64>::zeros(3);
        assert!(index.within_range(wrong.view(), 1.0).is_err());
    }

    #[test]
    fn euclidean_agrees_with_linfa() {
        let data = points(20);
        for (i, j) in [(0, 1), (3, 17), (5, 5)] {
            let (a, b) = (data.row(i), data.row(j));
            let want: f64 = L2Dist.distance(a, b);
            assert!((Euclidean.distance(a, b) - want).abs() < 1e-12);
            assert!((Euclidean.rdistance(a, b) - want * want).abs() < 1e-12);
        }
        // Not contiguous: every other column.
        let strided = data.slice(ndarray::s![.., ..;2]);
        let want: f64 = L2Dist.distance(strided.row(0), strided.row(1));
        assert!((Euclidean.distance(strided.row(0), strided.row(1)) - want).abs() < 1e-12);
    }

    #[test]
    fn few_points_identical_points_and_no_dimensions() {
        let data = points(3);
        let index = Balls.from_batch(&data, L2Dist).expect("index");
        assert_eq!(
            index.within_range(data.row(0), 10.0).expect("range").len(),
            3
        );
        let same = Array2::<f64>::ones((50, 4));
        let index = Balls.from_batch(&same, L2Dist).expect("index");
        assert_eq!(
            index.within_range(same.row(9), 0.0).expect("range").len(),
            50
        );
        let empty = Array2::<f64>::zeros((4, 0));
        assert!(Balls.from_batch(&empty, L2Dist).is_err());
    }
}
