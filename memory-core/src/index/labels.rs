//! What documents have in common: kind, tags, context, outcome and scope. These repeat across a collection (at
//! 100K episodes, tens of thousands of distinct sets over a few dozen distinct strings), so a collection keeps each
//! distinct set once as numbers, each string once ([`Strings`]), and a document holds its set's number.

use std::hash::{BuildHasher as _, Hash};

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

use super::strings::Strings;
use crate::{OutcomeKind, RecordKind, TaskType};

/// A document's labels, as given to the index and as saved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Labels {
    /// A record's kind.
    pub kind: Option<RecordKind>,
    /// Its tags.
    pub tags: Vec<String>,
    /// An episode's domain.
    pub domain: Option<String>,
    /// An episode's language.
    pub language: Option<String>,
    /// An episode's framework.
    pub framework: Option<String>,
    /// An episode's task type.
    pub task_type: Option<TaskType>,
    /// How an episode ended.
    pub outcome: Option<OutcomeKind>,
    /// The scope of an episode or pattern recorded in one (records: `None`, their collection is their scope's).
    pub scope: Option<String>,
}

/// No name, in [`Fixed::names`].
const NONE: u32 = u32::MAX;

/// A label set but its tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Fixed {
    kind: Option<RecordKind>,
    task_type: Option<TaskType>,
    outcome: Option<OutcomeKind>,
    /// The numbers of its domain, language, framework and scope, or [`NONE`].
    names: [u32; 4],
}

/// A collection's label sets as a snapshot saves them: each name once, each set as numbers of names (decoding
/// tens of thousands of sets of strings cost more than the rest of a snapshot).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct SavedLabels {
    names: Vec<String>,
    sets: Vec<SavedSet>,
    /// The sets' tags, back to back.
    tags: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SavedSet {
    kind: Option<RecordKind>,
    task_type: Option<TaskType>,
    outcome: Option<OutcomeKind>,
    names: [u32; 4],
    /// How many of the saved tags are its own.
    tags: u32,
}

/// A distinct label set.
#[derive(Clone, Copy, Debug)]
struct Set {
    fixed: Fixed,
    /// Where its tags' numbers start in [`LabelSets::tags`].
    tags_start: u32,
    tags_len: u32,
}

/// A collection's distinct label sets, numbered.
#[derive(Clone, Debug, Default)]
pub(super) struct LabelSets {
    names: Strings,
    sets: Vec<Set>,
    /// The sets' tags, as numbers of names, back to back.
    tags: Vec<u32>,
    /// The sets, found by their contents.
    table: HashTable<u32>,
}

fn hash(fixed: &Fixed, tags: &[u32]) -> u64 {
    foldhash::fast::FixedState::with_seed(0).hash_one((fixed, tags))
}

/// The numbers of `set`'s tags, of all sets' `tags`.
fn tags_of<'a>(tags: &'a [u32], set: &Set) -> &'a [u32] {
    let start = set.tags_start as usize;
    &tags[start..start + set.tags_len as usize]
}

/// The hash of the set numbered `id`, for the table to move it.
fn rehash(sets: &[Set], tags: &[u32], id: u32) -> u64 {
    let set = &sets[id as usize];
    hash(&set.fixed, tags_of(tags, set))
}

impl LabelSets {
    /// The number of the set `labels` is, numbering it if it is new. Numbers are 32-bit: past 2³² distinct sets,
    /// tags or names (or 4 GiB of names), `None`.
    pub(super) fn intern(&mut self, labels: &Labels) -> Option<u32> {
        let mut name =
            |s: &Option<String>| s.as_deref().map_or(Some(NONE), |s| self.names.intern(s));
        let names = [
            name(&labels.domain)?,
            name(&labels.language)?,
            name(&labels.framework)?,
            name(&labels.scope)?,
        ];
        let fixed = Fixed {
            kind: labels.kind,
            task_type: labels.task_type,
            outcome: labels.outcome,
            names,
        };
        let tags: Vec<u32> = labels
            .tags
            .iter()
            .map(|t| self.names.intern(t))
            .collect::<Option<_>>()?;
        let h = hash(&fixed, &tags);
        let same = |&id: &u32| {
            let set = &self.sets[id as usize];
            set.fixed == fixed && tags_of(&self.tags, set) == tags
        };
        if let Some(&id) = self.table.find(h, same) {
            return Some(id);
        }
        let id = u32::try_from(self.sets.len()).ok()?;
        let set = Set {
            fixed,
            tags_start: u32::try_from(self.tags.len()).ok()?,
            tags_len: u32::try_from(tags.len()).ok()?,
        };
        u32::try_from(self.tags.len() + tags.len()).ok()?;
        self.tags.extend_from_slice(&tags);
        self.sets.push(set);
        let (sets, all_tags) = (&self.sets, &self.tags);
        let rehash = |&id: &u32| rehash(sets, all_tags, id);
        self.table.insert_unique(h, id, rehash);
        Some(id)
    }

    /// The set numbered `id`; none is an empty set (numbers come from [`LabelSets::intern`], but a snapshot's
    /// rows are read in place, checksummed rather than checked).
    pub(super) fn get(&self, id: u32) -> LabelsView<'_> {
        const EMPTY: Set = Set {
            fixed: Fixed {
                kind: None,
                task_type: None,
                outcome: None,
                names: [NONE; 4],
            },
            tags_start: 0,
            tags_len: 0,
        };
        LabelsView {
            sets: self,
            set: self.sets.get(id as usize).unwrap_or(&EMPTY),
        }
    }

    /// How many sets there are.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sets.len()
    }

    /// The sets as a snapshot saves them.
    pub(super) fn to_saved(&self) -> SavedLabels {
        SavedLabels {
            names: self.names.iter().map(str::to_string).collect(),
            sets: self
                .sets
                .iter()
                .map(|set| SavedSet {
                    kind: set.fixed.kind,
                    task_type: set.fixed.task_type,
                    outcome: set.fixed.outcome,
                    names: set.fixed.names,
                    tags: set.tags_len,
                })
                .collect(),
            tags: self.tags.clone(),
        }
    }

    /// The sets `saved` holds, numbered in order; `None` if a name or a set is saved twice or a number names
    /// nothing.
    pub(super) fn from_saved(saved: &SavedLabels) -> Option<Self> {
        let mut sets = LabelSets::default();
        for (i, name) in saved.names.iter().enumerate() {
            if sets.names.intern(name)? as usize != i {
                return None;
            }
        }
        let known = |n: u32| (n as usize) < saved.names.len();
        let mut start = 0usize;
        for s in &saved.sets {
            let end = start.checked_add(s.tags as usize)?;
            let tags = saved.tags.get(start..end)?;
            if !s.names.iter().all(|&n| n == NONE || known(n)) || !tags.iter().all(|&n| known(n)) {
                return None;
            }
            let fixed = Fixed {
                kind: s.kind,
                task_type: s.task_type,
                outcome: s.outcome,
                names: s.names,
            };
            let h = hash(&fixed, tags);
            let same = |&id: &u32| {
                let set = &sets.sets[id as usize];
                set.fixed == fixed && tags_of(&sets.tags, set) == tags
            };
            if sets.table.find(h, same).is_some() {
                return None;
            }
            let id = u32::try_from(sets.sets.len()).ok()?;
            sets.sets.push(Set {
                fixed,
                tags_start: u32::try_from(start).ok()?,
                tags_len: s.tags,
            });
            sets.tags.extend_from_slice(tags);
            let (all, all_tags) = (&sets.sets, &sets.tags);
            sets.table
                .insert_unique(h, id, |&id| rehash(all, all_tags, id));
            start = end;
        }
        (start == saved.tags.len()).then_some(())?;
        sets.shrink_to_fit();
        Some(sets)
    }

    /// Keeps only the sets `ids` name, renumbering them (and `ids`) from 0.
    pub(super) fn retain(&mut self, ids: &mut [u32]) {
        let mut kept = LabelSets::default();
        let mut renumbered = vec![NONE; self.sets.len()];
        for id in ids {
            let new = &mut renumbered[*id as usize];
            if *new == NONE {
                // Fewer sets than before, so numbering cannot run out.
                *new = kept.intern(&self.get(*id).to_labels()).unwrap_or(NONE);
            }
            *id = *new;
        }
        *self = kept;
    }

    /// About how many bytes it holds.
    pub(super) fn memory(&self) -> usize {
        self.names.memory()
            + self.sets.capacity() * size_of::<Set>()
            + self.tags.capacity() * size_of::<u32>()
            + super::map_bytes(self.table.capacity(), size_of::<u32>())
    }

    /// Gives back the room its arrays grew beyond their contents.
    pub(super) fn shrink_to_fit(&mut self) {
        self.names.shrink_to_fit();
        self.sets.shrink_to_fit();
        self.tags.shrink_to_fit();
        let (sets, tags) = (&self.sets, &self.tags);
        self.table.shrink_to_fit(|&id| rehash(sets, tags, id));
    }
}

/// A document's labels, read from its collection.
#[derive(Clone, Copy)]
pub struct LabelsView<'a> {
    sets: &'a LabelSets,
    set: &'a Set,
}

impl<'a> LabelsView<'a> {
    fn name(&self, i: usize) -> Option<&'a str> {
        let id = self.set.fixed.names[i];
        (id != NONE).then(|| self.sets.names.get(id))
    }

    /// A record's kind.
    pub fn kind(&self) -> Option<RecordKind> {
        self.set.fixed.kind
    }

    /// An episode's task type.
    pub fn task_type(&self) -> Option<TaskType> {
        self.set.fixed.task_type
    }

    /// How an episode ended.
    pub fn outcome(&self) -> Option<OutcomeKind> {
        self.set.fixed.outcome
    }

    /// An episode's domain.
    pub fn domain(&self) -> Option<&'a str> {
        self.name(0)
    }

    /// An episode's language.
    pub fn language(&self) -> Option<&'a str> {
        self.name(1)
    }

    /// An episode's framework.
    pub fn framework(&self) -> Option<&'a str> {
        self.name(2)
    }

    /// The scope of an episode or pattern recorded in one.
    pub fn scope(&self) -> Option<&'a str> {
        self.name(3)
    }

    /// Its tags.
    pub fn tags(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let names = &self.sets.names;
        tags_of(&self.sets.tags, self.set)
            .iter()
            .map(|&id| names.get(id))
    }

    /// Whether `tag` is one of its tags.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|t| t == tag)
    }

    /// The labels, owned.
    pub fn to_labels(&self) -> Labels {
        let owned = |s: Option<&str>| s.map(str::to_string);
        Labels {
            kind: self.kind(),
            tags: self.tags().map(str::to_string).collect(),
            domain: owned(self.domain()),
            language: owned(self.language()),
            framework: owned(self.framework()),
            task_type: self.task_type(),
            outcome: self.outcome(),
            scope: owned(self.scope()),
        }
    }
}

impl std::fmt::Debug for LabelsView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_labels().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(domain: &str, tags: &[&str]) -> Labels {
        Labels {
            domain: Some(domain.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            task_type: Some(TaskType::Debugging),
            ..Labels::default()
        }
    }

    #[test]
    fn equal_sets_share_a_number_and_read_back_whole() {
        let mut sets = LabelSets::default();
        let a = sets.intern(&labels("web", &["ci", "db"])).unwrap();
        let b = sets.intern(&labels("web", &["db", "ci"])).unwrap();
        let c = sets.intern(&labels("web", &["ci", "db"])).unwrap();
        let none = sets.intern(&Labels::default()).unwrap();
        assert_eq!((a, b, c, none), (0, 1, 0, 2));
        assert_eq!(sets.get(b).to_labels(), labels("web", &["db", "ci"]));
        assert_eq!(sets.get(none).to_labels(), Labels::default());
        assert!(sets.get(a).has_tag("db") && !sets.get(none).has_tag("db"));
        assert_eq!(sets.get(a).domain(), Some("web"));
        assert_eq!(sets.get(a).scope(), None);
    }

    #[test]
    fn retain_drops_unused_sets_and_renumbers() {
        let mut sets = LabelSets::default();
        for d in ["a", "b", "c"] {
            sets.intern(&labels(d, &[d])).unwrap();
        }
        let mut ids = [2, 2, 0];
        sets.retain(&mut ids);
        assert_eq!((ids, sets.len()), ([0, 0, 1], 2));
        assert_eq!(sets.get(0).to_labels(), labels("c", &["c"]));
        let saved = sets.to_saved();
        assert_eq!(LabelSets::from_saved(&saved).unwrap().to_saved(), saved);
        let mut twice = saved.clone();
        twice.sets.push(twice.sets[0].clone());
        twice
            .tags
            .extend(saved.tags[..saved.sets[0].tags as usize].to_vec());
        assert!(LabelSets::from_saved(&twice).is_none());
        let mut unknown = saved.clone();
        unknown.sets[0].names[0] = saved.names.len() as u32;
        assert!(LabelSets::from_saved(&unknown).is_none());
    }
}
