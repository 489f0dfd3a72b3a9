// done_waiter: a send or receive that a context's cancellation interrupts, without a select.
//
// Go's pipelines write every blocking step as
//   select { case out <- v: case <-ctx.Done(): }
// A select that parks locks both channels to enqueue, and both again to withdraw the losing
// waiter; every goroutine of a pipeline does that on the one done channel of its context, so
// at GOMAXPROCS >= 2 that channel's lock is shared by all of them (bench pipeline_3stage_1m,
// fanin_8). A done channel is never sent to and is closed once, so the waiting can be split:
//
// - The standing waiter. The first time its goroutine must block, a done_waiter queues one
//   waiter on done's recvq and leaves it there until it is freed. Like a select's waiters,
//   it names a `flag` word; the waiter of the operation that blocks names the same word.
// - An operation on c. Under c's lock, as chan.cpp's send and recv, until it must wait; then
//   it queues its waiter on c, opens the flag (exchange to 0, seq_cst) and reads done's
//   `closed` (seq_cst), still holding c's lock, and parks (park, which unlocks c).
// - Whoever flips the flag from 0 owns the wake (wait_queue::pop_front, as for a select): a
//   sender or receiver on c, which completes the operation with us as with any waiter; or
//   done's close, through the standing waiter, which reports the cancellation. A waker that
//   loses drops our waiter from its queue, so we withdraw only from c, and only when
//   cancelled: the common wake costs no lock of done at all.
// - Between operations the flag stays nonzero, so a close then drops the standing waiter
//   without waking anyone; the next operation reads `closed` after opening the flag.
//
// Why no cancellation is missed. The closer stores `closed` (seq_cst, or before the seq_cst
// fence of a batch close: chan_close_begin) before its pop_front flips the flag (seq_cst);
// we open the flag before we read `closed`. If we read 0, our opening comes first in the
// seq_cst order and the closer's flip sees it: it wins and wakes us. If we read 1, we try to
// flip the flag ourselves: winning, we withdraw and report done; losing, the close is waking
// us, and the park consumes that wake.
//
// Parking uses park, not park_sole: the close finds our standing waiter under done's lock,
// not c's, and may wake us before we are off our stack.
//
// Layout. The operation's waiter lives in the done_waiter, next to the flag, one cache line
// for both: a waker on another worker reads the waiter, flips the flag and records success
// in a line it misses on once (a waiter on our stack and the flag apart cost two or three;
// bench fanin_8 at GOMAXPROCS=2). One goroutine uses a done_waiter (context_watch), one
// operation at a time, so one waiter serves all its operations.
#include <cstddef>
#include <new>

#include "runtime/chan.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

// The flag holds select_won(0) once done's close has won it, through the standing waiter,
// and op_won once a partner on the operation's channel has.
constexpr int standing_case = 0;
constexpr int op_case = 1;
constexpr std::uint32_t op_won = select_won(op_case);

struct alignas(64) done_waiter {
  waiter op;                           // the blocked operation's; see Layout above
  std::atomic<std::uint32_t> flag{1};  // 0 while an operation waits; see above
  waiter standing;                     // on done->recvq from the first block until freed
  chan_core* done;
  bool queued = false;  // standing was queued (it may have been dropped since)

  explicit done_waiter(chan_core* d) noexcept : done(d) {}
};
static_assert(offsetof(done_waiter, flag) + sizeof(std::atomic<std::uint32_t>) <= 64);

done_waiter* done_waiter_make(chan_core* done) { return new done_waiter(done); }

void done_waiter_free(done_waiter* w) noexcept {
  if (w->queued) {
    chan_lock(w->done);
    w->done->recvq.remove(&w->standing);  // unless a close has dropped it
    chan_unlock(w->done);
  }
  delete w;
}

namespace {

// Queues the standing waiter; false when done is already closed.
bool stand(done_waiter* w) {
  chan_core* d = w->done;
  chan_lock(d);
  if (d->closed.load(std::memory_order_seq_cst)) {
    chan_unlock(d);
    return false;
  }
  w->standing.who = current_parker();
  w->standing.select_done = &w->flag;
  w->standing.case_index = standing_case;
  d->recvq.push_back(&w->standing);
  w->queued = true;
  chan_unlock(d);
  return true;
}

// Makes w->op the waiter of an operation on c that w's flag decides.
waiter& watched_by(done_waiter* w) noexcept {
  waiter& self = w->op;
  self.who = w->standing.who;
  self.select_done = &w->flag;
  self.case_index = op_case;
  self.success = false;
  return self;
}

void unlock_c(void* c) noexcept { chan_unlock(static_cast<chan_core*>(c)); }

// Parks with self queued on c (c locked), unless done is closed. True: self's operation
// completed (self.success says how); false: done was closed first, and self is withdrawn.
// c is unlocked on return.
bool wait(chan_core* c, wait_queue& q, waiter& self, done_waiter* w, const detail::source_location& site) {
  q.push_back(&self);
  w->flag.exchange(0, std::memory_order_seq_cst);  // open: c's wakers and done's close race for it
  if (w->done->closed.load(std::memory_order_seq_cst)) {
    std::uint32_t open = 0;
    if (w->flag.compare_exchange_strong(open, 1, std::memory_order_seq_cst)) {
      q.remove(&self);
      chan_unlock(c);
      return false;
    }
    // done's close flipped it first: it wakes us, and the park below returns at once.
  }
  park(wait_reason::select, site, &unlock_c, c);
  if (w->flag.load(std::memory_order_relaxed) == op_won) return true;
  chan_lock(c);
  q.remove(&self);  // done's close won; c's wakers dropped self only if they saw it closed
  chan_unlock(c);
  return false;
}

}  // namespace

bool chan_send_or_done(chan_core* c, void* elem, done_waiter* w, const detail::source_location& site) {
  if (!w->queued && !stand(w)) return false;
  chan_lock(c);
  if (send_now(c, elem)) return true;
  waiter& self = watched_by(w);
  self.elem = elem;
  if (!wait(c, c->sendq, self, w, site)) return false;
  if (!self.success) throw_send_on_closed();  // woken by c's close
  return true;
}

try_status chan_recv_or_done(chan_core* c, void* out, done_waiter* w, const detail::source_location& site) {
  if (!w->queued && !stand(w)) return try_status::would_block;
  chan_lock(c);
  if (try_status s = recv_now(c, out); s != try_status::would_block) return s;
  waiter& self = watched_by(w);
  self.elem = out;
  if (!wait(c, c->recvq, self, w, site)) return try_status::would_block;
  return self.success ? try_status::ok : try_status::closed;
}

}  // namespace go::detail
