// Goroutine records and spawning (Go's allgs, gfget/gfput, newproc).
//
// Goroutine records are pooled per worker and in a shared pool, and never freed (allg_slabs);
// their stacks are pooled separately by stack.cpp and taken only when a goroutine first runs.
#include "runtime/scheduler/sched.hpp"
#include "runtime/bubble.hpp"
#include "runtime/labels.hpp"
#include "runtime/stack.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

#include "platform/sanitizer.hpp"
#include "runtime/trace.hpp"

namespace go::detail {

// All goroutine records (Go's allgs), in slabs of record_slab: made 256 at a time and never
// freed, only pooled (as Go's g's). A record per malloc cost a lock here at every creation
// and deletion. Slabs are carved from mapped chunks of record_chunk_size: from malloc, a
// slab grew glibc's per-thread arena by an mprotect or two, each holding the process's mmap
// lock for writing, which stalls every other worker's page faults (bench spawn_join at
// GOMAXPROCS=2: 2,500 mprotects per million spawns, now 130 mmaps). Not in huge pages:
// faulting those in (with the kernel's compaction) made spawn_join's time at GOMAXPROCS=1
// vary threefold. A million goroutines alive at once leave 264 MB of records pooled
// afterwards, as in Go. Never destroyed.
constexpr int record_slab = 256;
constexpr std::size_t record_chunk_size = std::size_t{2} << 20;
std::mutex allgs_mutex;  // guards allg_slabs and the chunk being carved
std::vector<goroutine*>& allg_slabs = *new std::vector<goroutine*>;
unsigned char* record_chunk = nullptr;  // the rest of the current chunk
std::size_t record_chunk_left = 0;

// new_record_slab makes record_slab records; returns a list of them linked by sched_next.
goroutine* new_record_slab() {
  constexpr std::size_t bytes = sizeof(goroutine) * record_slab;
  static_assert(bytes <= record_chunk_size);
  goroutine* slab;
  {
    std::lock_guard lk(allgs_mutex);
    if (record_chunk_left < bytes) {
      void* chunk = mmap(nullptr, record_chunk_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (chunk == MAP_FAILED) throw std::bad_alloc();
      record_chunk = static_cast<unsigned char*>(chunk);
      record_chunk_left = record_chunk_size;
    }
    slab = reinterpret_cast<goroutine*>(record_chunk);
    record_chunk += bytes;
    record_chunk_left -= bytes;
  }
  goroutine* list = nullptr;
  for (int i = record_slab - 1; i >= 0; --i) {
    goroutine* g = ::new (static_cast<void*>(slab + i)) goroutine;
    g->state.store(park_dead, std::memory_order_relaxed);
    g->sched_next = list;
    list = g;
  }
  std::lock_guard lk(allgs_mutex);
  allg_slabs.push_back(slab);
  return list;
}

// Takes a batch of records from the shared pool: its first record (the rest follow through
// sched_next, batch_len in all), or null.
goroutine* take_shared_records() noexcept {
  std::lock_guard lk(sched().free_gs_lock);
  goroutine* b = sched().free_gs;
  if (!b) return nullptr;
  sched().free_gs = static_cast<goroutine*>(b->batch_next);
  sched().n_free_gs.fetch_sub(static_cast<int>(b->batch_len), std::memory_order_relaxed);
  return b;
}

// Puts a chain of n records linked by sched_next into the shared pool, as one batch.
void put_shared_records(goroutine* list, int n) noexcept {
  list->batch_len = static_cast<std::uint32_t>(n);
  std::lock_guard lk(sched().free_gs_lock);
  list->batch_next = sched().free_gs;
  sched().free_gs = list;
  sched().n_free_gs.fetch_add(n, std::memory_order_relaxed);
}

goroutine* alloc_goroutine(worker* w) {
  if (w) {
    if (!w->free_gs && sched().n_free_gs.load(std::memory_order_relaxed) > 0) {
      if (goroutine* b = take_shared_records()) {
        w->free_gs = b;
        w->n_free_gs = static_cast<int>(b->batch_len);
      }
    }
    if (!w->free_gs) {
      // A new slab, all for this worker's cache (free_goroutine spills the surplus), in
      // address order: a burst of spawns uses its records one after the other, as it did
      // malloc's, and the goroutines then run in that order.
      w->free_gs = new_record_slab();
      w->n_free_gs = record_slab;
    }
    goroutine* g = w->free_gs;
    w->free_gs = static_cast<goroutine*>(g->sched_next);
    --w->n_free_gs;
    g->sched_next = nullptr;
    return g;
  }
  // No worker: take a batch (or make a slab) and give back all but one.
  goroutine* list = take_shared_records();
  int n = list ? static_cast<int>(list->batch_len) : record_slab;
  if (!list) list = new_record_slab();
  if (n > 1) put_shared_records(static_cast<goroutine*>(list->sched_next), n - 1);
  list->sched_next = nullptr;
  return list;
}

// Gives the records cached by w, a worker whose thread ends, to the shared pool.
void return_records(worker* w) noexcept {
  if (!w->free_gs) return;
  put_shared_records(w->free_gs, w->n_free_gs);
  w->free_gs = nullptr;
  w->n_free_gs = 0;
}

void free_goroutine(worker* w, goroutine* g) noexcept {
  g->state.store(park_dead, std::memory_order_relaxed);
  g->sp = nullptr;
  // Only g and its exit write the field, so without labels there is nothing to swap (the
  // swap is a full barrier: it waits for the stores above).
  if (g->labels.load(std::memory_order_relaxed)) labels_replace(g->labels, nullptr);
  platform::tsan_destroy(g->fiber);
  stack_release(w ? w->stacks : nullptr, g->stk);
  g->stk = {};
  if (!w) {
    g->sched_next = nullptr;
    put_shared_records(g, 1);
    return;
  }
  g->sched_next = w->free_gs;
  w->free_gs = g;
  if (++w->n_free_gs <= free_g_cache) return;
  // Move half to the shared pool.
  goroutine* batch = w->free_gs;
  goroutine* last = batch;
  for (int i = 1; i < free_g_cache / 2; ++i) last = static_cast<goroutine*>(last->sched_next);
  w->free_gs = static_cast<goroutine*>(last->sched_next);
  w->n_free_gs -= free_g_cache / 2;
  last->sched_next = nullptr;
  put_shared_records(batch, free_g_cache / 2);
}

std::uint64_t new_goroutine_id(worker* w) noexcept {
  if (!w) return sched().next_id.fetch_add(1, std::memory_order_relaxed);
  if (w->next_id == w->id_limit) {
    w->next_id = sched().next_id.fetch_add(16, std::memory_order_relaxed);
    w->id_limit = w->next_id + 16;
  }
  return w->next_id++;
}

std::size_t heap_closure_align(std::size_t align) noexcept { return std::max<std::size_t>(align, 16); }

void for_each_goroutine(void (*f)(goroutine* g, void* arg), void* arg) {
  std::lock_guard lk(allgs_mutex);
  for (goroutine* slab : allg_slabs) {
    for (int i = 0; i < record_slab; ++i) f(slab + i, arg);
  }
}

bool in_goroutine() noexcept { return current_goroutine() != nullptr; }

// init_record fills a new goroutine's identity and state (a pooled record may have been
// either kind before).
void init_record(goroutine* g, parker_kind kind, worker* w, bubble* bub, void* spawn_pc) noexcept {
  // A dump or profile may be listing g (parker.hpp's listed).
  listed(g->kind).store(kind, std::memory_order_relaxed);
  listed(g->id).store(new_goroutine_id(w), std::memory_order_relaxed);
  listed(g->spawn_pc).store(spawn_pc, std::memory_order_relaxed);
  goroutine* parent = current_goroutine();
  listed(g->parent_id).store(parent ? parent->id : 0, std::memory_order_relaxed);
  // The spawner is running here, so its labels stay alive while we take a reference.
  // Release: a goroutine profile that reads the field reads the node (labels.hpp).
  g->labels.store(parent ? labels_retain(parent->labels.load(std::memory_order_relaxed)) : nullptr,
                  std::memory_order_release);
  listed(g->bub).store(bub, std::memory_order_relaxed);
  // Set here, not cleared at exit (where these lines may have left the cache): a dead
  // record's last_worker may be a synctest bubble's, freed with its bubble.
  g->reason.store(wait_reason::none, std::memory_order_relaxed);
  g->last_worker = nullptr;
  g->eh = {};
  g->saved_errno = 0;
  // Release: a profile or dump that sees the state reads the fields above.
  g->state.store(park_runnable, std::memory_order_release);
}

__attribute__((noinline)) void* new_goroutine(std::size_t stack_size, std::size_t size, std::size_t align,
                                              const closure_ops* ops, void** storage) {
  ensure_started();
  worker* w = current_worker();
  bubble* bub = w ? w->bub : nullptr;
  if (bub) w = nullptr;  // a bubble's worker keeps no pools: use the shared ones
  stack stk;
  if (stack_size > max_stack_size) throw std::invalid_argument("go::spawn: stack_size above 1 GiB");
  if (stack_size != 0 && stack_round(stack_size) != stack_round(default_stack_size())) {
    stk = stack_map(stack_size);  // a stack of its own size, mapped now
  } else {
    stack_reserve(w ? w->stacks : nullptr);  // throws if no stack could be mapped
  }
  goroutine* g;
  try {
    g = alloc_goroutine(w);
    g->closure_align = 0;
    if (size > closure_inline_size || align > 16) {
      try {
        *reinterpret_cast<void**>(g->inline_closure) =
            ::operator new(size, std::align_val_t(heap_closure_align(align)));
        g->closure_align = static_cast<std::uint32_t>(heap_closure_align(align));
      } catch (...) {
        free_goroutine(w, g);
        throw;
      }
    }
  } catch (...) {
    stack_release(nullptr, stk);
    throw;
  }
  g->stk = stk;
  g->ops = ops;
  init_record(g, parker_kind::goroutine, w, bub, __builtin_return_address(0));
  *storage = closure_of(g);
  return g;
}

// new_coroutine makes a stackless goroutine that resumes the coroutine at `handle` (task.cpp):
// a record without a stack or closure. Not inlined, for spawn_pc, as new_goroutine.
__attribute__((noinline)) void* new_coroutine(void* handle) {
  ensure_started();
  worker* w = current_worker();
  bubble* bub = w ? w->bub : nullptr;
  if (bub) w = nullptr;
  goroutine* g = alloc_goroutine(w);
  g->sp = handle;
  g->ops = nullptr;
  g->closure_align = 0;
  g->co.block_event = nullptr;
  init_record(g, parker_kind::coroutine, w, bub, __builtin_return_address(0));
  return g;
}

void abandon_goroutine(void* p) noexcept {
  auto* g = static_cast<goroutine*>(p);
  free_closure(g);
  free_goroutine(g->bub ? nullptr : current_worker(), g);
}

void start_goroutine(void* p) noexcept {
  auto* g = static_cast<goroutine*>(p);
  worker* w = current_worker();
  if (g->bub) ++g->bub->live;  // spawned on the bubble's thread
  if (w && !g->bub) w->created.store(w->created.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  else sched().external_created.fetch_add(1, std::memory_order_relaxed);
  trace_event(trace_kind::go_create, g, g->parent_id);
  ready(g, true);
}

}  // namespace go::detail

namespace go {

using namespace detail;

std::size_t default_stack_size() noexcept {
  ensure_started();
  return sched().default_stack.load(std::memory_order_relaxed);
}

void set_default_stack_size(std::size_t bytes) {
  ensure_started();
  if (bytes < 16 * 1024) throw std::invalid_argument("go::set_default_stack_size: at least 16 KiB");
  if (bytes > max_stack_size) throw std::invalid_argument("go::set_default_stack_size: at most 1 GiB");
  sched().default_stack.store(bytes);
}

std::uint64_t this_goroutine::id() noexcept {
  goroutine* g = current_goroutine();
  return g ? g->id : 0;
}

}  // namespace go
