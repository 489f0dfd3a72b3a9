// go::pool (Go's sync.Pool, sync/pool.go), without the garbage collector.
//
// Layout. Each worker that used the pool has a shard: a private slot and a pool_ring
// (sync/pool_dequeue.hpp), found by the worker's id in a directory made on the pool's first use.
// Get on a worker tries its private slot, then the head of its ring; put fills the private
// slot, else pushes on its ring's head. That is the per-P fast path: no lock, and no write
// another worker contends for while its slot and ring have an object (get) or room (put).
// Only a get that finds both empty goes on: it pops the tails of the other workers' rings,
// then the overflow list under lock_. A put that finds its ring full, and every get and put
// of a thread that is not a worker (a plain thread, or a synctest bubble's worker, whose id
// is -1), use the overflow list.
//
// Why it is race-free without a lock. A shard's slot and ring head are touched only by
// goroutines running on its worker, one at a time: get and put never park or yield, and the
// scheduler is cooperative, so the goroutine that read current_worker() is still on that
// worker when it touches the shard. (The slot is a relaxed atomic only so that
// ThreadSanitizer, which sees goroutines as fibers, has nothing to report.) Other workers
// only ever pop ring tails, which pool_ring allows from anywhere. The destructor touches
// everything, but a pool is not in use while it is destroyed.
//
// Bounds. Nothing empties a pool while it lives (Go's GC drops pooled objects; we have no
// GC), so it keeps at most a slot and a ring per worker and the overflow list's
// overflow_capacity objects; a put beyond that destroys the object at once, outside lock_.
// The directory has room for max_shards workers (the scheduler's limit on workers); a worker
// beyond it would use the overflow list.
//
// Lock order: lock_ is a leaf; destroy_ (the objects' destructors) runs with no lock held.
#include <new>

#include "go/sync.hpp"
#include "runtime/lock.hpp"
#include "sync/pool_dequeue.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

constexpr int max_shards = 1024;
constexpr int overflow_capacity = 128;

}  // namespace

struct alignas(64) pool_core::shard {
  std::atomic<void*> private_object{nullptr};  // the owner's only
  pool_ring ring;
};

pool_core::~pool_core() {
  if (std::atomic<shard*>* dir = shards_.load(std::memory_order_acquire)) {
    for (int i = 0; i < shards_end_.load(std::memory_order_acquire); ++i) {
      shard* s = dir[i].load(std::memory_order_acquire);
      if (!s) continue;
      if (void* x = s->private_object.load(std::memory_order_relaxed)) destroy_(x);
      while (void* x = s->ring.pop_tail()) destroy_(x);
      delete s;
    }
    delete[] dir;
  }
  for (int i = 0; i < noverflow_.load(std::memory_order_relaxed); ++i) destroy_(overflow_[i]);
  delete[] overflow_;
}

// local returns the calling worker's shard; null on a thread that is not a worker, or if
// the shard does not exist and `make` is false or it cannot be allocated.
pool_core::shard* pool_core::local(bool make) noexcept {
  worker* w = current_worker();
  if (!w || w->id < 0 || w->id >= max_shards) return nullptr;
  std::atomic<shard*>* dir = shards_.load(std::memory_order_acquire);
  if (!dir) {
    if (!make) return nullptr;
    auto* fresh = new (std::nothrow) std::atomic<shard*>[max_shards]();
    if (!fresh) return nullptr;
    if (shards_.compare_exchange_strong(dir, fresh, std::memory_order_acq_rel)) {
      dir = fresh;
    } else {
      delete[] fresh;  // another worker's came first; dir is now that one
    }
  }
  shard* s = dir[w->id].load(std::memory_order_relaxed);  // only this worker stores it
  if (s || !make) return s;
  s = new (std::nothrow) shard;
  if (!s) return nullptr;
  dir[w->id].store(s, std::memory_order_release);
  // Publish the id to the thieves' scan (get_slow) after the shard.
  int end = shards_end_.load(std::memory_order_relaxed);
  while (end <= w->id && !shards_end_.compare_exchange_weak(end, w->id + 1, std::memory_order_release)) {
  }
  return s;
}

void* pool_core::get() noexcept {
  shard* s = local(false);
  if (s) {
    if (void* x = s->private_object.load(std::memory_order_relaxed)) {
      s->private_object.store(nullptr, std::memory_order_relaxed);
      return x;
    }
    if (void* x = s->ring.pop_head()) return x;
  }
  return get_slow(s);
}

void* pool_core::get_slow(const shard* own) noexcept {
  if (std::atomic<shard*>* dir = shards_.load(std::memory_order_acquire)) {
    int end = shards_end_.load(std::memory_order_acquire);
    for (int i = 0; i < end; ++i) {
      shard* s = dir[i].load(std::memory_order_acquire);
      if (!s || s == own) continue;
      if (void* x = s->ring.pop_tail()) return x;
    }
  }
  // Seen empty without the lock: behave as if the get happened at that moment.
  if (noverflow_.load(std::memory_order_relaxed) == 0) return nullptr;
  lock(lock_);
  void* x = nullptr;
  if (int n = noverflow_.load(std::memory_order_relaxed); n > 0) {
    x = overflow_[n - 1];
    noverflow_.store(n - 1, std::memory_order_relaxed);
  }
  unlock(lock_);
  return x;
}

void pool_core::put(void* x) noexcept {
  if (shard* s = local(true)) {
    if (!s->private_object.load(std::memory_order_relaxed)) {
      s->private_object.store(x, std::memory_order_relaxed);
      return;
    }
    if (s->ring.push_head(x)) return;
  }
  put_slow(x);
}

void pool_core::put_slow(void* x) noexcept {
  lock(lock_);
  if (!overflow_) overflow_ = new (std::nothrow) void*[overflow_capacity];
  int n = noverflow_.load(std::memory_order_relaxed);
  bool kept = overflow_ && n < overflow_capacity;
  if (kept) {
    overflow_[n] = x;
    noverflow_.store(n + 1, std::memory_order_relaxed);
  }
  unlock(lock_);
  if (!kept) destroy_(x);
}

}  // namespace go::detail
