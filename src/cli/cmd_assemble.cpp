// clipclap assemble: the pipeline is run_assemble_job (bundle/assemble_job.h); this file parses
// its flags and shows progress.
#include <cstdio>
#include <string>

#include "bundle/assemble_job.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/threads.h"

namespace cc {

int cmd_assemble(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap assemble: %s\n", message.c_str());
    return code;
  };
  std::vector<Flag> flags = assemble_job_flags();
  flags.push_back(help_flag());
  auto args = Args::parse(flags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap assemble --clip DIR|org/name --clap DIR|org/name [--projection DIR | --captions FILE] --out DIR",
                     "Writes one model directory that embeds text, images and audio into CLIP's space: clip_config.json,\n"
                     "model.safetensors (CLIP towers, CLAP audio tower, trained W), CLIP's tokenizer and preprocessor\n"
                     "files, audio_projection.onnx, projection_training_metadata.json and a README.md model card.",
                     flags).c_str(),
               stdout);
    return 0;
  }
  auto job = assemble_job_from_flags(args.value());
  if (!job.ok()) return fail(job.error().message, 2);
  set_num_threads(job->threads);
  StageBars bars;
  auto pulling = [](const std::string& stage) { return stage.rfind("pulling", 0) == 0; };  // run_assemble_job's pull stages
  auto trained = run_assemble_job(job.value(), bars.callback(pulling), [&](const std::string& line) {
    bars.done();
    std::fprintf(stderr, "%s\n", line.c_str());
  });
  bars.done();
  if (!trained.ok()) return fail(trained.error().message, 1);
  std::printf("%s: clipclap bundle (text, image, audio)%s\n", job->out.c_str(),
              trained.value() ? "; projection trained on the fly from --captions (text bridge)" : "");
  return 0;
}

}  // namespace cc
