//! Time spans of one principal's calls, kept in a map keyed by each span's first call time: the
//! bursts of [`super::burst`] and the root sessions of `root_account_activity`. Calls arrive in any
//! order (workers read files in parallel), so a call or a span joins every span it touches, which
//! gives the spans a walk of the calls in time order gives.
//!
//! The contract of [`take_in_place`]: it changes the map exactly as building a one-call span and
//! merging it with the spans it touches would, whenever exactly one span is touched; otherwise it
//! hands the call back for that general path.

use std::collections::BTreeMap;

/// A span of calls: the time of its first and of its last call (ms).
pub(crate) trait Span {
    fn first_at(&self) -> i64;
    fn last_at(&self) -> i64;
}

impl<T: Span> Span for Box<T> {
    fn first_at(&self) -> i64 {
        (**self).first_at()
    }
    fn last_at(&self) -> i64 {
        (**self).last_at()
    }
}

/// The starts of the spans that `first_at..=last_at` touches: those that start before it ends (plus
/// `gap`) and end after it starts (less `gap`).
pub(crate) fn touching<T: Span>(
    spans: &BTreeMap<i64, T>,
    first_at: i64,
    last_at: i64,
    gap: i64,
) -> impl Iterator<Item = i64> + '_ {
    spans
        .range(..=last_at.saturating_add(gap))
        .rev()
        .take_while(move |(_, s)| ends_within(*s, first_at, gap))
        .map(|(start, _)| *start)
}

/// Whether `span` ends no more than `gap` before `first_at`: walking back from the last span that starts
/// in reach, the spans [`touching`] counts are those until the first for which this fails.
fn ends_within<T: Span>(span: &T, first_at: i64, gap: i64) -> bool {
    span.last_at().saturating_add(gap) >= first_at
}

/// Adds one call at `at` to the one span it touches, with `take`, keeping the map keyed by first
/// call time (a call no earlier than the span's start leaves the key alone and moves nothing).
/// `Some(call)` back when no span or more than one is touched.
pub(crate) fn take_in_place<T: Span, C>(
    spans: &mut BTreeMap<i64, T>,
    at: i64,
    gap: i64,
    call: C,
    take: impl FnOnce(&mut T, C),
) -> Option<C> {
    // The walk of `touching`, through the spans themselves: the usual call (no earlier than the one
    // span it touches) is taken in place without a second search of the map.
    let only = {
        let mut touched = spans
            .range_mut(..=at.saturating_add(gap))
            .rev()
            .take_while(|(_, s)| ends_within(*s, at, gap));
        match (touched.next(), touched.next()) {
            (Some((&start, span)), None) if at >= start => {
                take(span, call);
                return None;
            }
            (Some((&start, _)), None) => start,
            _ => return Some(call),
        }
    };
    let mut span = spans.remove(&only)?;
    take(&mut span, call);
    spans.insert(span.first_at(), span);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Calls(Vec<i64>);

    impl Span for Calls {
        fn first_at(&self) -> i64 {
            self.0.iter().copied().min().unwrap_or_default()
        }
        fn last_at(&self) -> i64 {
            self.0.iter().copied().max().unwrap_or_default()
        }
    }

    fn spans(list: &[&[i64]]) -> BTreeMap<i64, Calls> {
        list.iter()
            .map(|calls| {
                let span = Calls(calls.to_vec());
                (span.first_at(), span)
            })
            .collect()
    }

    #[test]
    fn a_call_joins_the_one_span_it_touches_and_is_handed_back_otherwise() {
        let push = |span: &mut Calls, at: i64| span.0.push(at);
        let mut map = spans(&[&[100, 110], &[200, 210]]);
        // Within the gap of the second span only, after its start: taken, key unchanged.
        assert_eq!(take_in_place(&mut map, 215, 10, 215, push), None);
        assert_eq!(map[&200], Calls(vec![200, 210, 215]));
        // Before the first span's start: taken, and the span moves to its new first call.
        assert_eq!(take_in_place(&mut map, 95, 10, 95, push), None);
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [95, 200]);
        // Touching both (a bridge), or none: handed back.
        let mut bridged = spans(&[&[100, 110], &[120, 130]]);
        assert_eq!(take_in_place(&mut bridged, 115, 10, 115, push), Some(115));
        assert_eq!(take_in_place(&mut map, 500, 10, 500, push), Some(500));
        assert_eq!(map.len(), 2);
    }
}
