//! One step of the learner: a batch of queued episodes becomes one [`PatternWrite`]. Their candidates are embedded
//! and clustered with the stored patterns near them ([`super::cluster`]); joins, absorptions and new patterns
//! are applied to copies of the loaded patterns, and the write takes the jobs off the queue with them.

use std::collections::HashMap;

use super::{
    Candidate, ModelVectors, Pattern, PatternId, PatternJob, PatternKind, PatternWrite,
    cluster::{self, ClusterParams},
    extract,
    index::{PatternIndex, Sources},
};
use crate::{EmbeddingModel, Result, Revision, Scope, Timestamp, retrieve::EpisodeSource};

/// What one or more batches did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Extracted {
    /// Episodes whose patterns were extracted.
    pub episodes: u32,
    /// Candidates read off them.
    pub candidates: u32,
    /// Candidates that joined a stored pattern.
    pub merged: u32,
    /// New patterns (recurring or singletons).
    pub created: u32,
    /// Stored patterns absorbed into another.
    pub absorbed: u32,
    /// Jobs dropped: the episode was deleted, or extracted already.
    pub dropped: u32,
}

impl Extracted {
    /// Adds the counts of `other`.
    pub fn add(&mut self, other: Extracted) {
        self.episodes += other.episodes;
        self.candidates += other.candidates;
        self.merged += other.merged;
        self.created += other.created;
        self.absorbed += other.absorbed;
        self.dropped += other.dropped;
    }
}

/// The settings a batch runs with.
pub(crate) struct Settings {
    pub(crate) cluster: ClusterParams,
    pub(crate) half_life_days: f64,
}

/// Turns `jobs` into one write against the loaded patterns (which must be current).
pub(crate) async fn prepare(
    jobs: &[PatternJob],
    episodes: &dyn EpisodeSource,
    sources: &Sources<'_>,
    index: &PatternIndex,
    settings: &Settings,
) -> Result<(PatternWrite, Extracted)> {
    let now = Timestamp::now();
    let mut write = PatternWrite::default();
    let mut report = Extracted::default();
    let mut candidates: Vec<Candidate> = Vec::new();
    for job in jobs {
        let episode = match job.extracted {
            true => None,
            false => episodes.get_episode(job.episode).await?,
        };
        match episode.filter(|v| v.value.is_completed()) {
            Some(v) => {
                candidates.extend(extract(&v.value));
                write.extracted.push(job.episode);
            }
            None => write.dropped.push(job.episode),
        }
    }
    candidates.sort_by_key(|c| (c.evidence.at, c.evidence.episode));
    report.episodes = write.extracted.len() as u32;
    report.dropped = write.dropped.len() as u32;
    report.candidates = candidates.len() as u32;

    let texts: HashMap<String, String> = candidates
        .iter()
        .map(|c| (crate::content_hash(&c.description), c.description.clone()))
        .collect();
    let (vectors, _) = sources.vectors(&texts).await?;
    let feature_of = |c: &Candidate| {
        let vector = vectors.get(&crate::content_hash(&c.description));
        cluster::features(vector.map_or(&[][..], Vec::as_slice), &c.signature)
    };

    let mut changed: HashMap<PatternId, (Pattern, Option<Revision>)> = HashMap::new();
    let mut fresh: Vec<Pattern> = Vec::new();
    // Clusters form within one kind and one scope: a tenant's patterns are never merged with another's.
    let mut groups: Vec<(PatternKind, Option<&Scope>)> = candidates
        .iter()
        .map(|c| (c.kind, c.scope.as_ref()))
        .collect();
    groups.sort();
    groups.dedup();
    for (kind, scope) in groups {
        let of_kind: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.kind == kind && c.scope.as_ref() == scope)
            .collect();
        let points: Vec<Vec<f32>> = of_kind.iter().map(|c| feature_of(c)).collect();
        let anchors = cluster::near(index.anchors(kind, scope), &points, settings.cluster.eps);
        let plan = cluster::plan(&anchors, &points, settings.cluster)?;
        for (absorbed, into) in &plan.absorb {
            let gone = index.get(*absorbed).expect("plans name loaded patterns");
            stored(&mut changed, index, *into).absorb(&gone.pattern, now, settings.half_life_days);
            write.delete.push((*absorbed, gone.revision));
        }
        for &(j, into) in &plan.join {
            let c = of_kind[j];
            stored(&mut changed, index, into).add_evidence(c, now, settings.half_life_days);
        }
        for group in &plan.new {
            let mut pattern =
                Pattern::from_candidate(of_kind[group[0]].clone(), now, settings.half_life_days);
            for &j in &group[1..] {
                let c = of_kind[j];
                pattern.add_evidence(c, now, settings.half_life_days);
            }
            fresh.push(pattern);
        }
        report.merged += plan.join.len() as u32;
        report.absorbed += plan.absorb.len() as u32;
        report.created += plan.new.len() as u32;
    }

    let model = EmbeddingModel {
        id: sources.embedder.id().to_string(),
        dimension: sources.embedder.dimension(),
    };
    let new_vectors: Vec<(String, Vec<f32>)> = fresh
        .iter()
        .filter_map(|p| {
            let key = p.embedding_key();
            vectors.get(&key).map(|v| (key, v.clone()))
        })
        .collect();
    if !new_vectors.is_empty() {
        write.vectors = Some(ModelVectors {
            model,
            vectors: new_vectors,
        });
    }
    let deleted: Vec<PatternId> = write.delete.iter().map(|(id, _)| *id).collect();
    write.put = changed
        .into_values()
        .filter(|(p, _)| !deleted.contains(&p.id))
        .chain(fresh.into_iter().map(|p| (p, None)))
        .collect();
    write.put.sort_by_key(|(p, _)| p.id);
    Ok((write, report))
}

/// The working copy of the stored pattern `id`, taken from the index on first use with the revision it was read
/// at. Plans only name patterns they got from the index.
fn stored<'a>(
    changed: &'a mut HashMap<PatternId, (Pattern, Option<Revision>)>,
    index: &PatternIndex,
    id: PatternId,
) -> &'a mut Pattern {
    &mut changed
        .entry(id)
        .or_insert_with(|| {
            let e = index.get(id).expect("plans name loaded patterns");
            (e.pattern.clone(), Some(e.revision))
        })
        .0
}
