// message_pool: the invariants and the reason are at the top of message_pool.hpp.
#include "nats/message_pool.hpp"

#include <new>

#include "go/nats.hpp"
#include "nats/state.hpp"

namespace go::nats::detail {

namespace {
std::atomic<std::uint64_t> freed_by_reader{0};
}  // namespace

std::uint64_t returned_messages_freed() noexcept { return freed_by_reader.load(std::memory_order_relaxed); }

message_pool::~message_pool() {
  take_returned();
  while (spare_) {
    message_block* b = spare_;
    spare_ = b->next;
    free_block(b);
  }
}

void* message_pool::allocate() {
  if (!spare_ || ++allocations_ % take_every == 0) take_returned();
  message_block* b = spare_;
  if (b) {
    spare_ = b->next;
    --spares_;
  } else {
    b = new (::operator new(block_size)) message_block;
  }
  b->next = nullptr;
  last_ = b;
  return reinterpret_cast<char*>(b) + header_size;
}

void message_pool::give_back(message_block* b) noexcept {
  if (returned_count_.fetch_add(1, std::memory_order_relaxed) >= max_returned) {
    returned_count_.fetch_sub(1, std::memory_order_relaxed);
    if (b->m) destroy_message(b->m);
    free_block(b);
    return;
  }
  // Release: whoever takes the list sees b->m.
  message_block* head = returned_.load(std::memory_order_relaxed);
  do {
    b->next = head;
  } while (!returned_.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
}

void message_pool::take_returned() noexcept {
  message_block* list = returned_.exchange(nullptr, std::memory_order_acquire);
  std::size_t n = 0;
  while (list) {
    message_block* b = list;
    list = b->next;
    if (b->m) destroy_message(b->m);
    b->m = nullptr;
    ++n;
    if (spares_ < max_spare) {
      b->next = spare_;
      spare_ = b;
      ++spares_;
    } else {
      free_block(b);
    }
  }
  if (n == 0) return;
  returned_count_.fetch_sub(n, std::memory_order_relaxed);
  freed_by_reader.fetch_add(n, std::memory_order_relaxed);
}

void message_pool::free_block(message_block* b) noexcept {
  b->~message_block();
  ::operator delete(b);
}

}  // namespace go::nats::detail
