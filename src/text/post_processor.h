// tokenizer.json's RobertaProcessing post-processor, which both tokenizers use: the ids of the
// tokens put around the content ("cls" and "sep", each a ["<token>", id] pair).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cc {

// Reads post["cls"][1] and post["sep"][1]; `post` holds both keys. Refused unless each is an
// int: a short list is not read past, and a float is not converted.
Status read_cls_sep_ids(const nlohmann::json& post, int32_t* cls, int32_t* sep);

}  // namespace cc
