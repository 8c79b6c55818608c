// The eval pipeline: retrieval and zero-shot metrics in the shared space (CLIP text vs projected
// CLAP audio) beside the same in CLAP's native space (CLAP text vs CLAP audio), so the cost of
// the projection is visible. `clipclap eval` and the Python package run this same function.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/flags.h"
#include "core/result.h"

namespace cc {

struct EvalJob {
  std::string clip_dir, clap_dir;  // checkpoint directories (resolved from hub names by the caller)
  std::string projection_dir;
  std::string pairs_file, labels_file, image_pairs_file, audio_image_pairs_file;  // any of them
  std::string prompt;
  int threads = 0;  // for the caller to set (0 = all cores)
};

// The flags of eval (without --help and --json): names, help texts and defaults.
const std::vector<Flag>& eval_job_flags();
Result<EvalJob> eval_job_from_flags(const Args& args);

// The report, as `clipclap eval --json` prints it: "retrieval", "zero_shot", "image_retrieval",
// "audio_to_image", for the files given.
Result<nlohmann::json> run_eval_job(const EvalJob& job);

// The report as a table, one line per direction.
std::string eval_table(const nlohmann::json& report);

}  // namespace cc
