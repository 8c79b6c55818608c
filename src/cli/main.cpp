// clipclap: text, images and audio in one embedding space.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: clipclap <command> [options]\n"
    "\n"
    "Embeds text and images (CLIP) and audio (CLAP) into one space, and trains the projection that joins them.\n"
    "\n"
    "commands:\n"
    "  serve             the embedding server: /api/embed, OpenAI-compatible /v1/embeddings, metrics\n"
    "  embed             embed texts, images and audio with a model, one JSON line per input\n"
    "  train-projection  train the CLAP -> CLIP projection (text bridge and/or audio-caption pairs)\n"
    "  eval              retrieval and zero-shot metrics in the shared space and in CLAP's own\n"
    "  assemble          CLIP + CLAP + projection -> one clipclap bundle (text, images, audio)\n"
    "  models            list the models under a directory, with type, capabilities and size\n"
    "  pull              download a model from the Hugging Face hub into its cache\n"
    "  push              upload a bundle to the Hugging Face hub\n"
    "  pack              store a model's weights once in the layout the GEMM reads fastest (faster short texts)\n"
    "  bench             time this engine's towers on a model (scripts/bench.py compares with ONNX Runtime and PyTorch)\n"
    "  help              show this text\n"
    "\n"
    "Run 'clipclap <command> --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "serve") return cc::cmd_serve(argc - 2, argv + 2);
  if (command == "embed") return cc::cmd_embed(argc - 2, argv + 2);
  if (command == "bench") return cc::cmd_bench(argc - 2, argv + 2);
  if (command == "train-projection") return cc::cmd_train(argc - 2, argv + 2);
  if (command == "eval") return cc::cmd_eval(argc - 2, argv + 2);
  if (command == "assemble") return cc::cmd_assemble(argc - 2, argv + 2);
  if (command == "models") return cc::cmd_models(argc - 2, argv + 2);
  if (command == "pull") return cc::cmd_pull(argc - 2, argv + 2);
  if (command == "push") return cc::cmd_push(argc - 2, argv + 2);
  if (command == "pack") return cc::cmd_pack(argc - 2, argv + 2);
  std::fprintf(stderr, "clipclap: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
