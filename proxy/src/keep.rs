//! The keep-mask: an envelope's items and their consent facts are two parallel lists, and
//! every stage that drops items (the rate-limit check at intake, the consent and rate-limit
//! re-check before a send, a revocation that rewrites a spooled job) must drop from both at
//! once, or the facts of one item end up judging another. Shared by the stages; depends on
//! nothing else in the crate.

/// Keeps, in both lists and in order, the pairs that `keep` accepts; returns how many pairs
/// were removed. A pair is `(a[i], b[i])`; an element without a partner (the lists differ in
/// length) is removed, since no decision can be made for it.
pub fn retain_pairs<A, B>(
    a: &mut Vec<A>,
    b: &mut Vec<B>,
    mut keep: impl FnMut(&A, &B) -> bool,
) -> usize {
    let mask: Vec<bool> = a.iter().zip(b.iter()).map(|(x, y)| keep(x, y)).collect();
    retain_mask(a, b, &mask)
}

/// Keeps, in both lists, the elements whose flag in `mask` is true; an element past the end
/// of `mask` is removed. Returns how many were removed from `a`.
pub fn retain_mask<A, B>(a: &mut Vec<A>, b: &mut Vec<B>, mask: &[bool]) -> usize {
    let whole = a.len() == mask.len() && b.len() == mask.len();
    if whole && mask.iter().all(|k| *k) {
        return 0;
    }
    let before = a.len();
    retain_by(a, mask);
    retain_by(b, mask);
    before - a.len()
}

fn retain_by<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep.get(i - 1).copied().unwrap_or(false)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_same_positions_from_both_lists() {
        let mut items = vec!["event", "span", "log", "span"];
        let mut facts = vec![1, 2, 3, 4];
        let removed = retain_pairs(&mut items, &mut facts, |ty, _| *ty != "span");
        assert_eq!(
            (removed, items, facts),
            (2, vec!["event", "log"], vec![1, 3])
        );
    }

    #[test]
    fn the_decision_sees_both_elements_of_a_pair() {
        let mut items = vec!["a", "b", "c"];
        let mut facts = vec![true, false, true];
        let removed = retain_pairs(&mut items, &mut facts, |_, ok| *ok);
        assert_eq!(
            (removed, items, facts),
            (1, vec!["a", "c"], vec![true, true])
        );
    }

    #[test]
    fn keeping_everything_changes_nothing() {
        let mut items = vec![1, 2];
        let mut facts = vec!['x', 'y'];
        assert_eq!(retain_mask(&mut items, &mut facts, &[true, true]), 0);
        assert_eq!((items, facts), (vec![1, 2], vec!['x', 'y']));
    }

    #[test]
    fn an_element_without_a_decision_is_removed() {
        let mut items = vec![1, 2, 3];
        let mut facts = vec!['x', 'y'];
        // The third item has no consent fact: the pair decision never sees it.
        let removed = retain_pairs(&mut items, &mut facts, |_, _| true);
        assert_eq!((removed, items, facts), (1, vec![1, 2], vec!['x', 'y']));
        let mut items = vec![1, 2, 3];
        let mut facts = vec!['x', 'y', 'z'];
        assert_eq!(retain_mask(&mut items, &mut facts, &[true, false]), 2);
        assert_eq!((items, facts), (vec![1], vec!['x']));
    }
}
