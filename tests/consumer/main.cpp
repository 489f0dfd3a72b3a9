#include <go/go.hpp>

int main() {
  return go::run([] {
    auto ch = go::make_chan<int>();
    go::spawn([ch] { ch << 42; });
    return *ch.recv() == 42 ? 0 : 1;
  });
}
