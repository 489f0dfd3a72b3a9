// A stackless goroutine's I/O on a poll_fd (go/async_io.hpp): the fd layer's operations
// (fd.cpp) with the waits as suspensions.
//
// An io_op runs the same steps as the blocking operation (fd.hpp: lock, prepare, step, wait,
// step...), split at the waits:
// - io_start (the awaiter's await_ready) takes the direction's lock, or finds it held and
//   queues for it (rw_lock_step), checks close and deadlines and makes the first attempt.
//   Done: the coroutine goes on with no suspension and nothing allocated.
// - Otherwise the awaiter transfers to io_wait, a coroutine of its own (a pooled frame),
//   which loops: wait for readiness (poll_arm, then park_coroutine with wait reason "IO
//   wait" at the user's co_await line; poll_woken once resumed), step again, until done; then
//   it transfers back to the awaiter's coroutine, which reads the result in await_resume.
//   The loop lives in a coroutine because a wake may be spurious (a stale edge): the step
//   then waits again, which an await_resume could not do.
//
// States of op->state:
//   st_done  the result is in op; the lock (if taken) is released
//   st_queued  another reader (writer) holds the lock and this op counts as its waiter:
//              io_wait sleeps on the direction's semaphore (semacquire_async, wait reason
//              "semacquire", FIFO with the stackful lockers of rw_lock) and calls io_start
//              again once woken, as rw_lock takes another round
//   st_wait  the lock is held, the next attempt must wait for readiness
//
// Invariants
// - The lock is held exactly in st_wait, and from io_start's lock to the end of the attempt
//   that moves to st_done (finish releases it). connect takes no lock: the socket is not
//   shared until the dial returns it.
// - At most one io_op per direction waits for readiness on a descriptor (the lock's holder),
//   so the poller's one-waiter-per-direction rule holds as for the blocking path; the others
//   wait in line on the direction's semaphore with the stackful lockers, so a stackful and a
//   stackless goroutine may use one socket in turn.
// - The lock's holder parks only through poll_arm's protocol (netpoll.cpp): close and deadlines
//   wake it through the direction's word exactly as they wake a stackful one, and
//   netpoll_waiters counts it while it waits.
#include <coroutine>
#include <new>

#include "go/async_io.hpp"
#include "poll/fd.hpp"
#include "runtime/poll_desc.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

enum : std::uint8_t { st_done, st_queued, st_wait };

int mode_of(io_kind k) noexcept {
  return k == io_kind::read || k == io_kind::read_from || k == io_kind::accept ? 'r' : 'w';
}

bool finish(io_op* op, int err) noexcept {
  op->err = err;
  op->state = st_done;
  if (op->kind != io_kind::connect) fd_rw_unlock(op->f, mode_of(op->kind) == 'r');
  return true;
}

// attempt makes one attempt with the lock held: true if done.
bool attempt(io_op* op) noexcept {
  poll_fd* f = op->f;
  fd_result r{op->n, 0};
  fd_step s = fd_step::done;
  switch (op->kind) {
    case io_kind::read: s = fd_read_step(f, {op->p, op->len}, &r); break;
    case io_kind::write: s = fd_write_step(f, {op->p, op->len}, &r); break;
    case io_kind::read_from:
      s = fd_recvfrom_step(f, {op->p, op->len}, static_cast<sockaddr_storage*>(op->addr), &op->addr_len, &r);
      break;
    case io_kind::write_to:
      s = fd_sendto_step(f, {op->p, op->len}, static_cast<const sockaddr*>(op->addr), op->addr_len, &r);
      break;
    case io_kind::accept:
      s = fd_accept_step(f, static_cast<sockaddr_storage*>(op->addr), &op->addr_len, &op->fd, &r.err);
      break;
    case io_kind::connect: s = fd_connect_step(f, &r.err); break;
  }
  op->n = r.n;
  if (s == fd_step::wait) {
    op->state = st_wait;
    return false;
  }
  return finish(op, r.err);
}

// readiness: co_await waits until op's descriptor is ready in op's direction; 0: attempt
// again, wait_again: woken without readiness (arm again, which reports why), else the error.
constexpr int wait_again = 1;
struct readiness {
  io_op* op;
  source_location site;
  bool armed = false;
  int err = 0;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    poll_result r = poll_arm(op->f->pd, mode_of(op->kind), current_parker(), &armed);
    if (r != poll_result::ok) err = fd_poll_error(op->f, r);
    if (!armed) return false;
    return park_coroutine(h.address(), wait_reason::io_wait, site, nullptr, nullptr, false);
  }
  int await_resume() const noexcept {
    if (!armed) return err;
    return poll_woken(op->f->pd, mode_of(op->kind)) ? 0 : wait_again;
  }
};

}  // namespace

bool io_start(io_op* op) noexcept {
  poll_fd* f = op->f;
  if (!f) {  // no socket: the result functions report os::err_invalid
    op->state = st_done;
    return true;
  }
  if (op->kind == io_kind::connect) {  // the caller has started the connect
    op->state = st_wait;
    return false;
  }
  bool read = mode_of(op->kind) == 'r';
  switch (f->mu.rw_lock_step(read)) {
    case fd_mutex::lock_taken: break;
    case fd_mutex::lock_closed:
      op->err = fd_closing;
      op->state = st_done;
      return true;
    case fd_mutex::lock_queued: op->state = st_queued; return false;
  }
  if (op->kind == io_kind::read) {
    if (op->len == 0) return finish(op, 0);  // Go: a zero-byte read returns at once
    bool wait_first;
    if (int e = fd_read_begin(f, &wait_first)) return finish(op, e);
    if (wait_first) {
      op->state = st_wait;
      return false;
    }
  } else if (int e = fd_prepare(f, read ? 'r' : 'w')) {
    return finish(op, e);
  }
  return attempt(op);
}

go::task<void> io_wait(io_op* op, source_location site) {
  while (op->state == st_queued) {
    sema& s = mode_of(op->kind) == 'r' ? op->f->rsema : op->f->wsema;
    try {
      co_await semacquire_async(s, false, wait_reason::semacquire, site);
    } catch (const std::bad_alloc&) {  // no frame for the wait: give up the place in line
      io_abandon(op);
      co_return;
    }
    if (io_start(op)) co_return;
  }
  for (;;) {
    int w = co_await readiness{op, site};
    if (w == wait_again) continue;
    if (w != 0) {
      finish(op, w);
      co_return;
    }
    if (attempt(op)) co_return;
  }
}

void io_abandon(io_op* op) noexcept {
  if (op->state == st_wait && op->kind != io_kind::connect) fd_rw_unlock(op->f, mode_of(op->kind) == 'r');
  op->err = ENOMEM;
  op->state = st_done;
}

}  // namespace go::detail
