// The Python extension (clipclap._clipclap): the library's models and pipelines, with inputs
// copied out of Python objects before the GIL is released, and errors raised as the built-in
// exception their kind suggests. The Python-facing API (types, docstrings) is python/clipclap.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <memory>

#include "bulk/embed_manifest.h"
#include "bundle/assemble_job.h"
#include "bundle/hub.h"
#include "bundle/resolve_model.h"
#include "core/file.h"
#include "core/threads.h"
#include "eval/eval_job.h"
#include "model/batch_embed.h"
#include "train/train_job.h"

namespace nb = nanobind;
using namespace cc;

namespace {

using Vectors = nb::ndarray<nb::numpy, float, nb::ndim<2>>;

// An engine error as Python sees it: a missing file or model is FileNotFoundError, the engine's
// own failures RuntimeError, anything about the input ValueError. Called with the GIL held.
[[noreturn]] void raise(const Error& e) {
  PyObject* type = e.kind == ErrorKind::kNotFound                                        ? PyExc_FileNotFoundError
                   : e.kind == ErrorKind::kInternal || e.kind == ErrorKind::kOverloaded ? PyExc_RuntimeError
                                                                                         : PyExc_ValueError;
  PyErr_SetString(type, e.message.c_str());
  throw nb::python_error();
}

template <class T>
T take(Result<T> r) {
  if (!r.ok()) raise(r.error());
  return std::move(r).value();
}

// Runs `f` without the GIL (the library never touches Python objects), and gives its result
// back with the GIL held again.
template <class F>
auto without_gil(F f) {
  nb::gil_scoped_release unlocked;
  return f();
}

Vectors to_numpy(const std::vector<std::vector<float>>& rows, int dim) {
  auto* data = new float[rows.size() * static_cast<size_t>(dim)];
  for (size_t i = 0; i < rows.size(); ++i) std::copy(rows[i].begin(), rows[i].end(), data + i * dim);
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<float*>(p); });
  return Vectors(data, {rows.size(), static_cast<size_t>(dim)}, owner);
}

// Flags given as a list of strings (the Python wrapper turns keyword arguments into them).
Args parse_flags(const std::vector<Flag>& flags, std::vector<std::string> argv) {
  std::vector<char*> ptrs;
  for (auto& a : argv) ptrs.push_back(a.data());
  return take(Args::parse(flags, static_cast<int>(ptrs.size()), ptrs.data()));
}

class Model {
 public:
  Model(const std::string& spec, int threads, const std::string& long_audio, double hop, const std::string& precision, int batch)
      : batch_(batch) {
    if (threads > 0) set_num_threads(threads);
    options_.long_audio.mode = take(parse_long_audio(long_audio));
    options_.long_audio.hop_seconds = hop;
    WeightOptions w;
    w.precision = take(parse_precision(precision));
    model_ = take(without_gil([&]() -> Result<std::unique_ptr<Embedder>> {
      CC_TRY(const std::string dir, resolve_model_arg(spec));
      return Embedder::load(dir, w);
    }));
  }

  std::string kind() const { return model_kind_name(model_->info().kind); }
  nb::tuple capabilities() const {
    const Capabilities c = model_->info().caps;
    nb::list l;
    if (c.text) l.append("text");
    if (c.image) l.append("image");
    if (c.audio) l.append("audio");
    return nb::tuple(l);
  }
  int dim() const { return model_->dim(); }
  std::string directory() const { return model_->info().dir; }

  Vectors embed_text(const std::vector<std::string>& texts, const std::vector<std::string>& labels) {
    return run(texts.size(), labels, [&](size_t i) { return prepare_text(*model_, texts[i]); });
  }
  // Encoded files (bytes), sniffed from their content.
  Vectors embed_encoded(const std::string& modality, const std::vector<nb::bytes>& items, const std::vector<std::string>& labels) {
    const Modality m = modality == "image" ? Modality::kImage : Modality::kAudio;
    std::vector<std::string> copies;
    for (const auto& b : items) copies.emplace_back(b.c_str(), b.size());
    return run(copies.size(), labels, [&](size_t i) {
      auto in = prepare_encoded(*model_, m, reinterpret_cast<const uint8_t*>(copies[i].data()), copies[i].size(), options_);
      if (!in.ok() && in.error().kind == ErrorKind::kInvalidInput)
        return Result<PreparedInput>(in.error().context(std::string("undecodable ") + modality_name(m)));
      return in;
    });
  }
  // Decoded RGB images: HxWx3 uint8.
  Vectors embed_rgb(const std::vector<nb::ndarray<const uint8_t, nb::ndim<3>, nb::c_contig, nb::device::cpu>>& arrays,
                    const std::vector<std::string>& labels) {
    std::vector<Image> images;
    for (const auto& a : arrays) {
      if (a.shape(2) != 3) raise(error("an image array must be height x width x 3 (RGB), got a last dimension of " + std::to_string(a.shape(2))));
      Image img;
      img.height = static_cast<int>(a.shape(0)), img.width = static_cast<int>(a.shape(1));
      img.rgb.assign(a.data(), a.data() + a.size());
      images.push_back(std::move(img));
    }
    return run(images.size(), labels, [&](size_t i) { return prepare_image(*model_, images[i]); });
  }
  // Decoded mono waveforms at their sample rates.
  Vectors embed_waveforms(const std::vector<nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>>& waves,
                          const std::vector<int>& rates, const std::vector<std::string>& labels) {
    std::vector<Audio> clips;
    for (size_t i = 0; i < waves.size(); ++i) clips.push_back(Audio{rates[i], std::vector<double>(waves[i].data(), waves[i].data() + waves[i].size())});
    return run(clips.size(), labels, [&](size_t i) -> Result<PreparedInput> {
      if (clips[i].sample_rate <= 0 || clips[i].sample_rate > AudioLimits{}.max_sample_rate)
        return error("sample rate " + std::to_string(clips[i].sample_rate) + " Hz is out of range");
      if (clips[i].samples.empty()) return error("the waveform is empty");
      if (clips[i].seconds() > options_.audio.max_seconds)
        return error("audio of " + std::to_string(clips[i].seconds()) + " s is longer than the limit of " +
                     std::to_string(options_.audio.max_seconds) + " s");
      return prepare_audio(*model_, clips[i], options_.long_audio);
    });
  }

  // Files (paths, or their bytes) that may fail one by one, for bulk jobs: vectors (NaN rows
  // for failures), each file's modality and error ("" when it has none).
  nb::tuple embed_files(const std::vector<std::string>& paths, const std::vector<nb::bytes>& contents,
                        const std::vector<std::string>& modalities) {
    std::vector<std::string> copies;
    for (const auto& b : contents) copies.emplace_back(b.c_str(), b.size());
    std::vector<std::string> kinds = modalities;
    kinds.resize(paths.size());
    std::vector<FileEmbedding> results = without_gil([&] {
      return cc::embed_files(*model_, paths.size(), [&](size_t i) -> Result<std::vector<uint8_t>> {
        if (i < copies.size()) return std::vector<uint8_t>(copies[i].begin(), copies[i].end());
        return read_file(paths[i]);
      }, paths, kinds, options_, batch_);
    });
    std::vector<std::vector<float>> rows;
    std::vector<std::string> modality, errors;
    for (auto& r : results) {
      rows.push_back(r.vector.empty() ? std::vector<float>(static_cast<size_t>(model_->dim()), std::nanf("")) : std::move(r.vector));
      modality.push_back(r.modality), errors.push_back(r.error);
    }
    return nb::make_tuple(to_numpy(rows, model_->dim()), modality, errors);
  }

 private:
  // Prepares every item, several at a time (the first failure, named by its label, is raised),
  // and embeds them in batches, without the GIL.
  template <class Prepare>
  Vectors run(size_t n, const std::vector<std::string>& labels, Prepare prepare) {
    auto vectors = without_gil([&]() -> Result<std::vector<std::vector<float>>> {
      std::vector<Result<PreparedInput>> prepared(n, Result<PreparedInput>(error("not prepared", ErrorKind::kInternal)));
      for_each_item(n, [&](size_t i) { prepared[i] = prepare(i); });
      std::vector<PreparedInput> inputs;
      for (size_t i = 0; i < n; ++i) {
        if (!prepared[i].ok()) return prepared[i].error().context(i < labels.size() ? labels[i] : "item " + std::to_string(i));
        inputs.push_back(std::move(prepared[i]).value());
      }
      return embed_prepared(*model_, inputs, batch_);
    });
    return to_numpy(take(std::move(vectors)), model_->dim());
  }

  std::unique_ptr<Embedder> model_;
  PrepareOptions options_;
  int batch_;
};

std::vector<Flag> flags_of(const std::string& command) {
  if (command == "train_projection") return train_job_flags();
  if (command == "eval") return eval_job_flags();
  if (command == "assemble") return assemble_job_flags();
  raise(error("no command " + command));
}

std::string resolved(const std::string& spec) {
  return take(without_gil([&] { return resolve_model_arg(spec); }));
}

}  // namespace

NB_MODULE(_clipclap, m) {
  m.doc() = "clipclap's engine (see the clipclap package for the documented API)";
  nb::class_<Model>(m, "_Model")
      .def(nb::init<const std::string&, int, const std::string&, double, const std::string&, int>())
      .def_prop_ro("kind", &Model::kind)
      .def_prop_ro("capabilities", &Model::capabilities)
      .def_prop_ro("dim", &Model::dim)
      .def_prop_ro("directory", &Model::directory)
      .def("embed_text", &Model::embed_text)
      .def("embed_encoded", &Model::embed_encoded)
      .def("embed_rgb", &Model::embed_rgb)
      .def("embed_waveforms", &Model::embed_waveforms)
      .def("embed_files", &Model::embed_files);

  m.def("_flags", [](const std::string& command) {
    std::vector<std::tuple<std::string, std::string, std::string, std::string, bool>> out;
    for (const Flag& f : flags_of(command)) out.emplace_back(f.name, f.value_name, f.help, f.default_value, f.repeatable);
    return out;
  });
  m.def("_train_projection", [](std::vector<std::string> argv) {
    TrainJob job = take(train_job_from_flags(parse_flags(train_job_flags(), std::move(argv))));
    job.clip_dir = resolved(job.clip_source), job.clap_dir = resolved(job.clap_source);
    if (job.threads > 0) set_num_threads(job.threads);
    const TrainJobResult t = take(without_gil([&] { return run_train_job(job); }));
    return nlohmann::json{{"out", job.out}, {"mode", job.train.mode}, {"init", t.trained.init}, {"bias", t.trained.projection.bias},
                          {"text_bridge_pairs", t.bridge_pairs}, {"audio_caption_pairs", t.audio_pairs},
                          {"held_out_cosine", t.trained.validation.cosine}, {"held_out_loss", t.trained.validation.loss},
                          {"seconds", t.seconds}}
        .dump();
  });
  m.def("_eval", [](std::vector<std::string> argv) {
    EvalJob job = take(eval_job_from_flags(parse_flags(eval_job_flags(), std::move(argv))));
    job.clip_dir = resolved(job.clip_dir), job.clap_dir = resolved(job.clap_dir);
    if (job.threads > 0) set_num_threads(job.threads);
    return take(without_gil([&] { return run_eval_job(job); })).dump();
  });
  m.def("_assemble", [](std::vector<std::string> argv) {
    AssembleJob job = take(assemble_job_from_flags(parse_flags(assemble_job_flags(), std::move(argv))));
    if (job.threads > 0) set_num_threads(job.threads);
    take(without_gil([&] { return run_assemble_job(job); }));
    return job.out;
  });
  m.def("_pull", [](const std::string& spec, bool all_files, const std::vector<std::string>& include) {
    const RepoRef ref = take(RepoRef::parse(spec));
    PullOptions o;
    o.all_files = all_files, o.include = include;
    return take(without_gil([&] { return pull(HubSettings::from_environment(), ref, o); }));
  });
}
