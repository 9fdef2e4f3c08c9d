// Per-worker scratch for filters (libvips's start/stop idea): memory a tile
// function reuses from one tile to the next instead of allocating it on
// every tile. A Scratch holds at most one object, of a type chosen by its
// first use, and keeps it until it is destroyed.
//
// Ownership: the engine owns one Scratch per (worker thread, Map node) and
// hands it to every tile that thread runs for that node (MapTile::scratch);
// a filter reaches its object through MapTile::GetScratch<S>(), never
// through this class directly.
// Thread safety: none. A Scratch is used by one thread at a time; that is
// what makes the object inside it safe to use without a lock.
#ifndef EOSCALE_GRAPH_SCRATCH_H_
#define EOSCALE_GRAPH_SCRATCH_H_

#include <cstdint>
#include <memory>
#include <typeinfo>

namespace eoscale {

namespace internal {
[[noreturn]] void ThrowScratchTypeMismatch(const std::type_info& have, const std::type_info& want);
}  // namespace internal

class Scratch {
 public:
  Scratch() = default;
  Scratch(Scratch&& o) noexcept : object_(std::move(o.object_)), type_(o.type_), bytes_(o.bytes_) {
    o.type_ = nullptr;
    o.bytes_ = nullptr;
  }
  Scratch& operator=(Scratch&& o) noexcept {
    object_ = std::move(o.object_);
    type_ = o.type_;
    bytes_ = o.bytes_;
    o.type_ = nullptr;
    o.bytes_ = nullptr;
    return *this;
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // The object held, default-constructed on the first call. Throws
  // std::logic_error naming both types when this Scratch already holds an
  // object of another type: a filter that needs several buffers puts them in
  // one struct of its own (which also keeps two filters from sharing one).
  template <typename S>
  S& Get() {
    if (type_ == nullptr) {
      object_ = Object(new S(), [](void* p) { delete static_cast<S*>(p); });
      type_ = &typeid(S);
      if constexpr (requires(const S& s) { s.bytes(); }) {
        bytes_ = [](const void* p) { return static_cast<int64_t>(static_cast<const S*>(p)->bytes()); };
      } else {
        bytes_ = nullptr;
      }
    } else if (type_ != &typeid(S) && *type_ != typeid(S)) {
      internal::ThrowScratchTypeMismatch(*type_, typeid(S));
    }
    return *static_cast<S*>(object_.get());
  }

  bool has_value() const { return type_ != nullptr; }
  // The type of the object held; typeid(void) when there is none.
  const std::type_info& type() const { return type_ != nullptr ? *type_ : typeid(void); }
  // The bytes the object holds, when its type says (`int64_t bytes()
  // const`); 0 otherwise or when empty.
  int64_t bytes() const { return bytes_ != nullptr ? bytes_(object_.get()) : 0; }
  // Destroys the object held, if any.
  void Reset() {
    object_.reset();
    type_ = nullptr;
    bytes_ = nullptr;
  }

 private:
  using Object = std::unique_ptr<void, void (*)(void*)>;
  Object object_{nullptr, nullptr};
  const std::type_info* type_ = nullptr;
  int64_t (*bytes_)(const void*) = nullptr;
};

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_SCRATCH_H_
