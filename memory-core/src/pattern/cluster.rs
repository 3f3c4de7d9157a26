//! Clustering candidates across episodes: DBSCAN (linfa-clustering, over ndarray) on feature vectors that join a
//! pattern's text embedding and its structure, and the merge plan that turns clusters into patterns.
//!
//! **Features.** A pattern's vector has 64 dimensions: 32 are its description's embedding, reduced by a fixed
//! random sign projection (each input dimension adds or subtracts itself from each output, by a bit of its FNV-1a
//! hash) and scaled to length 1/√2; 32 are its signature tokens, hashed with a sign into buckets, scaled to
//! length 1/√2. The Euclidean distance of two such vectors is therefore `√(2 − cos_text − cos_structure)`: 0 for
//! the same text and structure, about 1.4 for unrelated ones. The projection keeps DBSCAN's range queries cheap
//! while keeping what distinguishes patterns; they run on the ball index of `range.rs`, not linfa's KD-tree,
//! which in 64 dimensions scans nearly everything.
//!
//! **Clusters.** DBSCAN runs over one kind at a time, over the batch's candidates and the stored patterns near
//! them (within `2 eps` of one). A stored pattern counts as `min(support, min_points)` points at its place, so one
//! that recurred already is a core point by itself. In each cluster, candidates join the nearest stored pattern
//! that recurred already (support ≥ `min_points`); stored patterns that had not recurred are absorbed into it;
//! a cluster without stored patterns becomes a new pattern; a candidate that is noise becomes a pattern of its
//! own, a singleton, until a similar one arrives. Two patterns that each recurred are never merged, so the id of
//! a recurring pattern stays valid.

use std::collections::HashMap;

use linfa::{ParamGuard, traits::Transformer};
use linfa_clustering::Dbscan;
use ndarray::Array2;

use super::{
    PatternId,
    range::{Balls, Euclidean},
};
use crate::{Error, Result, Timestamp, fnv1a64, fnv1a64_extend};

/// Dimensions of the reduced embedding.
const TEXT_DIMS: usize = 32;
/// Dimensions of the hashed signature.
const SIGNATURE_DIMS: usize = 32;
/// Length of a feature vector.
pub const FEATURE_DIMS: usize = TEXT_DIMS + SIGNATURE_DIMS;

/// DBSCAN's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterParams {
    /// The neighbourhood radius, a Euclidean distance between feature vectors (from 0 to 2).
    pub eps: f32,
    /// Points (the point itself included) a neighbourhood needs for its centre to be a core point; at least 2.
    pub min_points: usize,
}

impl ClusterParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps > 0.0 && self.eps <= 2.0) {
            return Err(Error::validation(
                "eps",
                format!("must be above 0 and at most 2, got {}", self.eps),
            ));
        }
        if self.min_points < 2 {
            return Err(Error::validation(
                "min_points",
                format!("must be at least 2, got {}", self.min_points),
            ));
        }
        Ok(())
    }
}

/// Scales `v` to length `to` (a zero vector stays zero).
fn scale_to(v: &mut [f32], to: f32) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x *= to / norm);
    } else {
        v.iter_mut().for_each(|x| *x = 0.0);
    }
}

/// The feature vector of a pattern with this embedding and these signature tokens.
pub fn features(embedding: &[f32], signature: &[String]) -> Vec<f32> {
    let mut out = vec![0.0f32; FEATURE_DIMS];
    let (text, structure) = out.split_at_mut(TEXT_DIMS);
    let seed = fnv1a64(b"pattern-projection");
    for (i, &x) in embedding.iter().enumerate() {
        if x == 0.0 || !x.is_finite() {
            continue;
        }
        let bits = fnv1a64_extend(seed, &(i as u64).to_le_bytes());
        for (j, t) in text.iter_mut().enumerate() {
            if bits >> j & 1 == 1 { *t += x } else { *t -= x }
        }
    }
    let token_seed = fnv1a64(b"pattern-signature");
    for token in signature {
        let hash = fnv1a64_extend(token_seed, token.as_bytes());
        let bucket = (hash % SIGNATURE_DIMS as u64) as usize;
        structure[bucket] += if hash >> 63 == 0 { 1.0 } else { -1.0 };
    }
    let half = std::f32::consts::FRAC_1_SQRT_2;
    scale_to(text, half);
    scale_to(structure, half);
    out
}

/// Euclidean distance of two feature vectors.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// DBSCAN over `points` (rows of [`FEATURE_DIMS`]): each point's cluster, or `None` for noise.
///
/// Identical points are clustered once: a point repeated `k` times is kept `min(k, min_points)` times, which
/// changes no point's core status (a neighbourhood reaches `min_points` either way) and so no label, while the
/// neighbourhood queries no longer return every copy of a frequent point.
pub fn dbscan(points: &[&[f32]], params: ClusterParams) -> Result<Vec<Option<usize>>> {
    params.validate()?;
    if points.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<&[f32]> = Vec::new();
    let mut kept: HashMap<Vec<u32>, (usize, usize)> = HashMap::new();
    let mut row_of = Vec::with_capacity(points.len());
    for p in points {
        if p.len() != FEATURE_DIMS || p.iter().any(|x| !x.is_finite()) {
            return Err(Error::validation(
                "features",
                format!("a point must be {FEATURE_DIMS} finite numbers"),
            ));
        }
        // -0.0 and 0.0 are the same place.
        let key: Vec<u32> = p.iter().map(|x| (x + 0.0).to_bits()).collect();
        let (row, copies) = kept.entry(key).or_insert((rows.len(), 0));
        if *copies < params.min_points {
            *copies += 1;
            rows.push(p);
        }
        row_of.push(*row);
    }
    let mut data = Vec::with_capacity(rows.len() * FEATURE_DIMS);
    for row in &rows {
        data.extend_from_slice(row);
    }
    let array = Array2::from_shape_vec((rows.len(), FEATURE_DIMS), data)
        .map_err(|e| Error::validation("features", e))?;
    let checked = Dbscan::params_with(params.min_points, Euclidean, Balls)
        .tolerance(params.eps)
        .check()
        .map_err(|e| Error::validation("clustering", e))?;
    let labels = checked.transform(&array);
    Ok(row_of.into_iter().map(|row| labels[row]).collect())
}

/// A stored pattern near the batch's candidates, as clustering sees it.
#[derive(Clone, Debug)]
pub struct Anchor<'a> {
    /// The pattern.
    pub id: PatternId,
    /// How many episodes it was seen in.
    pub support: u32,
    /// When it was first learnt (the older wins ties).
    pub created_at: Timestamp,
    /// Its feature vector.
    pub features: &'a [f32],
}

/// What clustering decided for one kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Candidate index → the stored pattern it joins.
    pub join: Vec<(usize, PatternId)>,
    /// Stored patterns absorbed into another (absorbed, into).
    pub absorb: Vec<(PatternId, PatternId)>,
    /// Groups of candidate indexes that become new patterns (singletons included), each in index order.
    pub new: Vec<Vec<usize>>,
}

/// Which stored patterns the plan should see for `candidates`: those within `2 eps` of any of them.
pub fn near<'a>(
    stored: impl IntoIterator<Item = Anchor<'a>>,
    candidates: &[Vec<f32>],
    eps: f32,
) -> Vec<Anchor<'a>> {
    stored
        .into_iter()
        .filter(|a| {
            candidates
                .iter()
                .any(|c| distance(a.features, c) <= 2.0 * eps)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Owner {
    Stored(usize),
    Candidate(usize),
}

/// Clusters `candidates` (feature vectors, in the order their episodes ended) with the stored patterns near them.
pub fn plan(
    anchors: &[Anchor<'_>],
    candidates: &[Vec<f32>],
    params: ClusterParams,
) -> Result<Plan> {
    let mut rows: Vec<&[f32]> = Vec::new();
    let mut owners: Vec<Owner> = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        for _ in 0..(a.support as usize).clamp(1, params.min_points) {
            rows.push(a.features);
            owners.push(Owner::Stored(i));
        }
    }
    for (j, c) in candidates.iter().enumerate() {
        rows.push(c);
        owners.push(Owner::Candidate(j));
    }
    let labels = dbscan(&rows, params)?;
    let mut clusters: HashMap<usize, (Vec<usize>, Vec<usize>)> = HashMap::new();
    let mut plan = Plan::default();
    for (owner, label) in owners.iter().zip(&labels) {
        match (label, *owner) {
            (Some(c), Owner::Stored(i)) => {
                let stored = &mut clusters.entry(*c).or_default().0;
                if !stored.contains(&i) {
                    stored.push(i);
                }
            }
            (Some(c), Owner::Candidate(j)) => clusters.entry(*c).or_default().1.push(j),
            (None, Owner::Candidate(j)) => plan.new.push(vec![j]),
            (None, Owner::Stored(_)) => {}
        }
    }
    let mut clusters: Vec<(Vec<usize>, Vec<usize>)> = clusters.into_values().collect();
    clusters.sort_by_key(|(stored, fresh)| (fresh.first().copied(), stored.first().copied()));
    for (stored, fresh) in clusters {
        let recurring: Vec<usize> = stored
            .iter()
            .copied()
            .filter(|&i| anchors[i].support as usize >= params.min_points)
            .collect();
        let nearest = |among: &[usize], to: &[f32]| {
            among
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    distance(anchors[a].features, to).total_cmp(&distance(anchors[b].features, to))
                })
                .map(|i| anchors[i].id)
        };
        if !recurring.is_empty() {
            for &j in &fresh {
                plan.join
                    .extend(nearest(&recurring, &candidates[j]).map(|id| (j, id)));
            }
            for &i in stored.iter().filter(|i| !recurring.contains(i)) {
                if let Some(into) = nearest(&recurring, anchors[i].features) {
                    plan.absorb.push((anchors[i].id, into));
                }
            }
        } else if let Some(&primary) = stored.iter().min_by_key(|&&i| {
            let a = &anchors[i];
            (std::cmp::Reverse(a.support), a.created_at, a.id)
        }) {
            let into = anchors[primary].id;
            plan.join.extend(fresh.iter().map(|&j| (j, into)));
            plan.absorb.extend(
                stored
                    .iter()
                    .filter(|&&i| i != primary)
                    .map(|&i| (anchors[i].id, into)),
            );
        } else if !fresh.is_empty() {
            plan.new.push(fresh);
        }
    }
    plan.new.sort();
    Ok(plan)
}

#[cfg(test)]
mod tests;
