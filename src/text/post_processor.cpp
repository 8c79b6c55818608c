#include "text/post_processor.h"

#include "core/config.h"

namespace cc {

Status read_cls_sep_ids(const nlohmann::json& post, int32_t* cls, int32_t* sep) {
  const auto& c = post["cls"];
  const auto& s = post["sep"];
  if (!c.is_array() || c.size() < 2 || !s.is_array() || s.size() < 2)
    return error("post_processor: cls and sep must be [token, id] pairs");
  const auto c_id = config_int_value(c[1], "cls"), s_id = config_int_value(s[1], "sep");
  if (!c_id.ok() || !s_id.ok()) return error("post_processor: the cls and sep ids must be integers");
  *cls = *c_id;
  *sep = *s_id;
  return Ok{};
}

}  // namespace cc
