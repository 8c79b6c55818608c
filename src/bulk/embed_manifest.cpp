#include "bulk/embed_manifest.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/embeddings.h"
#include "core/file.h"
#include "core/threads.h"
#include "train/datasets.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

enum class OutputFormat { kJsonl, kNpy };

Result<OutputFormat> output_format(const std::string& path) {
  if (path.ends_with(".jsonl") || path.ends_with(".ndjson")) return OutputFormat::kJsonl;
  if (path.ends_with(".npy")) return OutputFormat::kNpy;
  if (path.ends_with(".parquet"))
    return error(path + ": Parquet from C++ needs Apache Arrow, which Debian 12 does not package; write .jsonl (DuckDB "
                 "read_json, Spark spark.read.json and pandas read_json(lines=True) read it) or .npy, or use the Python "
                 "package's clipclap.ray, which writes Parquet with pyarrow",
                 ErrorKind::kUnsupported);
  return error(path + ": the output is .jsonl (JSON lines) or .npy (vectors, with a .rows.jsonl beside them)");
}

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One output row. `vector` empty: the row failed with `error`.
std::string row_line(const ManifestRow& row, const std::string& modality, const std::vector<float>& vector,
                     const std::string& error) {
  std::string line = "{\"path\":" + json_string(row.path) + ",\"modality\":" + (modality.empty() ? "null" : json_string(modality)) +
                     ",\"embedding\":";
  if (vector.empty()) line += "null";
  else append_json_floats(line, vector.data(), vector.size());
  line += ",\"error\":" + (error.empty() ? std::string("null") : json_string(error)) + "}\n";
  return line;
}

// The rows an earlier run left in the journal, one JSON object per line. A torn last line
// (the run was killed in the middle of a write) is cut off the file.
Result<std::vector<nlohmann::json>> read_journal(const std::string& journal) {
  CC_TRY(std::vector<uint8_t> bytes, read_file(journal));
  size_t whole = bytes.size();
  while (whole > 0 && bytes[whole - 1] != '\n') --whole;
  if (whole != bytes.size()) {
    std::error_code ec;
    std::filesystem::resize_file(journal, whole, ec);
    if (ec) return error(journal + ": cutting its torn last line: " + ec.message());
  }
  std::vector<nlohmann::json> rows;
  for (auto start = bytes.begin(), end = bytes.begin() + static_cast<std::ptrdiff_t>(whole); start != end;) {
    const auto eol = std::find(start, end, '\n');
    auto j = nlohmann::json::parse(start, eol, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("path") || !j["path"].is_string())
      return error(journal + ":" + std::to_string(rows.size() + 1) + ": not a row of clipclap's; delete the file to start over");
    rows.push_back(std::move(j));
    start = eol + 1;
  }
  return rows;
}

// How many rows of this shard the journal holds: each of its lines must be the next one.
Result<size_t> resume(const std::string& journal, const std::vector<ManifestRow>& rows) {
  if (!is_file(journal)) return size_t{0};
  CC_TRY(const std::vector<nlohmann::json> written, read_journal(journal));
  for (size_t k = 0; k < written.size(); ++k)
    if (k >= rows.size() || written[k]["path"].get<std::string>() != rows[k].path)
      return error(journal + ":" + std::to_string(k + 1) + ": written for another manifest or shard (this shard's row " +
                   std::to_string(k + 1) + " is " + (k < rows.size() ? rows[k].path : std::string("past its end")) +
                   "); delete the file to start over");
  return written.size();
}

// The journal as .npy (float32 [rows, dim], NaN rows for errors) and its rows without vectors.
Status write_npy(const std::string& journal, const std::string& output, int dim) {
  CC_TRY(std::vector<nlohmann::json> written, read_journal(journal));
  std::vector<float> values;
  std::string rows;
  for (auto& j : written) {
    if (j["embedding"].is_array()) {
      for (const auto& x : j["embedding"]) values.push_back(x.get<float>());
    } else {
      values.insert(values.end(), static_cast<size_t>(dim), std::nanf(""));
    }
    j.erase("embedding");
    rows += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  // NumPy's format 1.0: magic, header length, a dict padded with spaces to 64 bytes, then data.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(written.size()) + ", " +
                       std::to_string(dim) + "), }";
  header.resize(((10 + header.size() + 1 + 63) / 64) * 64 - 10 - 1, ' ');
  header += '\n';
  std::string npy = "\x93NUMPY\x01";
  npy += '\0';
  npy += static_cast<char>(header.size() & 0xff);
  npy += static_cast<char>(header.size() >> 8);
  npy += header;
  npy.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  const std::string sidecar = output.substr(0, output.size() - 4) + ".rows.jsonl";
  CC_CHECK(write_file_atomic(sidecar, rows.data(), rows.size()));
  return write_file_atomic(output, npy.data(), npy.size());
}

}  // namespace

std::vector<FileEmbedding> embed_files(const Embedder& model, size_t n, const std::function<Result<std::vector<uint8_t>>(size_t)>& read,
                                       const std::vector<std::string>& names, const std::vector<std::string>& modalities,
                                       const PrepareOptions& prepare, int batch) {
  std::vector<FileEmbedding> out(n);
  const Capabilities caps = model.info().caps;
  std::vector<std::optional<PreparedItem>> prepared(n);
  for_each_item(n, [&](size_t i) {  // several files at a time: decoding is serial inside
    auto bytes = read(i);
    if (!bytes.ok()) {
      out[i].error = bytes.error().message;
      return;
    }
    std::string modality = modalities[i];
    if (modality.empty())
      modality = sniff_image_format(bytes->data(), bytes->size()) != ImageFormat::kUnknown ? "image"
                 : has_video_stream(bytes->data(), bytes->size())                        ? "video"
                                                                                           : "audio";
    out[i].modality = modality;
    const bool embeds = modality == "image" ? caps.image : modality == "audio" ? caps.audio : caps.image || caps.audio;
    if (!embeds) {
      out[i].error = names[i] + ": " + modality + ", which this model (" + model_kind_name(model.info().kind) + ") does not embed";
      return;
    }
    const Modality m = modality == "image" ? Modality::kImage : modality == "audio" ? Modality::kAudio : Modality::kVideo;
    auto item = prepare_file(model, m, bytes->data(), bytes->size(), prepare);
    if (item.ok()) prepared[i] = std::move(item).value();
    else out[i].error = item.error().context(names[i]).message;
  });
  CallInputs call(n);  // every file without an error goes to the towers
  for (size_t i = 0; i < n; ++i)
    if (prepared[i]) call.add(i, std::move(*prepared[i]));
  std::vector<PreparedInput> inputs = call.take_tower_inputs();
  auto vectors = embed_prepared(model, inputs, batch);
  auto embedded = vectors.ok() ? call.item_vectors(vectors.value(), prepare.video.audio_weight)
                               : Result<CallInputs::ItemVectors>(vectors.error());
  for (size_t i = 0; i < n; ++i) {
    if (!out[i].error.empty()) continue;
    if (embedded.ok()) out[i].vector = std::move(embedded->vectors[i]);
    else out[i].error = embedded.error().context(names[i]).message;
  }
  return out;
}

Status parse_shard(const std::string& spec, int& shard, int& shards) {
  int i = -1, n = 0, used = 0;
  if (std::sscanf(spec.c_str(), "%d/%d%n", &i, &n, &used) != 2 || used != static_cast<int>(spec.size()) || n < 1 || i < 0 || i >= n)
    return error("--shard must be i/n with 0 <= i < n (e.g. 0/4), got '" + spec + "'");
  shard = i, shards = n;
  return Ok{};
}

Result<ManifestProgress> run_manifest_job(const Embedder& model, const ManifestJob& job,
                                          const std::function<void(const ManifestProgress&)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  CC_TRY(const OutputFormat format, output_format(job.output));
  CC_TRY(const std::vector<ManifestRow> all, read_manifest(job.manifest));
  std::vector<ManifestRow> rows;
  for (size_t i = static_cast<size_t>(job.shard); i < all.size(); i += static_cast<size_t>(job.shards)) rows.push_back(all[i]);
  ManifestProgress p;
  p.rows = rows.size();
  if (is_file(job.output)) {  // written whole by an earlier run
    p.skipped = rows.size(), p.complete = true;
    return p;
  }
  const std::string journal = job.output + ".part";
  CC_TRY(p.skipped, resume(journal, rows));
  FILE* f = std::fopen(journal.c_str(), "ab");
  if (!f) return error(journal + ": " + std::strerror(errno));
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  std::vector<std::string> names, modalities;
  for (const auto& row : rows) names.push_back(row.path), modalities.push_back(row.modality);
  for (size_t start = p.skipped; start < rows.size(); start += static_cast<size_t>(job.batch)) {
    const size_t end = std::min(rows.size(), start + static_cast<size_t>(job.batch));
    const std::vector<std::string> batch_names(names.begin() + start, names.begin() + end),
        batch_modalities(modalities.begin() + start, modalities.begin() + end);
    const auto results = embed_files(model, end - start, [&](size_t i) { return read_file(rows[start + i].file); },
                                     batch_names, batch_modalities, job.prepare, job.batch);
    std::string lines;
    for (size_t r = start; r < end; ++r) {
      const FileEmbedding& e = results[r - start];
      if (!e.error.empty()) ++p.errors;
      lines += row_line(rows[r], e.modality, e.vector, e.error);
    }
    if (std::fwrite(lines.data(), 1, lines.size(), f) != lines.size() || std::fflush(f) != 0 || fdatasync(fileno(f)) != 0) {
      const std::string why = std::strerror(errno);
      std::fclose(f);
      return error(journal + ": " + why);
    }
    p.done += end - start;
    p.seconds = elapsed();
    if (progress) progress(p);
  }
  std::fclose(f);
  if (format == OutputFormat::kJsonl) {
    std::error_code ec;
    std::filesystem::rename(journal, job.output, ec);
    if (ec) return error(job.output + ": " + ec.message());
  } else {
    CC_CHECK(write_npy(journal, job.output, model.dim()));
    std::filesystem::remove(journal);
  }
  p.seconds = elapsed();
  return p;
}

}  // namespace cc
