// clipclap models: what `serve --models-dir` would load, and why any directory is skipped.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/discover.h"
#include "core/flags.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/packed_weights.h"

namespace cc {

namespace {
const std::vector<Flag> kModelsFlags = {
    {"models-dir", "DIR", "directory to search (nested layouts and the Hugging Face cache are understood)"},
    {"json", "", "print JSON instead of a table"},
    {"help", "", "show this text"},
};

std::string human_size(uint64_t bytes) {
  char buf[32];
  if (bytes >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else if (bytes >= 1000000ull) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
  return buf;
}
}  // namespace

int cmd_models(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap models: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kModelsFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap models --models-dir DIR [--json]",
                     "Lists every model under DIR with its type (clipclap, clip, clap), what it embeds, its vector\n"
                     "size and its size on disk. The type is decided by the weights and configs: a directory with\n"
                     "CLIP's text and vision towers and CLAP's audio tower is clipclap. Broken directories are listed\n"
                     "on stderr with the reason, and skipped. PACKED lists the precisions `clipclap pack` has written\n"
                     "weights for (each precision also runs without them, packing at load).",
                     kModelsFlags).c_str(),
               stdout);
    return 0;
  }
  if (!args->has("models-dir")) return fail("--models-dir DIR is required", 2);
  auto found = discover_models(args->get("models-dir"));
  if (!found.ok()) return fail(found.error().message, 1);
  for (const auto& s : found->skipped) std::fprintf(stderr, "skipped %s: %s\n", s.dir.c_str(), s.reason.c_str());
  // the precisions `clipclap pack` has written files for (any precision also runs without one)
  auto packed = [](const ModelInfo& info) {
    std::string list;
    const std::string weights = join_path(info.dir, "model.safetensors");
    for (Precision p : {Precision::kFp32, Precision::kBf16, Precision::kInt8})
      if (is_file(p == Precision::kFp32 ? packed_weights_path(weights) : gemm_weights_path(weights, p)))
        list += (list.empty() ? "" : ",") + std::string(precision_name(p));
    return list.empty() ? std::string("-") : list;
  };
  if (args->has("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : found->models)
      out.push_back({{"name", m.name}, {"type", model_kind_name(m.info.kind)}, {"capabilities", capabilities_string(m.info.caps)},
                     {"dim", m.info.dim}, {"bytes", m.info.bytes}, {"path", m.info.dir}, {"packed", packed(m.info)}});
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%-32s %-9s %-17s %5s %10s %-14s  %s\n", "NAME", "TYPE", "CAPABILITIES", "DIM", "SIZE", "PACKED", "PATH");
    for (const auto& m : found->models)
      std::printf("%-32s %-9s %-17s %5d %10s %-14s  %s\n", m.name.c_str(), model_kind_name(m.info.kind),
                  capabilities_string(m.info.caps).c_str(), m.info.dim, human_size(m.info.bytes).c_str(), packed(m.info).c_str(),
                  m.info.dir.c_str());
  }
  if (found->models.empty()) return fail("no usable model under " + args->get("models-dir"), 1);
  return 0;
}

}  // namespace cc
