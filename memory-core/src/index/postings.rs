//! Posting lists, by term: those of a loaded snapshot read in place from its bytes, those added since owned.
//!
//! The saved form is `[terms: u64][offsets: u64 × (terms + 1)][postings: (slot u32, frequency f32) × offsets[terms]]`,
//! in the machine's byte order (a snapshot stays on the machine that wrote it): term `t`'s postings are
//! `offsets[t]..offsets[t + 1]`. Loading checks the header, the last offset and the length, not every offset and
//! posting (that would read them all; the file is checksummed): offsets out of order or range read as an empty
//! list, and a posting whose slot is out of range is skipped where it is read.

use bytemuck::{Pod, Zeroable};
use smallvec::SmallVec;

use super::SharedBytes;

/// A document's weighted frequency of a term.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub(super) struct Posting {
    pub(super) slot: u32,
    pub(super) tf: f32,
}

/// A term's postings added since loading, in slot order; a list of one or two is kept inline (most terms of a
/// collection are in one or two documents).
type List = SmallVec<[Posting; 2]>;

#[derive(Clone)]
pub(super) struct Postings {
    /// Saved lists read in place (empty when nothing was loaded).
    loaded: SharedBytes,
    /// Terms with a list in `loaded`.
    loaded_terms: usize,
    /// By term: the postings added since loading, all at later slots than the loaded ones.
    owned: Vec<List>,
}

impl std::fmt::Debug for Postings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postings")
            .field("loaded_terms", &self.loaded_terms)
            .field("owned_terms", &self.owned.len())
            .finish()
    }
}

fn u64_at(bytes: &[u8], i: usize) -> Option<u64> {
    let at = 8 * i;
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

impl Postings {
    pub(super) fn new() -> Self {
        Postings {
            loaded: std::sync::Arc::new(Vec::new()),
            loaded_terms: 0,
            owned: Vec::new(),
        }
    }

    /// The saved lists in `bytes`, if they are `terms` lists in the saved form, as long as their last offset says.
    pub(super) fn loaded(bytes: SharedBytes, terms: usize) -> Result<Self, String> {
        let damaged = |why: &str| format!("damaged postings: {why}");
        let b = (*bytes).as_ref();
        if u64_at(b, 0) != Some(terms as u64) {
            return Err(damaged("term count"));
        }
        let body = 8 * (terms + 2);
        let count = b.len().checked_sub(body).ok_or_else(|| damaged("short"))? / 8;
        let last = u64_at(b, 1 + terms).ok_or_else(|| damaged("short"))?;
        if last != count as u64 || b.len() != body + 8 * count {
            return Err(damaged("length"));
        }
        if bytemuck::try_cast_slice::<u8, Posting>(&b[body..]).is_err() {
            return Err(damaged("not aligned"));
        }
        Ok(Postings {
            loaded: bytes,
            loaded_terms: terms,
            owned: Vec::new(),
        })
    }

    /// Terms with a list.
    pub(super) fn terms(&self) -> usize {
        self.loaded_terms.max(self.owned.len())
    }

    /// The loaded postings of `term`.
    fn loaded_list(&self, term: usize) -> &[Posting] {
        if term >= self.loaded_terms {
            return &[];
        }
        let b = (*self.loaded).as_ref();
        let body = 8 * (self.loaded_terms + 2);
        let all: &[Posting] = bytemuck::try_cast_slice(&b[body..]).unwrap_or(&[]);
        let (start, end) = (u64_at(b, 1 + term), u64_at(b, 2 + term));
        match (start, end) {
            (Some(start), Some(end)) => all.get(start as usize..end as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The postings of `term`, in slot order: the loaded ones, then those added since.
    pub(super) fn list(&self, term: usize) -> [&[Posting]; 2] {
        let owned = self.owned.get(term).map_or(&[][..], |l| l.as_slice());
        [self.loaded_list(term), owned]
    }

    /// Adds a posting at a slot later than every one `term` has.
    pub(super) fn push(&mut self, term: usize, posting: Posting) {
        if self.owned.len() <= term {
            self.owned.resize_with(term + 1, List::new);
        }
        self.owned[term].push(posting);
    }

    /// Every list with its slots renumbered by `remap` (`u32::MAX`: dropped), all owned.
    pub(super) fn remapped(&self, remap: &[u32]) -> Postings {
        let mut out = Postings::new();
        for term in 0..self.terms() {
            let mut list = List::new();
            for p in self.list(term).into_iter().flatten() {
                let slot = remap.get(p.slot as usize).copied().unwrap_or(u32::MAX);
                if slot != u32::MAX {
                    list.push(Posting { slot, tf: p.tf });
                }
            }
            out.owned.push(list);
        }
        out
    }

    /// Every list in the saved form.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let terms = self.terms();
        let mut offsets = Vec::with_capacity(terms + 1);
        let mut total = 0u64;
        offsets.push(0);
        for term in 0..terms {
            total += self.list(term).iter().map(|l| l.len() as u64).sum::<u64>();
            offsets.push(total);
        }
        let mut out = Vec::with_capacity(8 * (terms + 2) + 8 * total as usize);
        out.extend_from_slice(&(terms as u64).to_le_bytes());
        offsets
            .iter()
            .for_each(|o| out.extend_from_slice(&o.to_le_bytes()));
        for term in 0..terms {
            for part in self.list(term) {
                out.extend_from_slice(bytemuck::cast_slice(part));
            }
        }
        out
    }

    /// Bytes owned (those read in place are not counted).
    pub(super) fn owned_bytes(&self) -> usize {
        let spilled = self.owned.iter().filter(|l| l.spilled());
        self.owned.capacity() * size_of::<List>()
            + spilled
                .map(|l| l.capacity() * size_of::<Posting>())
                .sum::<usize>()
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.owned.iter_mut().for_each(List::shrink_to_fit);
        self.owned.shrink_to_fit();
    }
}

/// The postings of `list` (in slot order) of `slots` (in increasing order), found by galloping forwards.
pub(super) fn probe<'a>(
    list: &'a [Posting],
    slots: &'a [u32],
) -> impl Iterator<Item = &'a Posting> {
    let mut rest = list;
    slots.iter().filter_map(move |&slot| {
        let mut step = 1;
        while step < rest.len() && rest[step].slot < slot {
            step *= 2;
        }
        let i = rest[..rest.len().min(step + 1)].partition_point(|p| p.slot < slot);
        rest = &rest[i..];
        rest.first().filter(|p| p.slot == slot)
    })
}
