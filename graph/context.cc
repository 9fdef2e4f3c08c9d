#include "eoscale/graph/context.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/memory_sources.h"

namespace eoscale {
namespace internal {

GraphState::GraphState(ContextOptions opts)
    : options(std::move(opts)), format(options.format ? options.format : DefaultRasterFormat()) {}

std::string Node::Label() const { return absl::StrCat("'", name, "' (node ", id, ")"); }

std::string SinkRequest::Describe() const {
  switch (kind) {
    case Kind::kFile: return absl::StrCat("write ", path);
    case Kind::kUserSink: return absl::StrCat("write ", sink->path());
    case Kind::kMemory: return "read into memory";
    case Kind::kReduce: return "reduce";
  }
  return "";
}

int GraphState::AddNode(std::unique_ptr<Node> n) {
  n->id = static_cast<int>(nodes.size());
  n->released.assign(n->outputs.size(), false);
  nodes.push_back(std::move(n));
  return nodes.back()->id;
}

absl::Status GraphState::CheckImage(const Image& image, absl::string_view use) const {
  if (image.node_ < 0 || image.node_ >= static_cast<int>(nodes.size())) {
    return absl::InvalidArgumentError(absl::StrCat(use, ": empty or foreign image handle"));
  }
  const Node& n = *nodes[image.node_];
  if (image.output_ < 0 || image.output_ >= static_cast<int>(n.outputs.size())) {
    return absl::InvalidArgumentError(absl::StrCat(use, ": image handle has no output ", image.output_));
  }
  if (n.released[image.output_]) {
    return absl::FailedPreconditionError(
        absl::StrCat(use, ": image '", image.name(), "' was released and cannot be used any more"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::any> GraphState::GetReduction(int node) {
  ReduceNode* n = nodes[node]->AsReduce();
  if (n == nullptr) return absl::InvalidArgumentError("not a reduction handle");
  if (!n->done) {
    SinkRequest r;
    r.kind = SinkRequest::Kind::kReduce;
    r.reduce_node = node;
    if (absl::Status s = Execute({r}); !s.ok()) return s;
  }
  return n->value;
}

absl::StatusOr<std::any> ReductionBase::GetAny() {
  std::shared_ptr<GraphState> g = graph_.lock();
  if (!g) {
    return absl::FailedPreconditionError("reduction used after its context was destroyed");
  }
  if (node_ < 0 || node_ >= static_cast<int>(g->nodes.size())) {
    return absl::InvalidArgumentError("empty reduction handle");
  }
  return g->GetReduction(node_);
}

}  // namespace internal

using internal::GraphState;
using internal::MapNode;
using internal::Node;
using internal::Port;
using internal::ReduceNode;
using internal::SinkRequest;
using internal::SourceNode;

namespace {
constexpr char kContextGone[] = "image used after its context was destroyed";
}  // namespace

absl::StatusOr<Profile> Image::profile() const {
  std::shared_ptr<GraphState> g = graph_.lock();
  if (!g) {
    return node_ < 0 ? absl::InvalidArgumentError("empty image handle")
                     : absl::FailedPreconditionError(kContextGone);
  }
  if (absl::Status s = g->CheckImage(*this, "profile"); !s.ok()) return s;
  return g->ProfileOf({node_, output_});
}

std::string Image::name() const {
  std::shared_ptr<GraphState> g = graph_.lock();
  std::string base = "?";
  if (g && node_ >= 0 && node_ < static_cast<int>(g->nodes.size())) base = g->nodes[node_]->name;
  return absl::StrCat(base, "#", node_, ":", output_);
}

absl::StatusOr<std::unique_ptr<Context>> Context::Create(ContextOptions options) {
  if (options.workers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a context needs at least 1 worker, got ", options.workers));
  }
  if (options.tiling.tile_size < 0 || options.tiling.tile_max_size < 0) {
    return absl::InvalidArgumentError("tile_size and tile_max_size must not be negative");
  }
  if (options.memory_budget_bytes < 0) {
    return absl::InvalidArgumentError("memory_budget_bytes must not be negative");
  }
  return std::unique_ptr<Context>(new Context(std::make_shared<GraphState>(std::move(options))));
}

Context::Context(std::shared_ptr<GraphState> state) : state_(std::move(state)) {}
Context::~Context() {
  const std::vector<std::string> lost = PendingOutputs();
  if (!lost.empty()) {
    std::fprintf(stderr, "eoscale: a Context was destroyed with %zu write(s) requested but never run (Run() was not called): %s\n",
                 lost.size(), absl::StrJoin(lost, ", ").c_str());
  }
}

std::vector<std::string> Context::PendingOutputs() const {
  std::vector<std::string> out;
  for (const SinkRequest& r : state_->pending) {
    if (r.kind == SinkRequest::Kind::kFile) out.push_back(r.path);
    if (r.kind == SinkRequest::Kind::kUserSink) out.push_back(r.sink->path());
  }
  return out;
}

const RunStats& Context::last_run_stats() const { return state_->last_stats; }
const ContextOptions& Context::options() const { return state_->options; }

namespace {
// Checks handles and that the inputs share one grid; fills profiles.
absl::Status CheckInputs(const GraphState& g, absl::Span<const Image> inputs, absl::string_view what,
                         bool allow_misaligned, std::vector<Port>* ports, std::vector<Profile>* profiles) {
  if (inputs.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": at least one input image is needed"));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (absl::Status s = g.CheckImage(inputs[i], absl::StrCat(what, " input ", i)); !s.ok()) return s;
    ports->push_back(g.PortOf(inputs[i]));
    profiles->push_back(g.ProfileOf(ports->back()));
    const Profile& p0 = profiles->front();
    const Profile& p = profiles->back();
    if (p.width != p0.width || p.height != p0.height) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": all inputs must have the same width and height; input 0 (", inputs[0].name(), ") is ",
          p0.width, "x", p0.height, " but input ", i, " (", inputs[i].name(), ") is ", p.width, "x", p.height));
    }
    if (!allow_misaligned) {
      if (std::string d = DescribeGridDifference(p0, p); !d.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": inputs are not on the same grid: input 0 (", inputs[0].name(), ") and input ", i, " (",
            inputs[i].name(), ") differ in ", d,
            "; set allow_misaligned_inputs on the filter to combine them anyway"));
      }
    }
  }
  return absl::OkStatus();
}
}  // namespace

// Each public method checks that its handles belong to this context: a handle
// from another context has a different GraphState.
#define EOSCALE_CHECK_OWNER(image, use)                                                  \
  do {                                                                                   \
    std::shared_ptr<GraphState> owner = (image).graph_.lock();                           \
    if (!owner) return absl::FailedPreconditionError(absl::StrCat(use, ": ", kContextGone)); \
    if (owner != state_) return absl::InvalidArgumentError(absl::StrCat(use, ": image belongs to another context")); \
  } while (0)

absl::StatusOr<Image> Context::Open(const std::string& path, std::vector<int> bands) {
  absl::StatusOr<std::shared_ptr<RasterSource>> src = state_->format->Open(path, std::move(bands));
  if (!src.ok()) return src.status();
  auto n = std::make_unique<SourceNode>();
  n->name = absl::StrCat("read ", std::filesystem::path(path).filename().string());
  n->outputs = {(*src)->profile()};
  n->source = *std::move(src);
  return Image(state_, state_->AddNode(std::move(n)), 0);
}

absl::StatusOr<Image> Context::Open(std::shared_ptr<RasterSource> source) {
  if (source == nullptr) return absl::InvalidArgumentError("open: the source is null");
  if (absl::Status s = ValidateProfile(source->profile(), absl::StrCat("source '", source->description(), "'"));
      !s.ok()) {
    return s;
  }
  auto n = std::make_unique<SourceNode>();
  n->name = absl::StrCat("read ", source->description());
  n->outputs = {source->profile()};
  n->source = std::move(source);
  return Image(state_, state_->AddNode(std::move(n)), 0);
}

absl::StatusOr<Image> Context::CreateConstant(const Profile& profile, double value) {
  if (absl::Status s = ValidateProfile(profile, "constant image"); !s.ok()) return s;
  auto n = std::make_unique<SourceNode>();
  n->name = absl::StrCat("constant ", value);
  n->outputs = {profile};
  n->source = internal::MakeConstantSource(profile, value);
  return Image(state_, state_->AddNode(std::move(n)), 0);
}

absl::StatusOr<Image> Context::Wrap(const Profile& profile, const void* data) {
  if (absl::Status s = ValidateProfile(profile, "wrapped memory"); !s.ok()) return s;
  if (data == nullptr) return absl::InvalidArgumentError("wrapped memory: data is null");
  auto n = std::make_unique<SourceNode>();
  n->name = "memory";
  n->outputs = {profile};
  n->source = internal::MakeWrappedSource(profile, data, "memory");
  return Image(state_, state_->AddNode(std::move(n)), 0);
}

absl::StatusOr<Image> Context::FromArray(Array array) {
  if (absl::Status s = ValidateProfile(array.profile(), "array"); !s.ok()) return s;
  auto n = std::make_unique<SourceNode>();
  n->name = "array";
  n->outputs = {array.profile()};
  auto src = std::make_shared<internal::ArraySource>(std::move(array));
  n->drop = [src] { src->Drop(); };
  n->source = std::move(src);
  return Image(state_, state_->AddNode(std::move(n)), 0);
}

absl::StatusOr<std::vector<Image>> Context::Map(absl::Span<const Image> inputs, MapFilter filter) {
  const std::string what = absl::StrCat("filter '", filter.name, "'");
  for (const Image& i : inputs) EOSCALE_CHECK_OWNER(i, what);
  std::vector<Port> ports;
  std::vector<Profile> in_profiles;
  if (absl::Status s = CheckInputs(*state_, inputs, what, filter.allow_misaligned_inputs, &ports, &in_profiles);
      !s.ok()) {
    return s;
  }
  if (filter.margin < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": margin must not be negative, got ", filter.margin));
  }
  if (!filter.fn) return absl::InvalidArgumentError(absl::StrCat(what, ": no filter function set"));
  std::vector<Profile> outs;
  if (filter.profiles) {
    absl::StatusOr<std::vector<Profile>> p;
    try {
      p = filter.profiles(in_profiles);
    } catch (const std::exception& ex) {
      p = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
    } catch (...) {
      p = absl::InternalError("threw an exception");
    }
    if (!p.ok()) {
      return absl::Status(p.status().code(),
                          absl::StrCat(what, ": output profile function failed: ", p.status().message()));
    }
    outs = *std::move(p);
  } else {
    outs = in_profiles;
  }
  if (outs.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": the filter has no output profile"));
  if (filter.num_outputs >= 0 && filter.num_outputs != static_cast<int>(outs.size())) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": size mismatch: the filter declares ",
                                                   filter.num_outputs, " outputs but its profile function returned ",
                                                   outs.size(), " profiles"));
  }
  for (size_t j = 0; j < outs.size(); ++j) {
    if (absl::Status s = ValidateProfile(outs[j], absl::StrCat(what, " output ", j)); !s.ok()) return s;
    if (outs[j].width != in_profiles[0].width || outs[j].height != in_profiles[0].height) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": output ", j, " is ", outs[j].width, "x", outs[j].height, " but the inputs are ",
          in_profiles[0].width, "x", in_profiles[0].height, "; a Map keeps the width and height"));
    }
  }
  auto n = std::make_unique<MapNode>();
  n->name = filter.name;
  n->inputs = std::move(ports);
  n->outputs = std::move(outs);
  // A margin past the image's larger side reads what that side does (every
  // read is clamped at the border); clamped, sums of margins along chains
  // stay far from int's range (a chain of two INT_MAX margins made the
  // region computed negative).
  n->margin = std::min(filter.margin, std::max(in_profiles[0].width, in_profiles[0].height));
  n->fn = std::move(filter.fn);
  n->scratch_bytes = std::move(filter.scratch_bytes);
  const int id = state_->AddNode(std::move(n));
  std::vector<Image> images;
  for (size_t j = 0; j < state_->nodes[id]->outputs.size(); ++j) images.push_back(Image(state_, id, static_cast<int>(j)));
  return images;
}

absl::StatusOr<int> Context::AddReduce(absl::Span<const Image> inputs, const std::string& name,
                                       std::function<absl::StatusOr<std::any>(const ReduceTile&)> map,
                                       std::function<std::any(std::any, std::any)> combine,
                                       bool allow_misaligned) {
  const std::string what = absl::StrCat("reduce '", name, "'");
  for (const Image& i : inputs) EOSCALE_CHECK_OWNER(i, what);
  std::vector<Port> ports;
  std::vector<Profile> in_profiles;
  if (absl::Status s = CheckInputs(*state_, inputs, what, allow_misaligned, &ports, &in_profiles); !s.ok()) return s;
  auto n = std::make_unique<ReduceNode>();
  n->name = name;
  n->inputs = std::move(ports);
  n->map = std::move(map);
  n->combine = std::move(combine);
  const int id = state_->AddNode(std::move(n));
  SinkRequest r;
  r.kind = SinkRequest::Kind::kReduce;
  r.reduce_node = id;
  state_->pending.push_back(r);
  return id;
}

void Context::SetReduceSerialization(int node, std::function<std::string(const std::any&)> serialize,
                                     std::function<absl::StatusOr<std::any>(const std::string&)> deserialize) {
  ReduceNode* r = state_->nodes[node]->AsReduce();
  r->serialize = std::move(serialize);
  r->deserialize = std::move(deserialize);
}

namespace {
absl::Status CheckWindow(const Profile& p, const std::optional<Window>& w, absl::string_view what) {
  if (!w) return absl::OkStatus();
  if (w->width <= 0 || w->height <= 0 || !Window{0, 0, p.width, p.height}.Contains(*w)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": window ", DescribeWindow(*w),
                                                   " is empty or not inside the image (", p.width, "x", p.height,
                                                   ")"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status Context::Write(const Image& image, const std::string& path, std::vector<std::string> options) {
  return Write(image, path, WriteOptions{std::move(options), std::nullopt});
}

absl::Status Context::Write(const Image& image, const std::string& path, WriteOptions options) {
  const std::string what = absl::StrCat("write '", path, "'");
  EOSCALE_CHECK_OWNER(image, what);
  if (absl::Status s = state_->CheckImage(image, what); !s.ok()) return s;
  if (absl::Status s = CheckWindow(state_->ProfileOf(state_->PortOf(image)), options.window, what); !s.ok()) return s;
  std::vector<std::string> all_options = state_->ProfileOf(state_->PortOf(image)).writer_options;
  all_options.insert(all_options.end(), options.creation_options.begin(), options.creation_options.end());
  if (absl::Status s = state_->format->CheckWritable(path, all_options); !s.ok()) return s;
  for (const SinkRequest& r : state_->pending) {
    if (r.kind == SinkRequest::Kind::kFile && r.path == path) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": '", path, "' is already an output of this run"));
    }
  }
  SinkRequest r;
  r.kind = SinkRequest::Kind::kFile;
  r.port = state_->PortOf(image);
  r.path = path;
  r.options = std::move(options.creation_options);
  r.window = options.window;
  r.durable = options.durable;
  state_->pending.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status Context::Write(const Image& image, std::shared_ptr<RasterSink> sink, std::optional<Window> window) {
  if (sink == nullptr) return absl::InvalidArgumentError("write: the sink is null");
  const std::string what = absl::StrCat("write '", sink->path(), "'");
  EOSCALE_CHECK_OWNER(image, what);
  if (absl::Status s = state_->CheckImage(image, what); !s.ok()) return s;
  if (absl::Status s = CheckWindow(state_->ProfileOf(state_->PortOf(image)), window, what); !s.ok()) return s;
  SinkRequest r;
  r.kind = SinkRequest::Kind::kUserSink;
  r.port = state_->PortOf(image);
  r.sink = std::move(sink);
  r.window = window;
  state_->pending.push_back(std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<Array> Context::ReadAll(const Image& image, std::optional<Window> window) {
  EOSCALE_CHECK_OWNER(image, "read");
  if (absl::Status s = state_->CheckImage(image, "read"); !s.ok()) return s;
  const Port port = state_->PortOf(image);
  const Profile& p = state_->ProfileOf(port);
  if (absl::Status s = CheckWindow(p, window, "read"); !s.ok()) return s;
  const Profile want = window ? CropProfile(p, *window) : p;
  const auto too_big = [&] {
    return absl::ResourceExhaustedError(absl::StrCat("read: cannot allocate ", want.ImageBytes(),
                                                     " bytes for image '", image.name(), "' (",
                                                     DescribeProfile(want), ") in memory; read a window of it, "
                                                     "or Write it to a file"));
  };
  // More than the machine's memory cannot succeed (and some allocators
  // abort instead of throwing on such sizes).
  const int64_t ram = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (ram > 0 && want.ImageBytes() > ram) return too_big();
  Array out;
  try {
    out = Array(want);
  } catch (const std::bad_alloc&) {
    return too_big();
  }
  SinkRequest r;
  r.kind = SinkRequest::Kind::kMemory;
  r.port = port;
  r.array = &out;
  r.window = window;
  if (absl::Status s = state_->Execute({r}); !s.ok()) return s;
  return out;
}

absl::Status Context::Release(const Image& image) {
  EOSCALE_CHECK_OWNER(image, "release");
  if (absl::Status s = state_->CheckImage(image, "release"); !s.ok()) return s;
  Node& n = *state_->nodes[image.node_];
  n.released[image.output_] = true;
  // An in-memory source nobody reads can drop its pixels now.
  auto* src = dynamic_cast<SourceNode*>(&n);
  if (src != nullptr && src->drop) {
    bool used = false;
    for (const auto& m : state_->nodes) {
      for (const Port& p : m->inputs) used |= p.node == n.id;
    }
    for (const SinkRequest& r : state_->pending) {
      used |= r.kind != SinkRequest::Kind::kReduce && r.port.node == n.id;
    }
    if (!used) {
      src->drop();
      src->dropped = true;
    }
  }
  return absl::OkStatus();
}

absl::Status Context::Run() {
  std::vector<SinkRequest> sinks;
  sinks.swap(state_->pending);
  // Reductions already computed (by Get) need not run again.
  std::erase_if(sinks, [&](const SinkRequest& r) {
    return r.kind == SinkRequest::Kind::kReduce && state_->nodes[r.reduce_node]->AsReduce()->done;
  });
  if (sinks.empty()) return absl::OkStatus();
  return state_->Execute(std::move(sinks));
}

}  // namespace eoscale
