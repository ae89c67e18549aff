//! Work dealt to whichever of a few threads is free, and taken back in the order it was dealt:
//! how an ingest prepares (redacts, analyzes) blocks of a transcript, or whole small
//! transcripts, on several threads while one thread writes them in order.
//!
//! Dealing item `i` to thread `i % threads` and taking the results back in the same turns kept
//! the order for free, but tied the threads together: a thread done early waited for its next
//! item until the one in turn before it took its own, and the blocks of a transcript vary
//! several-fold in cost (tool output against skipped events). Here every thread takes the next
//! item from one queue, and the taker reorders what comes back.
//!
//! Invariants:
//! - Results come back in the order the items were dealt, each once; none is lost or made up.
//! - At most `window` items are dealt and not yet taken back (being worked on, or done and
//!   waiting for an earlier one): the dealer waits for the taker beyond that, so memory stays
//!   bounded however uneven the items are.
//! - A panic while working on an item comes back as that item's result (the taker resumes it),
//!   so no thread waits forever for a result that will never come.
//! - Dropping the [`InOrder`] stops the dealer once the room left in the window is used up and
//!   the threads at their next result; dropping the [`Dealer`] ends the threads once the queue
//!   is empty.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::Scope;

/// What a thread made of one item, or the panic that stopped it.
pub(crate) type Outcome<O> = std::thread::Result<O>;

/// Deals items to the threads of [`deal_out`], in order.
pub(crate) struct Dealer<I> {
    items: SyncSender<(u64, I)>,
    /// One per item that may still be dealt (the window); the taker hands one back per result.
    permits: Receiver<()>,
    next: u64,
}

impl<I> Dealer<I> {
    /// Deals `item`, waiting first while the window is full; `false` (the item dropped) once
    /// every thread stopped, or once the taker stopped and the room it left in the window is
    /// used up (items dealt meanwhile are dropped unworked or unread).
    pub(crate) fn deal(&mut self, item: I) -> bool {
        if self.permits.recv().is_err() {
            return false;
        }
        let sent = self.items.send((self.next, item)).is_ok();
        self.next += 1;
        sent
    }
}

/// The results of [`deal_out`]'s threads, in the order their items were dealt; ends when the
/// dealer is dropped and every item dealt came back.
pub(crate) struct InOrder<O> {
    results: Receiver<(u64, Outcome<O>)>,
    permits: SyncSender<()>,
    /// Results that came back before an earlier one.
    early: BTreeMap<u64, Outcome<O>>,
    next: u64,
}

impl<O> Iterator for InOrder<O> {
    type Item = Outcome<O>;

    fn next(&mut self) -> Option<Outcome<O>> {
        let outcome = loop {
            if let Some(outcome) = self.early.remove(&self.next) {
                break outcome;
            }
            let (i, outcome) = self.results.recv().ok()?;
            if i == self.next {
                break outcome;
            }
            self.early.insert(i, outcome);
        };
        self.next += 1;
        // The dealer may go on; it waits for none when it stopped already.
        let _ = self.permits.try_send(());
        Some(outcome)
    }
}

/// Starts `threads` threads in `scope` that each take the next item dealt and run `work` on it,
/// with at most `window` items (at least `threads`) dealt and not yet taken back; see the module
/// docs.
pub(crate) fn deal_out<'scope, I, O, W>(
    scope: &'scope Scope<'scope, '_>,
    threads: usize,
    window: usize,
    work: W,
) -> (Dealer<I>, InOrder<O>)
where
    I: Send + 'scope,
    O: Send + 'scope,
    W: Fn(I) -> O + Send + Sync + 'scope,
{
    let threads = threads.max(1);
    let window = window.max(threads);
    let (items, queue) = sync_channel::<(u64, I)>(threads);
    // Shared by the threads; the last one to stop drops it, which stops the dealer.
    let queue = Arc::new(Mutex::new(queue));
    let (done, results) = sync_channel::<(u64, Outcome<O>)>(window);
    let work = Arc::new(work);
    for _ in 0..threads {
        let (queue, done, work) = (Arc::clone(&queue), done.clone(), Arc::clone(&work));
        scope.spawn(move || {
            loop {
                // The lock is held while waiting for an item: the others wait on the lock
                // instead, and whoever holds it takes the next item.
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                let Ok((i, item)) = next else { break };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(item)));
                if done.send((i, outcome)).is_err() {
                    break;
                }
            }
        });
    }
    let (permits_back, permits) = sync_channel::<()>(window);
    for _ in 0..window {
        // The channel holds exactly `window`; it cannot be full or closed yet.
        let _ = permits_back.try_send(());
    }
    (
        Dealer {
            items,
            permits,
            next: 0,
        },
        InOrder {
            results,
            permits: permits_back,
            early: BTreeMap::new(),
            next: 0,
        },
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn results_come_back_in_the_order_dealt_however_long_each_takes() {
        let got: Vec<u64> = std::thread::scope(|scope| {
            let (mut dealer, in_order) = deal_out(scope, 3, 4, |i: u64| {
                // Early items take longest, so later ones come back first.
                std::thread::sleep(Duration::from_millis((20 - i % 20) / 4));
                i * 10
            });
            scope.spawn(move || {
                for i in 0..60 {
                    assert!(dealer.deal(i));
                }
            });
            in_order.map(|outcome| outcome.expect("no panic")).collect()
        });
        assert_eq!(got, (0..60).map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_free_thread_takes_the_next_item_while_another_is_busy() {
        // Item 0 blocks until item 1 and 2 are done: with items dealt in turn (0 and 2 to the
        // first of two threads) item 2 would wait behind item 0 for ever.
        let done_later = AtomicUsize::new(0);
        let got: Vec<u64> = std::thread::scope(|scope| {
            let done_later = &done_later;
            let (mut dealer, in_order) = deal_out(scope, 2, 4, move |i: u64| {
                if i == 0 {
                    while done_later.load(Ordering::SeqCst) < 2 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                } else {
                    done_later.fetch_add(1, Ordering::SeqCst);
                }
                i
            });
            scope.spawn(move || {
                for i in 0..3 {
                    dealer.deal(i);
                }
            });
            in_order.map(|outcome| outcome.expect("no panic")).collect()
        });
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn no_more_than_the_window_is_dealt_ahead_of_the_taker() {
        let dealt = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let dealt = &dealt;
            let (mut dealer, mut in_order) = deal_out(scope, 2, 5, |i: u64| i);
            scope.spawn(move || {
                for i in 0..100 {
                    if !dealer.deal(i) {
                        break;
                    }
                    dealt.fetch_add(1, Ordering::SeqCst);
                }
            });
            // Nothing taken back yet: the dealer reaches the window, and stays there.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while dealt.load(Ordering::SeqCst) < 5 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(dealt.load(Ordering::SeqCst), 5);
            for taken in 1..=10 {
                assert!(in_order.next().is_some());
                std::thread::sleep(Duration::from_millis(5));
                assert!(dealt.load(Ordering::SeqCst) <= 5 + taken);
            }
            assert_eq!(in_order.by_ref().count(), 90);
        });
    }

    #[test]
    fn a_panic_comes_back_as_its_items_result_and_the_rest_go_on() {
        let got: Vec<Result<u64, ()>> = std::thread::scope(|scope| {
            let (mut dealer, in_order) = deal_out(scope, 2, 3, |i: u64| {
                assert!(i != 4, "item 4 fails");
                i
            });
            scope.spawn(move || {
                for i in 0..8 {
                    dealer.deal(i);
                }
            });
            in_order.map(|outcome| outcome.map_err(|_| ())).collect()
        });
        let want: Vec<Result<u64, ()>> = (0..8)
            .map(|i| if i == 4 { Err(()) } else { Ok(i) })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn dropping_the_taker_stops_the_dealer_and_the_threads() {
        let worked = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let worked = &worked;
            let (mut dealer, mut in_order) = deal_out(scope, 2, 4, move |i: u64| {
                worked.fetch_add(1, Ordering::SeqCst);
                i
            });
            let feeder =
                scope.spawn(move || (0..1_000_000).take_while(|&i| dealer.deal(i)).count());
            assert_eq!(in_order.next().map(Result::ok), Some(Some(0)));
            drop(in_order);
            let dealt = feeder.join().expect("no panic");
            assert!(dealt < 20, "{dealt}");
        });
        assert!(worked.load(Ordering::SeqCst) < 20);
    }
}
