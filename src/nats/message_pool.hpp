// A connection's message blocks, given back by the receivers that drop them to the side that
// reads the connection.
//
// Why: the reading side (libnats's reader thread, or the goroutine that reads the socket on
// the event loop) allocates every message it parses: libnats's natsMsg, and the block that
// holds our message_state (its shared_ptr control block included). The receivers drop them
// on other threads. glibc keeps a freed chunk in the freeing thread's cache and, once that
// is full, returns it to the arena it came from under the arena's lock: the reading
// thread's cache never gets its chunks back, so each of its allocations takes its arena's
// lock, against the receivers' frees. Here a dropped message's block goes back to its
// connection's `returned` list with the natsMsg in it; the thread that allocates for the
// connection, when it has no spare block and every take_every allocations, takes the whole
// list at once, frees the natsMsgs (so libnats's next allocations find them in its own
// cache and arena, uncontended) and keeps the blocks as spares. Guarded by the qpub scenario
// of bench/nats_compare.sh (figures in docs/nats.md).
//
// Invariants:
// - A block is in exactly one place: holding a live message_state, on `returned` (its natsMsg
//   not freed yet), on `spare` (empty), or freed. Every block is allocated with operator
//   new(block_size), whichever thread makes it, and freed with operator delete.
// - `returned` is pushed by any thread with a compare-and-swap and emptied only whole, by an
//   exchange: no node is popped alone, so there is no ABA. `spare` and the taking of
//   `returned` belong to whoever holds `busy`. Two threads can make messages for one
//   connection at once (its reading side, through the filter, and libnats's delivery thread
//   for the subscriptions it routes): one that finds `busy` held allocates with
//   std::allocator instead (message_state::make).
// - A block's message_state holds a reference to its subscription, and through it to the
//   connection that owns the pool, until the block is on `returned` (give_back): the pool
//   outlives every block handed to it, and its destructor, which runs after the connection's
//   reading side has stopped, frees whatever is left.
// - At most max_returned blocks wait on `returned`, each with at most max_returned_bytes of
//   data (a larger message is not pooled): a dropped message's memory waits for the next
//   allocation on its connection or for its close. Past max_returned the dropping thread
//   frees the message itself.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace go::nats::detail {

struct subscription_core;

// The header in front of every pooled message_state's control block.
struct message_block {
  message_block* next = nullptr;            // on `returned` or `spare`
  natsMsg* m = nullptr;                     // the dropped message, still to free
  std::shared_ptr<subscription_core> keep;  // between the message_state's end and give_back
};

class message_pool {
 public:
  static constexpr std::size_t header_size =
      (sizeof(message_block) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) * alignof(std::max_align_t);
  static constexpr std::size_t block_size = 128;
  static constexpr std::size_t payload_size = block_size - header_size;
  static constexpr std::size_t max_returned = 1024;
  static constexpr int max_returned_bytes = 4096;
  static constexpr std::size_t max_spare = 1024;
  static constexpr std::size_t take_every = 256;  // allocations between takes of `returned`

  message_pool() = default;
  message_pool(const message_pool&) = delete;
  message_pool& operator=(const message_pool&) = delete;
  ~message_pool();

  // try_lock takes `busy`, for one make; false where another thread holds it.
  bool try_lock() noexcept { return !busy_.test_and_set(std::memory_order_acquire); }
  void unlock() noexcept { busy_.clear(std::memory_order_release); }

  // allocate (busy held) returns a block's payload: a spare one, else a new one; it takes
  // `returned` first (freeing their messages) when it has no spare, and every take_every
  // allocations, so that receivers rarely find it full. last_allocated is its header.
  void* allocate();
  message_block* last_allocated() const noexcept { return last_; }

  // give_back (any thread) hands over the block of a message_state that has ended, with the
  // message it held in b->m; b->keep must be empty by now.
  void give_back(message_block* b) noexcept;

  static message_block* header_of(void* payload) noexcept {
    return reinterpret_cast<message_block*>(static_cast<char*>(payload) - header_size);
  }

 private:
  // take_returned (busy held, or no other user left) frees the messages on `returned` and
  // keeps their blocks as spares, or frees them past max_spare.
  void take_returned() noexcept;
  static void free_block(message_block* b) noexcept;

  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  message_block* spare_ = nullptr;  // owned by busy's holder
  std::size_t spares_ = 0;          // owned by busy's holder
  message_block* last_ = nullptr;   // owned by busy's holder
  std::size_t allocations_ = 0;     // owned by busy's holder
  std::atomic<message_block*> returned_{nullptr};
  std::atomic<std::size_t> returned_count_{0};  // blocks on returned, or about to be
};

// The allocator of pooled message_states (message_state::make): allocate_shared gets the
// block for the control block from the pool; deallocate hands it back.
template <class T>
struct message_allocator {
  using value_type = T;
  message_pool* pool;
  explicit message_allocator(message_pool* p) noexcept : pool(p) {}
  template <class U>
  message_allocator(const message_allocator<U>& o) noexcept : pool(o.pool) {}
  T* allocate(std::size_t n) {
    static_assert(sizeof(T) <= message_pool::payload_size, "message_pool::block_size is too small");
    static_assert(alignof(T) <= alignof(std::max_align_t));
    if (n != 1) throw std::bad_alloc();
    return static_cast<T*>(pool->allocate());
  }
  void deallocate(T* p, std::size_t) noexcept {
    message_block* b = message_pool::header_of(p);
    // keep holds the connection, and so the pool, until the block is handed over.
    std::shared_ptr<subscription_core> keep = std::move(b->keep);
    pool->give_back(b);
  }
  template <class U>
  bool operator==(const message_allocator<U>& o) const noexcept {
    return pool == o.pool;
  }
};

}  // namespace go::nats::detail
