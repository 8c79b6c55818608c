// Bulk embedding from a manifest (`clipclap embed --manifest`), for k8s Jobs, Spark and the
// like: every n-th row of the manifest (a shard), embedded in batches into one output file.
//   - Resumable: rows go to "<output>.part", appended a batch at a time and synced; a rerun
//     reads it, drops a torn last line, and goes on after the rows already there.
//   - Never torn: the output appears (renamed, or converted) only when every row is in.
//   - A file that fails to read or decode becomes a row with its error and no embedding.
// Output rows: {"path", "modality", "embedding", "error"} as JSON lines (.jsonl), or a float32
// .npy of the vectors (NaN rows for errors) with those columns but the vector beside it in
// "<name>.rows.jsonl". Parquet would need Apache Arrow's C++ library, which Debian 12 does not
// package: JSON lines are what DuckDB, Spark and pandas read without it.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "model/batch_embed.h"
#include "model/video_embed.h"

namespace cc {

struct ManifestJob {
  std::string manifest, output;
  int shard = 0, shards = 1;  // this job takes rows shard, shard + shards, ...
  int batch = 8;
  PrepareOptions prepare;
};

// One file's outcome: its modality ("image", "audio", "video", or "" when it could not be
// read), its vector (a video's pooled one), or its error (the vector then empty).
struct FileEmbedding {
  std::string modality, error;
  std::vector<float> vector;
};

// Embeds files whose bytes `read(i)` gives, named `names[i]` in errors, as `modalities[i]`
// ("image", "audio", "video", or "" to sniff: an image format is an image, a container with a
// video stream a video, anything else audio). A failure is that file's error, never the batch's.
// Files are read and decoded several at a time: `read` is called from more than one thread.
// The manifest job and the Python package's Ray actors embed through this.
std::vector<FileEmbedding> embed_files(const Embedder& model, size_t n, const std::function<Result<std::vector<uint8_t>>(size_t)>& read,
                                       const std::vector<std::string>& names, const std::vector<std::string>& modalities,
                                       const PrepareOptions& prepare, int batch);

// "i/n", 0 <= i < n.
Status parse_shard(const std::string& spec, int& shard, int& shards);

struct ManifestProgress {
  size_t rows = 0;      // of this shard
  size_t skipped = 0;   // already in the output from an earlier run
  size_t done = 0;      // written by this run (errors included)
  size_t errors = 0;    // rows written with an error, this run
  double seconds = 0;   // of this run
  bool complete = false;  // the output was already whole: nothing was done
};

// Checks everything that can be checked before the first row (manifest, output format,
// shard), then embeds. `progress` is called after each batch.
Result<ManifestProgress> run_manifest_job(const Embedder& model, const ManifestJob& job,
                                          const std::function<void(const ManifestProgress&)>& progress = {});

}  // namespace cc
