// The small-object pool (small_alloc.hpp).
//
// Each thread caches free blocks per class (no lock); a cache that grows past cache_max gives
// half to a shared pool, a stack of batches per class under a mutex, from which an empty
// cache takes a batch before it carves new blocks (carve of them in one allocation). A block
// freed on another thread goes to that thread's cache. Blocks are never handed back to the
// allocator. Under AddressSanitizer every block comes from operator new and goes back to it,
// so that a block used after it is freed, or freed twice, is reported.
#include "runtime/small_alloc.hpp"

#include <mutex>
#include <new>

#include "go/task.hpp"
#include "platform/sanitizer.hpp"

namespace go::detail {

namespace {

constexpr std::size_t class_bytes = small_align;
constexpr std::size_t classes = small_max / small_align;
constexpr int cache_max = 256;
constexpr int carve = 64;

struct free_block {
  free_block* next;
  free_block* batch_next;  // the first block of a batch in the shared pool: the next batch
};

struct shared_blocks {
  std::mutex mu;
  free_block* batches[classes] = {};  // each a list of cache_max / 2 blocks
};

shared_blocks& shared_pool() noexcept {
  // NOLINTNEXTLINE(bugprone-unhandled-exception-at-new): out of memory ends the process, as in Go
  static shared_blocks* s = new shared_blocks;  // never destroyed: blocks outlive statics
  return *s;
}

struct block_cache {
  free_block* free[classes] = {};
  int count[classes] = {};

  ~block_cache() {  // a thread that ends gives its blocks to the others
    for (std::size_t k = 0; k < classes; ++k) {
      while (count[k] >= cache_max / 2) give_batch(k);
    }
  }

  void give_batch(std::size_t k) noexcept {
    free_block* first = free[k];
    free_block* last = first;
    for (int i = 1; i < cache_max / 2; ++i) last = last->next;
    free[k] = last->next;
    last->next = nullptr;
    count[k] -= cache_max / 2;
    shared_blocks& s = shared_pool();
    std::lock_guard lk(s.mu);
    first->batch_next = s.batches[k];
    s.batches[k] = first;
  }

  void refill(std::size_t k) {
    {
      shared_blocks& s = shared_pool();
      std::lock_guard lk(s.mu);
      if (free_block* b = s.batches[k]) {
        s.batches[k] = b->batch_next;
        free[k] = b;
        count[k] = cache_max / 2;
        return;
      }
    }
    std::size_t size = (k + 1) * class_bytes;
    auto* block = static_cast<unsigned char*>(::operator new(size* carve, std::align_val_t(class_bytes)));
    for (int i = carve - 1; i >= 0; --i) {
      auto* f = reinterpret_cast<free_block*>(block + static_cast<std::size_t>(i) * size);
      f->next = free[k];
      free[k] = f;
    }
    count[k] = carve;
  }
};

__attribute__((tls_model("initial-exec"))) thread_local block_cache blocks;

}  // namespace

void* small_alloc(std::size_t bytes) {
  std::size_t k = (bytes + class_bytes - 1) / class_bytes - 1;
  if (platform::asan || k >= classes) return ::operator new(bytes, std::align_val_t(small_align));
  block_cache& c = blocks;
  if (!c.free[k]) c.refill(k);
  free_block* f = c.free[k];
  c.free[k] = f->next;
  --c.count[k];
  return f;
}

void small_free(void* p, std::size_t bytes) noexcept {
  std::size_t k = (bytes + class_bytes - 1) / class_bytes - 1;
  if (platform::asan || k >= classes) {
    ::operator delete(p, std::align_val_t(small_align));
    return;
  }
  block_cache& c = blocks;
  auto* f = static_cast<free_block*>(p);
  f->next = c.free[k];
  c.free[k] = f;
  if (++c.count[k] > cache_max) c.give_batch(k);
}

// go/task.hpp's names for it: a coroutine's frame.
void* frame_alloc(std::size_t bytes) { return small_alloc(bytes); }
void frame_free(void* p, std::size_t bytes) noexcept { small_free(p, bytes); }

}  // namespace go::detail
