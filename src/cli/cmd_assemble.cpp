// clipclap assemble: CLIP + CLAP + trained projection -> one bundle (see bundle/assemble.h).
// Without --projection, a projection is trained first from --captions (the text bridge).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bundle/assemble.h"
#include "bundle/resolve_model.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/file.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"clip", "DIR|org/name", "CLIP checkpoint (text and images), e.g. openai/clip-vit-base-patch32"},
    {"clap", "DIR|org/name", "CLAP checkpoint (audio), e.g. laion/larger_clap_music_and_speech"},
    {"projection", "DIR", "a trained projection (train-projection --out); without it one is trained from --captions"},
    {"captions", "FILE", "captions for training the projection on the fly (text bridge), when --projection is absent", "", true},
    {"eval", "FILE", "JSON from `clipclap eval --json`, quoted in the model card"},
    {"out", "DIR", "the bundle directory to write (written whole at the end, or not at all)"},
    {"overwrite", "", "replace --out if it exists"},
    {"threads", "N", "threads for on-the-fly training (0 = all cores)", "0"},
    {"help", "", "show this text"},
};

PullOptions pull_with_progress(std::unique_ptr<ProgressBar>& bar, const std::string& label) {
  PullOptions p;
  p.progress = [&bar, label](uint64_t done, uint64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>(label, static_cast<int64_t>(total), ProgressBar::Unit::kBytes);
    bar->update(static_cast<int64_t>(done));
  };
  p.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  return p;
}

}  // namespace

int cmd_assemble(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap assemble: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap assemble --clip DIR|org/name --clap DIR|org/name [--projection DIR | --captions FILE] --out DIR",
                     "Writes one model directory that embeds text, images and audio into CLIP's space: clip_config.json,\n"
                     "model.safetensors (CLIP towers, CLAP audio tower, trained W), CLIP's tokenizer and preprocessor\n"
                     "files, audio_projection.onnx, projection_training_metadata.json and a README.md model card.",
                     kFlags).c_str(),
               stdout);
    return 0;
  }
  for (const char* required : {"clip", "clap", "out"})
    if (!args->has(required)) return fail(std::string("--") + required + " is required", 2);
  if (!args->has("projection") && args->all("captions").empty())
    return fail("give --projection DIR (from train-projection), or --captions FILE to train one now", 2);
  const std::string out = args->get("out");
  if (std::filesystem::exists(out) && !args->has("overwrite")) return fail(out + " exists; pass --overwrite to replace it", 1);

  std::unique_ptr<ProgressBar> bar;
  auto clip = resolve_model_arg(args->get("clip"), pull_with_progress(bar, "pulling CLIP"));
  bar.reset();
  if (!clip.ok()) return fail(clip.error().message, 1);
  auto clap = resolve_model_arg(args->get("clap"), pull_with_progress(bar, "pulling CLAP"));
  bar.reset();
  if (!clap.ok()) return fail(clap.error().message, 1);

  std::string projection = args->get("projection");
  std::string trained_dir;
  if (projection.empty()) {
    trained_dir = temporary_beside(out + ".projection");
    std::fprintf(stderr, "no --projection: training one now from --captions (text bridge: CLAP text -> CLIP text)\n");
    std::vector<std::string> train_args = {"--clip", clip.value(), "--clap", clap.value(), "--out", trained_dir,
                                           "--mode", "text-bridge", "--threads", args->get("threads", "0")};
    for (const auto& c : args->all("captions")) train_args.insert(train_args.end(), {"--captions", c});
    std::vector<char*> argv_train;
    for (auto& a : train_args) argv_train.push_back(a.data());
    const int rc = cmd_train(static_cast<int>(argv_train.size()), argv_train.data());
    if (rc != 0) {
      std::filesystem::remove_all(trained_dir);
      return fail("training the projection failed (see above)", rc);
    }
    projection = trained_dir;
  }

  AssembleOptions o;
  o.clip_dir = clip.value(), o.clap_dir = clap.value(), o.projection_dir = projection;
  o.clip_source = args->get("clip"), o.clap_source = args->get("clap");
  o.eval_json_path = args->get("eval");
  o.overwrite = args->has("overwrite");
  o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  const Status st = assemble_bundle(o, out);
  if (!trained_dir.empty()) std::filesystem::remove_all(trained_dir);
  if (!st.ok()) return fail(st.error().message, 1);
  std::printf("%s: clipclap bundle (text, image, audio)%s\n", out.c_str(),
              trained_dir.empty() ? "" : "; projection trained on the fly from --captions (text bridge)");
  return 0;
}

}  // namespace cc
