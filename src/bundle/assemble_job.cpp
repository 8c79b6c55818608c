#include "bundle/assemble_job.h"

#include <filesystem>

#include "bundle/assemble.h"
#include "bundle/resolve_model.h"
#include "core/file.h"

namespace cc {

const std::vector<Flag>& assemble_job_flags() {
  static const std::vector<Flag> flags = {
      {"clip", "DIR|org/name", "CLIP checkpoint (text and images), e.g. openai/clip-vit-base-patch32"},
      {"clap", "DIR|org/name", "CLAP checkpoint (audio), e.g. laion/larger_clap_music_and_speech"},
      {"projection", "DIR", "a trained projection (train-projection --out); without it one is trained from --captions"},
      {"captions", "FILE", "captions for training the projection on the fly (text bridge), when --projection is absent", "", true},
      {"eval", "FILE", "JSON from `clipclap eval --json`, quoted in the model card"},
      {"out", "DIR", "the bundle directory to write (written whole at the end, or not at all)"},
      {"overwrite", "", "replace --out if it exists"},
      {"threads", "N", "threads for on-the-fly training (0 = all cores)", "0"},
  };
  return flags;
}

Result<AssembleJob> assemble_job_from_flags(const Args& args) {
  for (const char* required : {"clip", "clap", "out"})
    if (!args.has(required)) return error(std::string("--") + required + " is required");
  AssembleJob job;
  job.clip = args.get("clip"), job.clap = args.get("clap"), job.out = args.get("out");
  job.projection_dir = args.get("projection");
  job.caption_files = args.all("captions");
  if (job.projection_dir.empty() && job.caption_files.empty())
    return error("give --projection DIR (from train-projection), or --captions FILE to train one now");
  job.eval_json_path = args.get("eval");
  job.overwrite = args.has("overwrite");
  CC_TRY(job.threads, args.get_int("threads", 0, 1024));
  return job;
}

Result<bool> run_assemble_job(const AssembleJob& job, const StageProgress& progress,
                              const std::function<void(const std::string&)>& log) {
  if (std::filesystem::exists(job.out) && !job.overwrite) return error(job.out + " exists; pass --overwrite to replace it");
  auto pulling = [&](const std::string& stage) {
    PullOptions p;
    if (progress)
      p.progress = [=](uint64_t done, uint64_t total) {
        progress(stage, static_cast<int64_t>(done), static_cast<int64_t>(total));
      };
    p.log = log;
    return p;
  };
  CC_TRY(const std::string clip, resolve_model_arg(job.clip, pulling("pulling CLIP")));
  CC_TRY(const std::string clap, resolve_model_arg(job.clap, pulling("pulling CLAP")));

  std::string projection = job.projection_dir;
  const bool train = projection.empty();
  if (train) {
    if (log) log("no --projection: training one now from --captions (text bridge: CLAP text -> CLIP text)");
    TrainJob t;
    t.clip_dir = clip, t.clap_dir = clap, t.clip_source = job.clip, t.clap_source = job.clap;
    t.caption_files = job.caption_files;
    t.out = projection = temporary_beside(job.out + ".projection");
    t.cache_dir = default_vector_cache();
    t.train.mode = "text-bridge";
    auto trained = run_train_job(t, progress);
    if (!trained.ok()) {
      std::filesystem::remove_all(projection);
      return trained.error().context("training the projection");
    }
  }
  AssembleOptions o;
  o.clip_dir = clip, o.clap_dir = clap, o.projection_dir = projection;
  o.clip_source = job.clip, o.clap_source = job.clap;
  o.eval_json_path = job.eval_json_path;
  o.overwrite = job.overwrite;
  o.log = log;
  const Status st = assemble_bundle(o, job.out);
  if (train) std::filesystem::remove_all(projection);
  if (!st.ok()) return st.error();
  return train;
}

}  // namespace cc
