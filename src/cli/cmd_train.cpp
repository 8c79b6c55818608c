// clipclap train-projection: the pipeline is run_train_job (train/train_job.h); this file parses
// its flags, resolves hub names, shows progress and prints the held-out numbers.
#include <cstdio>
#include <string>

#include "bundle/resolve_model.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/threads.h"
#include "train/train_job.h"

namespace cc {

int cmd_train(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap train-projection: %s\n", message.c_str());
    return code;
  };
  std::vector<Flag> flags = train_job_flags();
  flags.push_back(help_flag());
  auto args = Args::parse(flags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap train-projection --clip DIR --clap DIR --out DIR [--captions FILE]... [--pairs FILE] [options]",
                     "Trains the linear map W (512x512) from CLAP's space into CLIP's: the text bridge maps CLAP text\n"
                     "vectors onto CLIP text vectors of the same captions; audio-caption maps CLAP audio vectors onto\n"
                     "CLIP text vectors of their captions. Four candidates (bias on/off, identity or least-squares\n"
                     "start) are trained and the best on the held-out pairs is kept.",
                     flags).c_str(),
               stdout);
    return 0;
  }
  auto job = train_job_from_flags(args.value());
  if (!job.ok()) return fail(job.error().message, 2);
  auto clip = resolve_model_arg(job->clip_source);  // a directory or org/name
  if (!clip.ok()) return fail(clip.error().message, 1);
  auto clap = resolve_model_arg(job->clap_source);
  if (!clap.ok()) return fail(clap.error().message, 1);
  job->clip_dir = clip.value(), job->clap_dir = clap.value();
  set_num_threads(job->threads);

  StageBars bars;
  auto result = run_train_job(job.value(), bars.callback());
  bars.done();
  if (!result.ok()) return fail(result.error().message, 1);
  const TrainResult& r = result->trained;
  std::printf("mode %s: %lld text-bridge pairs, %lld audio-caption pairs; kept %s start, bias %s (%.1f s)\n",
              job->train.mode.c_str(), static_cast<long long>(result->bridge_pairs), static_cast<long long>(result->audio_pairs),
              r.init.c_str(), r.projection.bias ? "on" : "off", result->seconds);
  std::printf("%-10s %10s %10s %12s %12s\n", "held out", "loss", "cosine", "R@1 text->x", "R@1 x->text");
  for (const auto& [name, e] : {std::pair{"trained", r.validation}, std::pair{"identity", r.identity}})
    std::printf("%-10s %10.4f %10.4f %12.3f %12.3f\n", name, e.loss, e.cosine, e.from_text.r1, e.to_text.r1);
  std::printf("wrote %s/projection.safetensors, audio_projection.onnx and projection_training_metadata.json\n", job->out.c_str());
  return 0;
}

}  // namespace cc
