// Interfaces: Go's implicit interfaces as C++ concepts, and interface{} values (std::any) sent
// over a channel and taken apart with a type switch and a type assertion.
#include <any>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "go/any.hpp"
#include "go/go.hpp"

namespace {

// type Shape interface { Area() float64; Name() string }: satisfied implicitly, as in Go.
template <class T>
concept shape = requires(const T& s) {
  { s.area() } -> std::convertible_to<double>;
  { s.name() } -> std::convertible_to<std::string>;
};

struct rect {
  double w, h;
  double area() const { return w * h; }
  std::string name() const { return "rect"; }
};

struct circle {
  double r;
  double area() const { return M_PI * r * r; }
  std::string name() const { return "circle"; }
};

void describe(const shape auto& s) { std::printf("%s with area %.2f\n", s.name().c_str(), s.area()); }

// Tasks of mixed types on one channel, like `chan interface{}`.
struct resize {
  int width;
};

}  // namespace

void example_interfaces() {
  describe(rect{3, 4});
  describe(circle{1});

  auto tasks = go::make_chan<std::any>(8);
  go::spawn([tasks] {
    tasks << std::any(42) << std::any(std::string("hello")) << std::any(resize{800}) << std::any(2.5) << std::any();
    tasks.close();
  });
  for (std::any task : tasks) {
    go::type_switch(
        task, [](int n) { std::printf("int task: %d\n", n); },
        [](const std::string& s) { std::printf("string task: %s\n", s.c_str()); },
        [](const resize& r) { std::printf("resize task: width %d\n", r.width); },
        [](std::nullptr_t) { std::printf("nil task\n"); }, [] { std::printf("unknown task type\n"); });
  }

  // v, ok := x.(T)
  std::any x = std::string("gopher");
  if (const std::string* s = go::as<std::string>(x)) std::printf("x is a string: %s\n", s->c_str());
  if (go::as<int>(x) == nullptr) std::printf("x is not an int\n");
}

#ifndef GOCXX_TOUR
int main() { go::run(example_interfaces); }
#endif
