// Profiler labels (go/pprof.hpp): a goroutine's labels are an immutable, reference-counted
// label_node (nullptr: none), shared by the goroutines that inherited it.
//
// Who holds a reference: the goroutine whose `labels` field points at the node (taken at its
// spawn, or by set_goroutine_labels, dropped when it exits or its labels are replaced), a
// with_labels in progress (the labels to restore), and a CPU sample not yet drained. Only
// the goroutine itself writes its field, so the SIGPROF handler, which runs on the thread of
// the goroutine it interrupted, reads a node that the goroutine keeps alive for the whole
// handler, and may take a reference of its own with one atomic increment (no allocation).
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace go::detail {

struct label_node {
  std::atomic<long> refs{1};
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key
};

inline label_node* labels_retain(label_node* n) noexcept {
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
  return n;
}

inline void labels_release(label_node* n) noexcept {
  if (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n;
}

}  // namespace go::detail
