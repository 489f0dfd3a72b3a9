// wait_list<T>: the FIFO of parked waiters that sync's primitives keep: the parking semaphore
// (sema.cpp), go::cond's notify list (src/sync/cond.cpp) and go::semaphore's queue
// (src/x/sync/semaphore.cpp). Intrusive and doubly linked through T::prev and T::next, so
// that a waiter on its parked stack is the node and leaves in O(1); over a head and a tail
// that the owner keeps as void* (the public headers hold them without naming T).
//
// The owner's lock guards the list and the links of every waiter in it. A waiter that
// leaves has null links. The channels' queue is not one of these (waiter.hpp's wait_queue):
// it peeks at emptiness without the lock and skips the waiters of selects already won.
#pragma once

// A waiter is a local of the goroutine that parks (its stack is parked with it), and it
// leaves the list before that function returns: g++ 12's -Wdangling-pointer, which sees the
// address of a local stored in the list once the push is inlined, is off in this header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

namespace go::detail {

template <class T>
class wait_list {
 public:
  wait_list(void*& head, void*& tail) noexcept : head_(head), tail_(tail) {}

  bool empty() const noexcept { return head_ == nullptr; }
  T* front() const noexcept { return static_cast<T*>(head_); }

  void push_back(T* w) noexcept {
    w->prev = static_cast<T*>(tail_);
    w->next = nullptr;
    if (tail_) static_cast<T*>(tail_)->next = w;
    else head_ = w;
    tail_ = w;
  }

  void push_front(T* w) noexcept {
    w->prev = nullptr;
    w->next = static_cast<T*>(head_);
    if (head_) static_cast<T*>(head_)->prev = w;
    else tail_ = w;
    head_ = w;
  }

  // remove unlinks w, which must be in this list.
  void remove(T* w) noexcept {
    if (w->prev) w->prev->next = w->next;
    else head_ = w->next;
    if (w->next) w->next->prev = w->prev;
    else tail_ = w->prev;
    w->prev = w->next = nullptr;
  }

  T* pop_front() noexcept {
    T* w = front();
    if (w) remove(w);
    return w;
  }

  // take_first unlinks and returns the first waiter for which pred is true, or null.
  template <class Pred>
  T* take_first(Pred pred) noexcept {
    for (T* w = front(); w; w = w->next) {
      if (!pred(w)) continue;
      remove(w);
      return w;
    }
    return nullptr;
  }

  // take_all empties the list and returns its first waiter; the rest still follow through
  // next, which only the caller touches from then on.
  T* take_all() noexcept {
    T* w = front();
    head_ = tail_ = nullptr;
    return w;
  }

 private:
  void*& head_;
  void*& tail_;
};

}  // namespace go::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
