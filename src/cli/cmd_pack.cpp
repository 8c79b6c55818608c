// clipclap pack: writes a model's linear weights once in the layout the GEMM reads fastest,
// beside its model.safetensors; every later load maps them (core/packed_weights.h).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bundle/resolve_model.h"
#include "core/flags.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/gemm.h"
#include "core/packed_weights.h"
#include "model/pack_model.h"

namespace cc {

namespace {

const std::vector<Flag> kPackFlags = {
    {"model", "DIR|org/name", "model to pack: a clipclap bundle, or a CLIP or CLAP checkpoint (a directory, or a hub repository in the Hugging Face cache)", "", true},
    {"precision", "P", "fp32: the checkpoint's weights in the GEMM's blocked layout (model.packed.safetensors); bf16 or int8: "
                       "the weights that precision runs on (model.packed-bf16.safetensors, model.packed-int8.safetensors)", "fp32"},
    {"help", "", "show this text"},
};
}  // namespace

int cmd_pack(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap pack: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kPackFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap pack --model DIR|org/name [--model ...]",
                     "Writes model.packed.safetensors beside the model's model.safetensors: every linear layer's\n"
                     "weights, transposed into the blocked layout (oneDNN's BA16a64b) that the GEMM reads up to twice\n"
                     "as fast when few rows share each weight, as for one short text. embed, serve and bench map it\n"
                     "in place of the checkpoint's [out, in] weights, so loading still copies nothing; the vectors\n"
                     "are the same (the same sums, within float rounding). It takes as much disk as the weights.\n"
                     "If the checkpoint changes later, loading fails until the model is packed again (or the file is\n"
                     "deleted). On a machine whose GEMM prefers another layout (no AVX-512) the file is ignored.\n"
                     "With --precision bf16 or int8 it writes the weights `--precision` runs on instead (bf16 values;\n"
                     "s8 values with their scales); without the file they are made each time a model loads.",
                     kPackFlags).c_str(),
               stdout);
    return 0;
  }
  if (!args->has("model")) return fail("--model DIR is required", 2);
  auto precision = parse_precision(args->value("precision"));
  if (!precision.ok()) return fail(precision.error().message, 2);
  if (precision.value() == Precision::kFp32 && !gemm_prefers_packed_layout())
    std::fprintf(stderr, "clipclap pack: note: this machine's GEMM prefers another layout; the packed file will be ignored here\n");
  for (const std::string& spec : args->all("model")) {
    auto dir = resolve_model_arg(spec);
    if (!dir.ok()) return fail(dir.error().message, 1);
    const std::string weights = join_path(dir.value(), "model.safetensors");
    if (!is_file(weights)) return fail("model " + dir.value() + ": no model.safetensors", 1);
    const auto start = std::chrono::steady_clock::now();
    auto packed = pack_model(dir.value(), precision.value());
    if (!packed.ok()) return fail(packed.error().message, 1);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string path = precision.value() == Precision::kFp32 ? packed_weights_path(weights) : gemm_weights_path(weights, precision.value());
    std::printf("%s: %d linear weights, %.1f MiB, packed in %.1f s\n", path.c_str(), packed->tensors, packed->bytes / 1048576.0, seconds);
  }
  return 0;
}

}  // namespace cc
