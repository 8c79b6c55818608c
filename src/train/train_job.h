// The train-projection pipeline: read the data, encode captions and audio with the CLIP and
// CLAP towers (through the vector cache), train the CLAP -> CLIP projection and write it with
// its metadata. Every input is read and checked before training; the outputs are written only
// at the end, each atomically. `clipclap train-projection`, `clipclap assemble` and the Python
// package run this same function.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/flags.h"
#include "train/trainer.h"

namespace cc {

struct TrainJob {
  std::string clip_dir, clap_dir;        // checkpoint directories (resolved from hub names by the caller)
  std::string clip_source, clap_source;  // as the user named them, for the metadata
  std::vector<std::string> caption_files;
  std::string pairs_file;
  std::string out;
  std::string cache_dir;  // "" disables the vector cache
  int threads = 0;        // for the caller to set (0 = all cores)
  TrainOptions train;
};

struct TrainJobResult {
  TrainResult trained;
  int64_t bridge_pairs = 0, audio_pairs = 0;
  double seconds = 0;
};

// The flags of train-projection (without --help): names, help texts and defaults.
const std::vector<Flag>& train_job_flags();
// A job from those flags. --clip and --clap are taken as directories; a caller that accepts hub
// names resolves them first.
Result<TrainJob> train_job_from_flags(const Args& args);

// What is happening: a stage ("CLAP text", "training (4 candidates)") and how far it is.
using StageProgress = std::function<void(const std::string& stage, int64_t done, int64_t total)>;

Result<TrainJobResult> run_train_job(const TrainJob& job, const StageProgress& progress = {});

// The vector cache's default place: $XDG_CACHE_HOME/clipclap/vectors or ~/.cache/clipclap/vectors.
std::string default_vector_cache();

}  // namespace cc
