// go::semaphore (golang.org/x/sync/semaphore's Weighted).
//
// Invariants (lock_ held):
// - 0 <= cur_ <= size_: tokens are taken only when the request fits.
// - The queue head_..tail_ holds the waiters in arrival order, each in state `waiting`.
//   A waiter leaves the queue exactly once, under lock_: granted by grant_locked (called
//   from release, or from a cancellation that removed the head), or cancelled by its
//   context. Whoever takes it out wakes it, after unlocking; that is the one wake its park
//   gets.
// - The queue is never left with a head that fits: every change that can make the head fit
//   (release, removing a cancelled head) calls grant_locked. Hence try_acquire and the fast
//   path of acquire may take tokens only when the queue is empty (FIFO, no starvation).
//
// Waiting for the context costs no goroutine and no channel: the waiter registers a
// context_hook, which the cancelling thread runs under the context's lock. Removing the
// hook takes that lock too, so after context_remove_hook returns the hook is not running.
// Lock order: context lock, then lock_; acquire never holds lock_ while touching the context.
//
// acquire is acquire_begin (up to the park), the park, acquire_end; a stackless goroutine's
// acquire (async_acquire, go/semaphore.hpp) is the same steps with its waiter in its
// coroutine frame and its park a suspension (acquire_suspend).
//
// A waiter lives on the waiting goroutine's (or thread's) stack, or in its coroutine frame:
// after it is woken, nobody touches it; wakers read what they need before waking.
#include "go/semaphore.hpp"

#include "go/detail/park.hpp"
#include "runtime/lock.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/wait_list.hpp"

namespace go {

using namespace detail;

namespace {

using sem_waiter = semaphore_waiter;

wait_list<sem_waiter> queue(void*& head, void*& tail) noexcept { return {head, tail}; }

void wake_all(sem_waiter* list) noexcept {
  while (list) {
    sem_waiter* next = list->wake_next;  // before the wake: the waiter's frame may vanish after
    wake(list->who);
    list = next;
  }
}

}  // namespace

// grant_locked hands tokens to waiters from the front for as long as they fit, and returns
// them (linked through wake_next) to be woken after unlocking. A head that does not fit
// stops the loop, even if a later waiter would fit: that is what keeps large requests from
// starving.
void* semaphore::grant_locked() noexcept {
  sem_waiter* first = nullptr;
  sem_waiter** last = &first;
  while (auto* w = static_cast<sem_waiter*>(head_)) {
    if (size_ - cur_ < w->n) break;
    cur_ += w->n;
    queue(head_, tail_).remove(w);
    w->state = sem_waiter::granted;
    *last = w;
    last = &w->wake_next;
  }
  *last = nullptr;
  return first;
}

// cancel_waiter is the waiter's context hook: its context is done.
void semaphore::cancel_waiter(context_hook* h) noexcept {
  auto* w = static_cast<sem_waiter*>(h);
  semaphore* s = w->sem;
  detail::lock(s->lock_);
  if (w->state != sem_waiter::waiting) {  // granted first: acquire gives the tokens back
    detail::unlock(s->lock_);
    return;
  }
  bool was_front = s->head_ == w;
  queue(s->head_, s->tail_).remove(w);
  w->state = sem_waiter::cancelled;
  // Removing the head may let the waiters behind it in.
  void* granted = was_front && s->size_ > s->cur_ ? s->grant_locked() : nullptr;
  parker* who = w->who;
  detail::unlock(s->lock_);
  wake(who);
  wake_all(static_cast<sem_waiter*>(granted));
}

semaphore_waiter::step semaphore::acquire_begin(const context& ctx, std::int64_t n, semaphore_waiter& w, error& err) {
  detail::lock(lock_);
  // A context that is done by now, before the call or while it waited for lock_, has become
  // done before the acquisition could happen: fail even if the tokens are free (x/sync,
  // Go issue 63615). Reading err() takes no lock.
  if ((err = ctx.err())) {
    detail::unlock(lock_);
    return sem_waiter::done;
  }
  if (size_ - cur_ >= n && !head_) {
    cur_ += n;
    detail::unlock(lock_);
    return sem_waiter::done;
  }
  if (n > size_) {
    // Can never succeed: do not make later requests wait behind it.
    detail::unlock(lock_);
    return sem_waiter::never;
  }
  w.sem = this;
  w.n = n;
  w.who = current_parker();
  w.on_cancel = &cancel_waiter;
  queue(head_, tail_).push_back(&w);
  detail::unlock(lock_);

  w.hook = context_add_hook(ctx, &w);
  if (w.hook == hook_status::done) {
    detail::lock(lock_);
    if (w.state == sem_waiter::waiting) {
      bool was_front = head_ == &w;
      queue(head_, tail_).remove(&w);
      w.state = sem_waiter::cancelled;
      void* granted = was_front && size_ > cur_ ? grant_locked() : nullptr;
      detail::unlock(lock_);
      wake_all(static_cast<sem_waiter*>(granted));
      err = ctx.err();
      return sem_waiter::done;
    }
    detail::unlock(lock_);
    // Granted meanwhile: its wake is on the way; take it, then give the tokens back below.
  }
  return sem_waiter::park;
}

error semaphore::acquire_end(const context& ctx, semaphore_waiter& w) {
  if (w.state == sem_waiter::granted) {
    if (w.hook == hook_status::added) context_remove_hook(&w);  // false: the hook ran and did nothing
    // Granted, but the context may be done by now (the grant raced the cancellation): as
    // x/sync does, put the tokens back and fail, so that a done context never acquires.
    if (error err = ctx.err()) {
      release(w.n);
      return err;
    }
    return {};
  }
  return ctx.err();  // cancelled: the hook dequeued and woke us
}

error semaphore::acquire(const context& ctx, std::int64_t n, const detail::source_location& site) {
  sem_waiter w;
  error err;
  switch (acquire_begin(ctx, n, w, err)) {
    case sem_waiter::done: return err;
    case sem_waiter::never: ctx.done().recv(); return ctx.err();
    case sem_waiter::park: break;
  }
  park(wait_reason::semacquire, site);
  return acquire_end(ctx, w);
}

bool semaphore::acquire_suspend(void* handle, const detail::source_location& site) noexcept {
  return park_coroutine(handle, wait_reason::semacquire, site, nullptr, nullptr, false);
}

bool semaphore::try_acquire(std::int64_t n) noexcept {
  detail::lock(lock_);
  bool ok = size_ - cur_ >= n && !head_;
  if (ok) cur_ += n;
  detail::unlock(lock_);
  return ok;
}

void semaphore::release(std::int64_t n) {
  detail::lock(lock_);
  if (cur_ - n < 0) {
    detail::unlock(lock_);
    throw sync_error("semaphore: released more than held");
  }
  cur_ -= n;
  void* granted = grant_locked();
  detail::unlock(lock_);
  wake_all(static_cast<sem_waiter*>(granted));
}

}  // namespace go
