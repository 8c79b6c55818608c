// The Unicode facts the tokenizers need, from utf8proc: UTF-8 decoding, NFC, general
// categories, White_Space, and lowercase as Rust's char::to_lowercase does it.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace cc {

// Fails on malformed UTF-8 (overlong forms, surrogates, truncated sequences), naming the byte.
Status check_utf8(std::string_view text);
Result<std::u32string> decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t c);
std::string encode_utf8(std::u32string_view text);

Result<std::string> nfc(std::string_view text);

bool is_letter(char32_t c);       // \p{L}
bool is_number(char32_t c);       // \p{N}
bool is_white_space(char32_t c);  // \s in the Oniguruma regexes of tokenizer.json: Unicode White_Space
bool is_starter(char32_t c);      // canonical combining class 0: normalisation never moves or merges it backwards

// Full lowercase mapping of one character (Rust's char::to_lowercase, which the HF
// `Lowercase` normalizer applies per character: no context-dependent final sigma).
void append_lowercase(std::u32string& out, char32_t c);

}  // namespace cc
