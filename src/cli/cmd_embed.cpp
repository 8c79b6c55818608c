// clipclap embed: every input is read and checked before any is embedded, so a bad input
// fails the command with a message naming it, and no partial output is written.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/threads.h"
#include "model/clip_model.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"model", "DIR", "model directory (a Hugging Face CLIP checkpoint: config.json, model.safetensors, tokenizer.json, preprocessor_config.json)"},
    {"text", "TEXT", "a text to embed", "", true},
    {"image", "PATH", "an image file to embed (JPEG, PNG, GIF, WebP, BMP)", "", true},
    {"batch", "N", "inputs of one modality per forward pass", "8"},
    {"threads", "N", "threads for inference (0 = all cores)", "0"},
    {"max-pixels", "N", "refuse images with more pixels than this", "89478485"},
    {"output", "PATH", "write the JSON lines to PATH (atomically) instead of stdout"},
    {"help", "", "show this text"},
};

struct Input {
  std::string modality;  // "text" or "image"
  std::string value;     // the text, or the image path
  std::vector<int32_t> ids;
  Image image;
};

void append_json_line(std::string& out, size_t index, const std::string& modality, const float* v, int dim) {
  char buf[48];
  out += "{\"index\":" + std::to_string(index) + ",\"modality\":\"" + modality + "\",\"dim\":" + std::to_string(dim) +
         ",\"embedding\":[";
  for (int i = 0; i < dim; ++i) {
    std::snprintf(buf, sizeof buf, i ? ",%.9g" : "%.9g", v[i]);  // 9 significant digits round-trip float32
    out += buf;
  }
  out += "]}\n";
}

void progress(size_t done, size_t total) {
  if (total < 16 || !isatty(STDERR_FILENO)) return;
  std::fprintf(stderr, "\rembedding %zu/%zu", done, total);
  if (done == total) std::fputc('\n', stderr);
}

}  // namespace

int cmd_embed(int argc, char** argv) {
  const std::string synopsis = "clipclap embed --model DIR [--text TEXT]... [--image PATH]... [options]";
  const std::string description =
      "Embeds each input into the model's shared space and prints one JSON object per input, in the order\n"
      "given: {\"index\", \"modality\", \"dim\", \"embedding\"}. Vectors are L2-normalised.";
  auto args = Args::parse(kFlags, argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "clipclap embed: %s\n", args.error().message.c_str());
    return 2;
  }
  if (args->has("help")) {
    std::fputs(usage(synopsis, description, kFlags).c_str(), stdout);
    return 0;
  }
  auto batch = args->get_int("batch", 8, 1, 4096);
  auto threads = args->get_int("threads", 0, 0, 1024);
  auto max_pixels = args->get_int("max-pixels", 89'478'485, 1, 2'000'000'000);
  for (const Error* e : {batch.ok() ? nullptr : &batch.error(), threads.ok() ? nullptr : &threads.error(),
                         max_pixels.ok() ? nullptr : &max_pixels.error()}) {
    if (e) {
      std::fprintf(stderr, "clipclap embed: %s\n", e->message.c_str());
      return 2;
    }
  }
  if (!args->has("model")) {
    std::fprintf(stderr, "clipclap embed: --model DIR is required\n");
    return 2;
  }
  std::vector<Input> inputs;
  for (const auto& [name, value] : args->in_order())
    if (name == "text" || name == "image") inputs.push_back({name, value, {}, {}});
  if (inputs.empty()) {
    std::fprintf(stderr, "clipclap embed: nothing to embed (give --text or --image)\n");
    return 2;
  }
  set_num_threads(threads.value());

  auto model = ClipModel::load(args->get("model"));
  if (!model.ok()) {
    std::fprintf(stderr, "clipclap embed: %s\n", model.error().message.c_str());
    return 1;
  }
  const ClipModel& m = *model.value();

  // Read and check every input first.
  int failures = 0;
  ImageLimits limits;
  limits.max_pixels = max_pixels.value();
  for (size_t i = 0; i < inputs.size(); ++i) {
    Input& in = inputs[i];
    if (in.modality == "text") {
      auto ids = m.tokenize(in.value);
      if (ids.ok()) in.ids = std::move(ids).value();
      else std::fprintf(stderr, "clipclap embed: input %zu (--text): %s\n", i, ids.error().message.c_str()), ++failures;
    } else {
      auto img = decode_image_file(in.value, limits);
      if (img.ok()) in.image = std::move(img).value();
      else std::fprintf(stderr, "clipclap embed: input %zu (--image): %s\n", i, img.error().message.c_str()), ++failures;
    }
  }
  if (failures) return 1;

  // Embed each modality in batches, then print in input order.
  std::vector<std::vector<float>> vectors(inputs.size());
  size_t done = 0;
  for (const std::string modality : {"text", "image"}) {
    std::vector<size_t> group;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].modality == modality) group.push_back(i);
    for (size_t start = 0; start < group.size(); start += batch.value()) {
      const size_t end = std::min(group.size(), start + static_cast<size_t>(batch.value()));
      Result<Embeddings> e = Embeddings{};
      if (modality == "text") {
        std::vector<std::vector<int32_t>> ids;
        for (size_t k = start; k < end; ++k) ids.push_back(inputs[group[k]].ids);
        e = m.embed_token_ids(ids);
      } else {
        std::vector<Image> images;
        for (size_t k = start; k < end; ++k) images.push_back(std::move(inputs[group[k]].image));
        e = m.embed_images(images);
      }
      if (!e.ok()) {
        std::fprintf(stderr, "clipclap embed: %s\n", e.error().message.c_str());
        return 1;
      }
      for (size_t k = start; k < end; ++k)
        vectors[group[k]].assign(e->row(k - start), e->row(k - start) + e->dim);
      done += end - start;
      progress(done, inputs.size());
    }
  }

  std::string out;
  for (size_t i = 0; i < inputs.size(); ++i)
    append_json_line(out, i, inputs[i].modality, vectors[i].data(), static_cast<int>(vectors[i].size()));
  if (args->has("output")) {
    auto st = write_file_atomic(args->get("output"), out.data(), out.size());
    if (!st.ok()) {
      std::fprintf(stderr, "clipclap embed: %s\n", st.error().message.c_str());
      return 1;
    }
  } else {
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace cc
