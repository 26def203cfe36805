//! A set of catalog actions as a bitset: 22k actions fit in under 3 KB, and union, difference and
//! "covers everything" are a few hundred word operations.

use super::ActionId;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ActionSet {
    words: Vec<u64>,
}

impl ActionSet {
    pub fn new() -> Self {
        ActionSet::default()
    }

    fn ensure(&mut self, bit: usize) {
        let word = bit / 64;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
    }

    pub fn insert(&mut self, id: ActionId) {
        let bit = id.0 as usize;
        self.ensure(bit);
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    /// Inserts ids `0..len`.
    pub fn insert_all(&mut self, len: usize) {
        if len == 0 {
            return;
        }
        self.ensure(len - 1);
        let full = len / 64;
        for w in &mut self.words[..full] {
            *w = u64::MAX;
        }
        if !len.is_multiple_of(64) {
            self.words[full] |= (1u64 << (len % 64)) - 1;
        }
    }

    pub fn contains(&self, id: ActionId) -> bool {
        let bit = id.0 as usize;
        self.words
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    pub fn union_with(&mut self, other: &ActionSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub fn intersect_with(&mut self, other: &ActionSet) {
        self.words.truncate(other.words.len());
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn difference_with(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// The actions `0..len` not in this set.
    pub fn complement(&self, len: usize) -> ActionSet {
        let mut all = ActionSet::new();
        all.insert_all(len);
        all.difference_with(self);
        all
    }

    /// Whether every action of this set is in `other`.
    pub fn is_subset_of(&self, other: &ActionSet) -> bool {
        self.words.iter().enumerate().all(|(i, w)| {
            let o = other.words.get(i).copied().unwrap_or(0);
            w & !o == 0
        })
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut word = w;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let bit = word.trailing_zeros();
                word &= word - 1;
                Some(ActionId(i as u32 * 64 + bit))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut a = ActionSet::new();
        a.insert_all(130);
        assert_eq!(a.len(), 130);
        assert!(a.contains(ActionId(129)) && !a.contains(ActionId(130)));
        let mut b = ActionSet::new();
        b.insert(ActionId(5));
        b.insert(ActionId(200));
        a.difference_with(&b);
        assert_eq!(a.len(), 129);
        a.union_with(&b);
        assert_eq!(a.len(), 131);
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            vec![ActionId(5), ActionId(200)]
        );
        assert_eq!(b.complement(10).len(), 9);
        assert!(ActionSet::new().is_empty());
        assert!(b.is_subset_of(&a) && !a.is_subset_of(&b));
        assert!(ActionSet::new().is_subset_of(&b));
        let mut c = a.clone();
        c.intersect_with(&b);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            vec![ActionId(5), ActionId(200)]
        );
    }
}
