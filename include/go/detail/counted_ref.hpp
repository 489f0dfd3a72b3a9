// counted_ref: the handle behind go::chan, go::context and its cancel functions, and
// go::net's and go::os's files. It holds a pointer to a runtime object and owns one of that
// object's references: a copy takes another (Retain), destruction gives its own back
// (Release), a move takes it over. Null is a valid value: Go's nil channel, Background.
#pragma once

#include <utility>

namespace go::detail {

template <class T, void (*Retain)(T*) noexcept, void (*Release)(T*) noexcept>
class counted_ref {
 public:
  counted_ref() noexcept = default;
  explicit counted_ref(T* adopt) noexcept : p_(adopt) {}  // takes over one reference
  // share returns a handle with a reference of its own to p (null: a null handle).
  static counted_ref share(T* p) noexcept {
    if (p) Retain(p);
    return counted_ref(p);
  }
  counted_ref(const counted_ref& o) noexcept : p_(o.p_) {
    if (p_) Retain(p_);
  }
  counted_ref(counted_ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  counted_ref& operator=(counted_ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~counted_ref() {
    if (p_) Release(p_);
  }

  T* get() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  friend bool operator==(const counted_ref& a, const counted_ref& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

}  // namespace go::detail
