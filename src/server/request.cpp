#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "server/api.h"

namespace cc {

ApiError api_error(const Error& e, std::string param) {
  switch (e.kind) {
    case ErrorKind::kInvalidInput: return {400, e.message, "invalid_request_error", std::move(param)};
    case ErrorKind::kNotFound: return {404, e.message, "not_found_error", std::move(param)};
    case ErrorKind::kUnsupported: return {422, e.message, "unsupported_error", std::move(param)};
    case ErrorKind::kTooLarge: return {413, e.message, "request_too_large", std::move(param)};
    case ErrorKind::kOverloaded: return {503, e.message, "server_overloaded", std::move(param)};
    case ErrorKind::kInternal: break;
  }
  return {500, e.message, "server_error", std::move(param)};
}

std::string echo(std::string_view s) {
  if (s.size() <= 256) return std::string(s);
  size_t cut = 256;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return std::string(s.substr(0, cut)) + "... (" + std::to_string(s.size()) + " bytes)";
}

namespace {

using nlohmann::json;

std::optional<Modality> modality_of_mime(const std::string& mime) {
  if (mime.rfind("image/", 0) == 0) return Modality::kImage;
  if (mime.rfind("audio/", 0) == 0) return Modality::kAudio;
  if (mime == "application/ogg") return Modality::kAudio;
  if (mime.rfind("video/", 0) == 0) return Modality::kVideo;
  return std::nullopt;
}

// Decoded media is counted in the request's memory before it is decoded.
std::optional<ApiError> decode_base64_field(const std::string& data, const std::string& param, MemoryBudget::Hold* memory,
                                            std::vector<uint8_t>* out) {
  if (memory)
    if (auto st = memory->add(data.size() / 4 * 3 + 3, "the request's media"); !st.ok()) return api_error(st.error(), param);
  auto bytes = base64_decode(data);
  if (!bytes.ok()) return bad_request(param + ": " + bytes.error().message, param);
  if (bytes->empty()) return bad_request(param + ": empty media", param);
  *out = std::move(bytes).value();
  return std::nullopt;
}

// A data: URI (RFC 2397) or an http(s) URL. `expected` is the modality the part type implies;
// a data: URI's media type, when it has one, decides instead: antfly sends images and audio
// alike as image_url parts.
std::optional<ApiError> read_url(const json& url_field, Modality expected, const std::string& param, const ParseLimits& limits,
                                 MemoryBudget::Hold* memory, InputItem* item) {
  std::string url;
  if (url_field.is_string()) url = url_field.get<std::string>();
  else if (url_field.is_object() && url_field.contains("url") && url_field["url"].is_string()) url = url_field["url"].get<std::string>();
  else return bad_request(param + " must be {\"url\": \"...\"}", param);
  item->modality = expected;
  if (url.rfind("data:", 0) == 0) {
    const size_t comma = url.find(',');
    if (comma == std::string::npos) return bad_request(param + ": a data: URI needs a comma before its data", param);
    const std::string meta = url.substr(5, comma - 5);
    const std::string mime = meta.substr(0, meta.find(';'));
    if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
      return bad_request(param + ": only base64 data: URIs are accepted", param);
    if (!mime.empty()) {
      const auto m = modality_of_mime(mime);
      if (!m) return bad_request(param + ": unsupported content type '" + echo(mime) + "' (image/*, audio/* or video/*)", param);
      item->modality = *m;
    }
    return decode_base64_field(url.substr(comma + 1), param, memory, &item->bytes);
  }
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    if (!limits.allow_fetch)
      return bad_request(param + ": fetching URLs is disabled on this server; send the media as a data: URI", param);
    item->fetch_url = url;
    return std::nullopt;
  }
  return bad_request(param + ": the URL must be a data: URI or http(s)", param);
}

// {"type": "input_audio", "input_audio": {"data": <base64>, "format": ...}} and input_video,
// its twin. The format, if given, must be one of `formats`; the decoders sniff the bytes anyway.
std::optional<ApiError> read_inline_media(const json& part, const std::string& field, std::initializer_list<const char*> formats,
                                          Modality modality, const std::string& param, MemoryBudget::Hold* memory, InputItem* item) {
  const json& m = part.contains(field) ? part[field] : json();
  if (!m.is_object() || !m.contains("data") || !m["data"].is_string())
    return bad_request(param + "." + field + " must be {\"data\": <base64>, \"format\": ...}", param);
  const json& f = m.contains("format") ? m["format"] : json("");
  if (!f.is_string()) return bad_request(param + "." + field + ".format must be a string", param);
  const std::string format = f.get<std::string>();
  std::string allowed;
  bool known = format.empty();
  for (const char* name : formats) {
    known = known || format == name;
    allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  }
  if (!known) return bad_request(param + "." + field + ".format '" + echo(format) + "' is not one of " + allowed, param);
  item->modality = modality;
  return decode_base64_field(m["data"].get<std::string>(), param + "." + field + ".data", memory, &item->bytes);
}

// A text is held until it is tokenized: counted like media.
std::optional<ApiError> count_text(const std::string& text, const std::string& param, MemoryBudget::Hold* memory) {
  if (memory)
    if (auto st = memory->add(text.size(), "the request's texts"); !st.ok()) return api_error(st.error(), param);
  return std::nullopt;
}

std::optional<ApiError> read_part(const json& part, const std::string& param, const ParseLimits& limits, MemoryBudget::Hold* memory,
                                  InputItem* item) {
  if (part.is_string()) {
    item->modality = Modality::kText;
    item->text = part.get<std::string>();
    if (item->text.empty()) return bad_request(param + " is an empty string", param);
    return count_text(item->text, param, memory);
  }
  if (part.is_number() || part.is_array())  // OpenAI's token-id form: meaningless to CLIP's own tokenizer
    return bad_request(param + ": token-id input is not supported; send the text itself (LangChain's OpenAIEmbeddings sends "
                               "token ids unless created with check_embedding_ctx_length=False)",
                       param);
  if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
    return bad_request(param + " must be a string or a content part with a \"type\"", param);
  const std::string type = part["type"].get<std::string>();
  if (type == "text") {
    if (!part.contains("text") || !part["text"].is_string()) return bad_request(param + ".text must be a string", param);
    item->modality = Modality::kText;
    item->text = part["text"].get<std::string>();
    if (item->text.empty()) return bad_request(param + ".text is empty", param);
    return count_text(item->text, param, memory);
  }
  if (type == "image_url") {
    if (!part.contains("image_url")) return bad_request(param + ".image_url is missing", param);
    return read_url(part["image_url"], Modality::kImage, param + ".image_url", limits, memory, item);
  }
  if (type == "audio_url") {
    if (!part.contains("audio_url")) return bad_request(param + ".audio_url is missing", param);
    return read_url(part["audio_url"], Modality::kAudio, param + ".audio_url", limits, memory, item);
  }
  if (type == "video_url") {
    if (!part.contains("video_url")) return bad_request(param + ".video_url is missing", param);
    return read_url(part["video_url"], Modality::kVideo, param + ".video_url", limits, memory, item);
  }
  if (type == "input_video")
    return read_inline_media(part, "input_video", {"mp4", "mov", "webm", "mkv"}, Modality::kVideo, param, memory, item);
  if (type == "input_audio")
    return read_inline_media(part, "input_audio", {"wav", "mp3", "flac", "ogg", "opus", "m4a", "aac", "mp4", "webm", "mkv"}, Modality::kAudio,
                             param, memory, item);
  if (type == "media") {
    if (!part.contains("data") || !part["data"].is_string() || !part.contains("mime_type") || !part["mime_type"].is_string())
      return bad_request(param + " (media) needs \"data\" (base64) and \"mime_type\"", param);
    const std::string mime = part["mime_type"].get<std::string>();
    const auto m = modality_of_mime(mime);
    if (!m) return bad_request(param + ": unsupported content type '" + echo(mime) + "' (image/*, audio/* or video/*)", param);
    item->modality = *m;
    return decode_base64_field(part["data"].get<std::string>(), param + ".data", memory, &item->bytes);
  }
  return bad_request(param + ": unknown content part type '" + echo(type) +
                         "' (text, image_url, audio_url, input_audio, video_url, input_video, media)",
                     param);
}

// One item of a Weaviate list: a text, or an image or clip as bare base64 (a data: URI is taken
// too); the decoders sniff the format from the bytes.
std::optional<ApiError> read_listed_item(const json& value, Modality modality, const std::string& param, const ParseLimits& limits,
                                         MemoryBudget::Hold* memory, InputItem* item) {
  if (!value.is_string()) return bad_request(param + " must be a string", param);
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty()) return bad_request(param + " is an empty string", param);
  item->modality = modality;
  if (modality == Modality::kText) {
    item->text = s;
    return count_text(item->text, param, memory);
  }
  if (s.rfind("data:", 0) == 0) return read_url(value, modality, param, limits, memory, item);
  return decode_base64_field(s, param, memory, &item->bytes);
}

// Weaviate's request lists and what their items are; no modality for the media clipclap has no
// model for (multi2vec-bind's imu, thermal, depth).
struct WeaviateList {
  const char* field;
  std::optional<Modality> modality;
};
constexpr WeaviateList kWeaviateLists[] = {{"texts", Modality::kText}, {"images", Modality::kImage}, {"audio", Modality::kAudio},
                                           {"video", Modality::kVideo},    {"imu", std::nullopt},       {"thermal", std::nullopt},
                                           {"depth", std::nullopt}};
const WeaviateList* weaviate_list(const std::string& field) {
  for (const auto& l : kWeaviateLists)
    if (field == l.field) return &l;
  return nullptr;
}

// Builds one JSON value from SAX events, as nlohmann's own DOM parser does, but for a part of
// the body only (one item, one field) and up to a number of values.
class ValueBuilder {
 public:
  explicit ValueBuilder(size_t max_values) : max_values_(max_values) {}
  bool scalar(json v) { return add(std::move(v)) != nullptr; }
  bool start(bool object) {
    json* j = add(object ? json::object() : json::array());
    if (!j) return false;
    stack_.push_back(j);
    return true;
  }
  void key(std::string& k) { key_ = std::move(k); }
  void end() { stack_.pop_back(); }
  bool done() const { return started_ && stack_.empty(); }
  bool overflowed() const { return values_ > max_values_; }
  json take() {
    started_ = false;
    values_ = 0;
    return std::move(root_);
  }

 private:
  json* add(json v) {
    if (++values_ > max_values_) return nullptr;
    if (stack_.empty()) {
      started_ = true;
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_object()) return &(parent[key_] = std::move(v));  // a repeated key: the last one counts
    parent.push_back(std::move(v));
    return &parent.back();
  }
  size_t max_values_, values_ = 0;
  bool started_ = false;
  json root_;
  std::vector<json*> stack_;
  std::string key_;
};

// The body's events: the root object's fields are taken one by one; "input" (or Weaviate's
// lists) an item at a time. Unknown fields are skipped without being stored.
class RequestReader : public nlohmann::json_sax<json> {
 public:
  RequestReader(Api api, const ParseLimits& limits, EmbedRequest* out, MemoryBudget::Hold* memory)
      : api_(api), limits_(limits), out_(out), memory_(memory) {}

  std::optional<ApiError> error;
  bool have_input = false;

  bool null() override { return scalar(nullptr); }
  bool boolean(bool v) override { return scalar(v); }
  bool number_integer(number_integer_t v) override { return scalar(v); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(v); }
  bool number_float(number_float_t v, const string_t&) override { return scalar(v); }
  bool string(string_t& v) override { return scalar(std::move(v)); }
  bool binary(binary_t&) override { return fail(bad_request("the body is not valid JSON")); }

  bool start_object(std::size_t) override { return start(true); }
  bool start_array(std::size_t) override { return start(false); }
  bool end_object() override { return end(); }
  bool end_array() override { return end(); }

  bool key(string_t& k) override {
    if (depth_ == 1) {  // a field of the root object
      field_ = std::move(k);
      return true;
    }
    if (building_) builder_.key(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    if (!error) error = bad_request("the body is not valid JSON");
    return false;
  }

 private:
  // Where the next value goes.
  enum class Slot { kRoot, kField, kItem, kSkip };

  Slot slot() const {
    if (depth_ == 0) return Slot::kRoot;
    if (depth_ == 1) return is_list_field() || known_field() ? Slot::kField : Slot::kSkip;
    if (in_input_list_ && depth_ == 2) return Slot::kItem;
    return building_ ? Slot::kField : Slot::kSkip;  // inside a value being built or skipped
  }
  bool is_list_field() const { return api_ == Api::kWeaviate ? weaviate_list(field_) != nullptr : field_ == "input"; }
  bool known_field() const {
    if (api_ == Api::kWeaviate) return false;
    const bool openai = api_ == Api::kOpenAI || api_ == Api::kAntfly;
    return field_ == "model" || field_ == "truncate" || field_ == "video_segments" ||
           (openai && (field_ == "encoding_format" || field_ == "dimensions"));
  }

  bool fail(ApiError e) {
    if (!error) error = std::move(e);
    return false;
  }

  bool scalar(json v) {
    switch (slot()) {
      case Slot::kRoot: return fail(bad_request("the body must be a JSON object"));
      case Slot::kSkip: return true;
      case Slot::kItem:
        if (skipping_items()) return true;
        builder_.scalar(std::move(v));
        return item_done();
      case Slot::kField:
        building_ = true;
        if (!builder_.scalar(std::move(v))) return too_big();
        return builder_.done() ? value_done() : true;
    }
    return true;
  }

  bool start(bool object) {
    const Slot s = slot();
    ++depth_;
    switch (s) {
      case Slot::kRoot:
        if (!object) return fail(bad_request("the body must be a JSON object"));
        return true;
      case Slot::kSkip: return true;
      case Slot::kItem:
        if (skipping_items()) {
          building_ = false;
          skip_from_ = depth_;
          return true;
        }
        building_ = true;
        return builder_.start(object) || too_big();
      case Slot::kField:
        if (depth_ == 2 && is_list_field() && !object) {  // the list itself: its items come one by one
          in_input_list_ = true;
          have_input = true;
          if (field_ == "input") {  // a repeated "input" replaces the first
            out_->items.clear();
            items_ = 0;
          }
          list_items_ = 0;
          return true;
        }
        building_ = true;
        return builder_.start(object) || too_big();
    }
    return true;
  }

  bool end() {
    --depth_;
    if (depth_ == 0) return true;  // the root object ends
    if (in_input_list_ && depth_ == 1) {  // the input list ends
      in_input_list_ = false;
      if (field_ == "input" && items_ == 0) return fail(bad_request("input is empty", "input"));
      if (items_ > limits_.max_items)
        return fail(bad_request((field_ == "input" ? "input has " : "the request has ") + std::to_string(items_) +
                                    " items; this server takes at most " + std::to_string(limits_.max_items) + " per request (--max-items)",
                                field_));
      return true;
    }
    if (skip_from_ > 0) {  // an item past the limit, skipped
      if (depth_ + 1 == skip_from_) skip_from_ = 0;
      return true;
    }
    if (!building_) return true;
    builder_.end();
    if (!builder_.done()) return true;
    return in_input_list_ && depth_ == 2 ? item_done() : value_done();
  }

  bool skipping_items() {
    if (items_ < limits_.max_items) return false;
    ++items_;  // counted, not kept: the error gives the count
    return true;
  }

  bool too_big() {
    const std::string where = in_input_list_ ? field_ + "[" + std::to_string(list_items_) + "]" : field_;
    return fail(bad_request(where + " is not a string or a content part (" + std::to_string(kMaxValues) + " JSON values at most)", where));
  }

  // One item of the input list is complete.
  bool item_done() {
    building_ = false;
    const json part = builder_.take();
    const std::string param = field_ + "[" + std::to_string(list_items_++) + "]";
    ++items_;
    InputItem item;
    item.where = param;
    if (api_ == Api::kWeaviate) {
      const auto modality = weaviate_list(field_)->modality;
      if (!modality)
        return fail({422, param + ": clipclap embeds texts, images, audio and video; it has no model for " + field_, "unsupported_modality", field_});
      if (auto e = read_listed_item(part, *modality, param, limits_, memory_, &item)) return fail(std::move(*e));
    } else if (auto e = read_part(part, param, limits_, memory_, &item)) {
      return fail(std::move(*e));
    }
    out_->items.push_back(std::move(item));
    return true;
  }

  // A root field's whole value is in.
  bool value_done() {
    building_ = false;
    const json v = builder_.take();
    if (api_ == Api::kWeaviate) {  // a list field that is not a list
      if (v.is_null()) return true;
      return fail(bad_request(field_ + " must be a list", field_));
    }
    if (field_ == "input") {
      have_input = true;
      out_->items.clear();
      InputItem item;
      item.where = "input";
      if (auto e = read_part(v, "input", limits_, memory_, &item)) return fail(std::move(*e));
      out_->items.push_back(std::move(item));
    } else if (field_ == "model") {
      if (!v.is_string()) return fail(bad_request("model must be a string", "model"));
      out_->model = v.get<std::string>();
    } else if (field_ == "video_segments") {
      if (!v.is_boolean()) return fail(bad_request("video_segments must be true or false", "video_segments"));
      out_->video_segments = v.get<bool>();
    } else if (field_ == "truncate") {
      if (!v.is_boolean()) return fail(bad_request("truncate must be true or false", "truncate"));
      out_->truncate = v.get<bool>();
    } else if (field_ == "encoding_format") {
      if (!v.is_string() || (v != "float" && v != "base64")) return fail(bad_request("encoding_format must be \"float\" or \"base64\"", "encoding_format"));
      out_->base64 = v == "base64";
    } else if (field_ == "dimensions" && !v.is_null()) {
      if (!v.is_number_integer()) return fail(bad_request("dimensions must be an integer", "dimensions"));
      out_->dimensions = v.get<int64_t>();
    }
    return true;
  }

  static constexpr size_t kMaxValues = 256;  // in one item or field: content parts hold a few

  Api api_;
  const ParseLimits& limits_;
  EmbedRequest* out_;
  MemoryBudget::Hold* memory_;
  int depth_ = 0;
  std::string field_;
  bool in_input_list_ = false, building_ = false;
  int skip_from_ = 0;
  size_t items_ = 0;       // in the whole request (Weaviate's lists count together)
  size_t list_items_ = 0;  // in the list being read
  ValueBuilder builder_{kMaxValues};
};

}  // namespace

std::optional<ApiError> parse_embed_request(std::string_view body, Api api, const ParseLimits& limits, EmbedRequest* out,
                                            MemoryBudget::Hold* memory) {
  RequestReader reader(api, limits, out, memory);
  const bool ok = json::sax_parse(body.begin(), body.end(), &reader, nlohmann::json::input_format_t::json, /*strict=*/true);
  if (reader.error) return reader.error;
  if (!ok) return bad_request("the body is not valid JSON");
  if (api == Api::kWeaviate) {
    if (out->items.empty()) return bad_request("nothing to vectorize: texts, images, audio or video is required", "texts");
    return std::nullopt;
  }
  if (!reader.have_input) return bad_request("input is required", "input");
  return std::nullopt;
}

}  // namespace cc
